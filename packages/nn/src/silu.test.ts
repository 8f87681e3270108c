import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { siluRef } from './reference.testutil.js';
import { silu } from './silu.js';

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

  it('has the gradient sigmoid(x) (1 + x (1 - sigmoid(x))) (float64 reference)', async () => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(silu(t)))(tf.tensor1d(x));
    const want = x.map((v) => {
      const s = 1 / (1 + Math.exp(-v));
      return s * (1 + v * (1 - s));
    });
    expectClose(await g.data(), want, { rtol: 1e-5, atol: 1e-6, label: 'silu gradient' });
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const t = tf.tensor1d(x);
    await expectNoLeak(async () => {
      silu(t).dispose();
    });
    t.dispose();
  });
});
