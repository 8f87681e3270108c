import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { createRng } from '@mtd/random';
import { beforeAll, describe, expect, it } from 'vitest';
import { noiseLoss } from './noise-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float64 reference: mean over examples of w_b * mean over elements of (a - b)^2. */
function refNoiseLoss(a: Float32Array, b: Float32Array, batch: number, w?: Float32Array): number {
  const per = a.length / batch;
  let total = 0;
  for (let i = 0; i < batch; i++) {
    let s = 0;
    for (let j = 0; j < per; j++) {
      const d = a[i * per + j]! - b[i * per + j]!;
      s += d * d;
    }
    total += (w ? w[i]! : 1) * (s / per);
  }
  return total / batch;
}

describe('noiseLoss (MATH.md 4)', () => {
  const rng = createRng(11);
  const shape = [3, 4, 4, 2];
  const n = 3 * 32;
  const a = rng.fillNormal(new Float32Array(n));
  const b = rng.fillNormal(new Float32Array(n));
  const w = new Float32Array([0.5, 2, 0]);

  it('is the per-example mean squared error, averaged over the batch', async () => {
    const loss = noiseLoss(tf.tensor(a, shape), tf.tensor(b, shape));
    expect(loss.shape).toEqual([]);
    expectClose(await loss.data(), [refNoiseLoss(a, b, 3)], { rtol: 1e-6, label: 'noise loss' });
    tf.dispose(loss);
  });

  it('applies per-example weights without renormalising them', async () => {
    const loss = noiseLoss(tf.tensor(a, shape), tf.tensor(b, shape), { weights: tf.tensor1d(w) });
    expectClose(await loss.data(), [refNoiseLoss(a, b, 3, w)], { rtol: 1e-6, label: 'weighted' });
    expect(refNoiseLoss(a, b, 3, w)).not.toBeCloseTo(refNoiseLoss(a, b, 3), 3);
  });

  it('is zero for a perfect prediction and has gradient 2 (epsHat - eps) / numel', async () => {
    const eps = tf.tensor(a, shape);
    expect((await noiseLoss(eps, eps).data())[0]).toBe(0);
    const g = tf.grad((h: tf.Tensor) => noiseLoss(eps, h))(tf.tensor(b, shape));
    const ref = Array.from(b, (bi, i) => (2 * (bi - a[i]!)) / n);
    expectClose(await g.data(), ref, { rtol: 1e-5, atol: 1e-8, label: 'gradient' });
  });

  it('leaks nothing', async () => {
    const eps = tf.tensor(a, shape);
    const hat = tf.tensor(b, shape);
    const weights = tf.tensor1d(w);
    await expectNoLeak(() => noiseLoss(eps, hat, { weights }), 'noiseLoss');
    tf.dispose([eps, hat, weights]);
  });

  it('rejects bad input with an error naming the argument', () => {
    const eps = tf.zeros([2, 3]);
    expect(() => noiseLoss(eps, tf.zeros([2, 4]))).toThrow(/noiseLoss: epsHat must be a tensor of the shape of eps \[2, 3\], got a float32 tensor of shape \[2, 4\]/);
    expect(() => noiseLoss(eps, tf.zeros([2, 3], 'int32'))).toThrow(/noiseLoss: epsHat must be a float32 tensor/);
    expect(() => noiseLoss([1, 2] as unknown as tf.Tensor, eps)).toThrow(/noiseLoss: eps must be a float32 tensor \[B, \.\.\.\], got an array of length 2/);
    expect(() => noiseLoss(eps, eps, { weights: tf.ones([3]) as tf.Tensor1D })).toThrow(/noiseLoss: options.weights must be a float32 tensor of shape \[2\], got a float32 tensor of shape \[3\]/);
    const gone = tf.zeros([2, 3]);
    gone.dispose();
    expect(() => noiseLoss(gone, eps)).toThrow(/noiseLoss: eps must be .*not disposed/);
  });
});
