import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { isLongKTransposedA, LONG_K } from './matMulWgsl.js';
import { programsOf } from './programs.testutil.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

/** `a^T b` in float64 for `a [k, m]`, `b [k, n]`. */
function transposedAProduct(a: Float32Array, b: Float32Array, k: number, m: number, n: number): Float64Array {
  const out = new Float64Array(m * n);
  for (let r = 0; r < k; r++) {
    for (let i = 0; i < m; i++) {
      const av = a[r * m + i]!;
      for (let j = 0; j < n; j++) out[i * n + j] = out[i * n + j]! + av * b[r * n + j]!;
    }
  }
  return out;
}

describe('isLongKTransposedA', () => {
  const info = (shape: number[], dtype: tf.DataType = 'float32') => ({ shape, dtype, dataId: {} }) as tf.TensorInfo;
  it('takes long-K, batch-1, float32 a^T b only', () => {
    expect(isLongKTransposedA(info([1, LONG_K - 1, 128]), info([1, LONG_K - 1, 384]), true, false)).toBe(false);
    expect(isLongKTransposedA(info([1, LONG_K, 128]), info([1, LONG_K, 384]), true, false)).toBe(true);
    expect(isLongKTransposedA(info([1, 16384, 128]), info([1, 16384, 384]), true, false)).toBe(true);
    expect(isLongKTransposedA(info([16384, 128]), info([16384, 384]), true, false)).toBe(true);
    expect(isLongKTransposedA(info([1, 16384, 128]), info([1, 16384, 384]), false, false)).toBe(false);
    expect(isLongKTransposedA(info([1, 16384, 128]), info([1, 384, 16384]), true, true)).toBe(false);
    expect(isLongKTransposedA(info([2, 16384, 128]), info([2, 16384, 384]), true, false)).toBe(false);
    expect(isLongKTransposedA(info([1, 16384, 128], 'int32'), info([1, 16384, 384]), true, false)).toBe(false);
    // K not 8x the result's larger side: enough output tiles for tfjs's kernel.
    expect(isLongKTransposedA(info([1, 8192, 2048]), info([1, 8192, 8]), true, false)).toBe(false);
  });
});

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("webgpu BatchMatMul with matMul: 'wgsl' (the default)", () => {
  it('computes a dense layer weight gradient (long-K a^T b) by the split-K GEMM, matching float64', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(77);
    try {
      await selectBackend('webgpu');
      // Result sizes off the 64x64 tile (70 x 36, 5 x 9 with scalar loads), K split into slabs.
      for (const [k, m, n] of [
        [6000, 70, 36],
        [5000, 5, 9],
      ] as const) {
        const av = rng.fillNormal(new Float32Array(k * m));
        const bv = rng.fillNormal(new Float32Array(k * n));
        const [a, b] = [tf.tensor2d(av, [k, m]), tf.tensor2d(bv, [k, n])];
        const ref = transposedAProduct(av, bv, k, m, n);
        const { out, programs } = await programsOf(() => tf.matMul(a, b, true, false));
        expect(out.shape).toEqual([m, n]);
        expect(programs, `${k} ${m} ${n}`).toContain('FilterGradProgram');
        expectClose(await out.data(), ref, { rtol: 1e-4, atol: 1e-3, label: `a^T b ${k}x${m}x${n}` });
        await expectNoLeak(() => tf.matMul(a, b, true, false), `a^T b ${k}x${m}x${n}`);
        // Through a dense layer's gradient: dW = x^T dy.
        const dW = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, w as tf.Tensor2D), b)))(tf.zeros([m, n]));
        expectClose(await dW.data(), ref, { rtol: 1e-4, atol: 1e-3, label: `dense dW ${k}x${m}x${n}` });
        // Through tf.fused.matMul with a bias (what @mtd/nn's linear runs): its gradient's dW too.
        const fusedGrad = await programsOf(() => tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.fused.matMul({ a, b: w as tf.Tensor2D, bias: tf.zeros([n]) }), b)))(tf.zeros([m, n])));
        expect(fusedGrad.programs, `fused ${k} ${m} ${n}`).toContain('FilterGradProgram');
        expectClose(await fusedGrad.out.data(), ref, { rtol: 1e-4, atol: 1e-3, label: `fused dense dW ${k}x${m}x${n}` });
        fusedGrad.out.dispose();
        // A short K stays with tfjs's kernel.
        const short = await programsOf(() => tf.matMul(tf.slice(a, 0, 64), tf.slice(b, 0, 64), true, false));
        expect(short.programs).not.toContain('FilterGradProgram');
        tf.dispose([a, b, out, dW, short.out]);
      }
      // 'tfjs': tfjs's kernel for all.
      await selectBackend('webgpu', { webgpu: { matMul: 'tfjs' } });
      const [a, b] = [tf.ones([6000, 8]), tf.ones([6000, 4])];
      const off = await programsOf(() => tf.matMul(a, b, true, false));
      expect(off.programs).not.toContain('FilterGradProgram');
      expectClose(await off.out.data(), new Array(32).fill(6000), { rtol: 1e-6, atol: 0, label: 'tfjs kernel' });
      tf.dispose([a, b, off.out]);
      await expect(selectBackend('webgpu', { webgpu: { matMul: 'cublas' as 'wgsl' } })).rejects.toThrow(/options\.webgpu\.matMul must be 'tfjs' or 'wgsl', got cublas/);
    } finally {
      await selectBackend('webgpu');
    }
  });
});
