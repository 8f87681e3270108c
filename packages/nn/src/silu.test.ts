import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { siluRef } from './reference.testutil.js';
import { SILU_KERNEL, silu } from './silu.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('silu', () => {
  const x = [-30, -4, -1, -0.25, 0, 0.25, 1, 4, 30];

  it('is x * sigmoid(x) (float64 reference), keeping the input shape', async () => {
    const y = silu(tf.tensor2d(x, [3, 3]));
    expect(y.shape).toEqual([3, 3]);
    expectClose(await y.data(), siluRef(x), { rtol: 1e-6, atol: 1e-7, label: 'silu' });
  });

  for (const analyticGradient of [false, true]) {
    it(`has the gradient sigmoid(x) (1 + x (1 - sigmoid(x))) (float64 reference; ${analyticGradient ? 'closed form' : 'autodiff'}), the same forward, no leaks`, async () => {
      const t = tf.tensor1d(x);
      const g = tf.grad((u: tf.Tensor) => tf.sum(silu(u, { analyticGradient })))(t);
      const want = x.map((v) => {
        const s = 1 / (1 + Math.exp(-v));
        return s * (1 + v * (1 - s));
      });
      expectClose(await g.data(), want, { rtol: 1e-5, atol: 1e-6, label: 'silu gradient' });
      const a = silu(t, { analyticGradient });
      const b = silu(t, { analyticGradient: !analyticGradient });
      expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
      await expectNoLeak(() => tf.grad((u: tf.Tensor) => tf.sum(silu(u, { analyticGradient })))(t), 'gradient');
      tf.dispose([t, g, a, b]);
    });
  }

  it('closed form: fewer kernels than autodiff; a bad option is named', async () => {
    const t = tf.ones([4, 4]);
    const count = async (analyticGradient: boolean) =>
      (await tf.profile(() => tf.grad((u: tf.Tensor) => tf.sum(silu(u, { analyticGradient })))(t))).kernels.filter((k) => k.name !== 'Reshape' && k.name !== 'Identity').length;
    const closed = await count(true);
    const auto = await count(false);
    expect(closed).toBeLessThan(auto);
    expect(() => silu(t, { analyticGradient: 1 as unknown as boolean })).toThrow(/silu: options.analyticGradient must be a boolean/);
    t.dispose();
  });

  it('uses the fused kernels only where the backend registered them (their tests live in @mtd/backend and @mtd/train)', async () => {
    const t = tf.tensor1d(x);
    expect(tf.getKernel(SILU_KERNEL, tf.getBackend())).toBeUndefined();
    const info = await tf.profile(() => silu(t, { analyticGradient: true }));
    expect(info.kernels.map((k) => k.name)).not.toContain(SILU_KERNEL);
    // Asked for without a registered kernel: tfjs's own error names the kernel.
    expect(() => silu(t, { analyticGradient: true, fused: true })).toThrow(/MtdSilu/);
    expect(() => silu(t, { analyticGradient: true, fused: 'yes' as unknown as boolean })).toThrow(/silu: options.fused must be a boolean/);
    tf.dispose([t, info.result as tf.Tensor]);
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const t = tf.tensor1d(x);
    await expectNoLeak(async () => {
      silu(t).dispose();
    });
    t.dispose();
  });
});
