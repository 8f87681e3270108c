import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { ADAM_UPDATE_KERNEL, type AdamUpdateAttrs } from './adamUpdateWgsl.js';
import { programsOf } from './programs.testutil.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

/** The contract's step in float64: [p', m', v'] (unchanged where `keep` is false). */
function adamRef(p: Float32Array, m: Float32Array, v: Float32Array, g: Float32Array, scale: number, a: AdamUpdateAttrs, keep: boolean): Float64Array {
  const n = p.length;
  const out = new Float64Array(3 * n);
  for (let i = 0; i < n; i++) {
    const gs = g[i]! * scale;
    const m1 = a.beta1 * m[i]! + (1 - a.beta1) * gs;
    const v1 = a.beta2 * v[i]! + (1 - a.beta2) * gs * gs;
    const p1 = p[i]! * a.decay - (a.stepSize * m1) / (Math.sqrt(v1) * a.invSqrtBc2 + a.epsilon);
    out[i] = keep ? p1 : p[i]!;
    out[n + i] = keep ? m1 : m[i]!;
    out[2 * n + i] = keep ? v1 : v[i]!;
  }
  return out;
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("MtdAdamUpdate (webgpu, selectBackend's optimizer: 'wgsl')", () => {
  it('is one program that matches the float64 step, keeps everything where the guard is false, and leaks nothing', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(5);
    try {
      await selectBackend('webgpu');
      // Not a multiple of the 64-thread workgroup.
      const n = 1000;
      const [pv, mv, gv] = [rng.fillNormal(new Float32Array(n)), rng.fillNormal(new Float32Array(n), 0, 0.1), rng.fillNormal(new Float32Array(n))];
      const vv = Float32Array.from(rng.fillNormal(new Float32Array(n)), (x) => 0.01 * x * x);
      const attrs: AdamUpdateAttrs = { beta1: 0.9, beta2: 0.999, epsilon: 1e-8, stepSize: 2e-4 / (1 - 0.9 ** 3), invSqrtBc2: 1 / Math.sqrt(1 - 0.999 ** 3), decay: 1 - 2e-4 * 0.01 };
      const [p, m, v, g] = [tf.tensor1d(pv), tf.tensor1d(mv), tf.tensor1d(vv), tf.tensor1d(gv)];
      const scale = tf.scalar(0.5);
      for (const guard of [undefined, true, false]) {
        const guardT = guard === undefined ? undefined : tf.scalar(guard, 'bool');
        const inputs = { p, m, v, g, scale, ...(guardT === undefined ? {} : { guard: guardT }) };
        const run = () => tf.engine().runKernel(ADAM_UPDATE_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
        const { out, programs } = await programsOf(run);
        expect(programs, `guard ${String(guard)}`).toEqual(['AdamUpdateProgram']);
        expect(out.shape).toEqual([3 * n]);
        expectClose(await out.data(), adamRef(pv, mv, vv, gv, 0.5, attrs, guard !== false), { rtol: 1e-5, atol: 1e-6, label: `guard ${String(guard)}` });
        await expectNoLeak(run, `guard ${String(guard)}`);
        tf.dispose([out, ...(guardT === undefined ? [] : [guardT])]);
      }
      // The per-step coefficients as an input (a step graph's): the same result bit for bit, the
      // attrs of those names unused.
      const coefficients = tf.tensor1d([attrs.stepSize, attrs.invSqrtBc2, attrs.decay]);
      const fromAttrs = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v, g, scale }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      const fromInput = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v, g, scale, coefficients }, { ...attrs, stepSize: 0, invSqrtBc2: 0, decay: 0 } as unknown as tf.NamedAttrMap) as tf.Tensor;
      expect(Array.from(await fromInput.data())).toEqual(Array.from(await fromAttrs.data()));
      expect(() => tf.tidy(() => tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v, g, scale, coefficients: tf.zeros([2]) }, attrs as unknown as tf.NamedAttrMap))).toThrow(/MtdAdamUpdate: inputs\.coefficients must be float32 \[3\] \(stepSize, invSqrtBc2, decay\) when given, got float32 \[2\]/);
      tf.dispose([coefficients, fromAttrs, fromInput]);
      // A NaN gradient behind a false guard changes nothing (selected, not multiplied by 0).
      const gNaN = tf.fill([n], Number.NaN);
      const off = tf.scalar(false, 'bool');
      const kept = tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v, g: gNaN, scale, guard: off }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor;
      expectClose(await kept.data(), [...pv, ...mv, ...vv], { rtol: 0, atol: 0, label: 'NaN behind a false guard' });
      expect(() => tf.tidy(() => tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v: tf.zeros([n - 1]), g, scale }, attrs as unknown as tf.NamedAttrMap))).toThrow(/MtdAdamUpdate: inputs\.v must be float32 \[1000\] like inputs\.p, got float32 \[999\]/);
      expect(() => tf.engine().runKernel(ADAM_UPDATE_KERNEL, { p, m, v, g, scale }, { ...attrs, stepSize: Number.NaN } as unknown as tf.NamedAttrMap)).toThrow(/MtdAdamUpdate: attrs must be finite numbers/);
      tf.dispose([p, m, v, g, scale, gNaN, off, kept]);
      // 'ops': nothing registered.
      await selectBackend('webgpu', { webgpu: { optimizer: 'ops' } });
      expect(tf.getKernel(ADAM_UPDATE_KERNEL, 'webgpu')).toBeUndefined();
      await expect(selectBackend('webgpu', { webgpu: { optimizer: 'fused' as 'wgsl' } })).rejects.toThrow(/options\.webgpu\.optimizer must be 'ops' or 'wgsl', got fused/);
    } finally {
      await selectBackend('webgpu');
    }
  });
});
