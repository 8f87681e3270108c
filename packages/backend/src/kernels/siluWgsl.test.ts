import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { SILU_GRAD_KERNEL, SILU_KERNEL } from './siluWgsl.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

/** SiLU and its gradient in float64. */
function siluRef(x: Float32Array, dy: Float32Array): { y: number[]; dx: number[] } {
  const y: number[] = [];
  const dx: number[] = [];
  x.forEach((v, i) => {
    const s = 1 / (1 + Math.exp(-v));
    y.push(v * s);
    dx.push(dy[i]! * s * (1 + v * (1 - s)));
  });
  return { y, dx };
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("the fused SiLU kernels (webgpu, selectBackend's silu: 'wgsl', the default)", () => {
  it('match float64 SiLU and its gradient (large |x| too), leak nothing, and go with silu: tfjs', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(5);
    try {
      await selectBackend('webgpu');
      for (const shape of [[7], [3, 5, 9], [2, 33, 17, 4]]) {
        const size = shape.reduce((a, b) => a * b, 1);
        const xv = rng.fillNormal(new Float32Array(size)).map((v, i) => (i % 11 === 0 ? 40 * v : 3 * v));
        xv[0] = -120;
        if (size > 1) xv[1] = 95;
        const dyv = rng.fillNormal(new Float32Array(size));
        const ref = siluRef(xv, dyv);
        const [x, dy] = [tf.tensor(xv, shape), tf.tensor(dyv, shape)];
        const y = tf.engine().runKernel(SILU_KERNEL, { x }) as tf.Tensor;
        const dx = tf.engine().runKernel(SILU_GRAD_KERNEL, { dy, x }) as tf.Tensor;
        expect([y.shape, dx.shape]).toEqual([shape, shape]);
        expectClose(await y.data(), ref.y, { rtol: 1e-5, atol: 1e-6, label: `y ${shape}` });
        expectClose(await dx.data(), ref.dx, { rtol: 1e-5, atol: 1e-6, label: `dx ${shape}` });
        await expectNoLeak(() => tf.engine().runKernel(SILU_GRAD_KERNEL, { dy, x }) as tf.Tensor, `silu grad ${shape}`);
        tf.dispose([x, dy, y, dx]);
      }
      const [x, dy] = [tf.ones([2, 3]), tf.ones([3, 2])];
      expect(() => tf.engine().runKernel(SILU_GRAD_KERNEL, { dy, x })).toThrow(/MtdSiluGrad: dy must be shaped like x \[2, 3\], got \[3, 2\]/);
      tf.dispose([x, dy]);
      await selectBackend('webgpu', { webgpu: { silu: 'tfjs' } });
      expect(tf.getKernel(SILU_KERNEL, 'webgpu')).toBeUndefined();
      await expect(selectBackend('webgpu', { webgpu: { silu: 'fast' as 'wgsl' } })).rejects.toThrow(/options\.webgpu\.silu must be 'tfjs' or 'wgsl', got fast/);
    } finally {
      await selectBackend('webgpu');
    }
    expect(tf.getKernel(SILU_KERNEL, 'webgpu')).toBeDefined();
  });
});
