import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv3x3, im2col3x3, matMul, maxPool2x2 } from './ops.js';

describe('feature-net ops against tfjs built-ins (cpu backend)', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('conv3x3 equals tf.conv2d(same) with the HWIO kernel, values and both gradients', () => {
    const x = tf.randomNormal([2, 6, 5, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([27, 4], 0, 1, 'float32', 2) as tf.Tensor2D;
    const probe = tf.randomNormal([2, 6, 5, 4], 0, 1, 'float32', 3);
    const ours = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => tf.sum(tf.mul(conv3x3(a as tf.Tensor4D, b as tf.Tensor2D), probe));
    const ref = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, tf.reshape(b, [3, 3, 3, 4]) as tf.Tensor4D, 1, 'same'), probe));
    expectClose(conv3x3(x, w).dataSync(), tf.conv2d(x, tf.reshape(w, [3, 3, 3, 4]) as tf.Tensor4D, 1, 'same').dataSync(), {
      rtol: 1e-5,
      atol: 1e-5,
      label: 'conv value',
    });
    const [gx, gw] = tf.grads(ours)([x, w]);
    const [rx, rw] = tf.grads(ref)([x, w]);
    expectClose(gx!.dataSync(), rx!.dataSync(), { rtol: 1e-4, atol: 1e-4, label: 'dx' });
    expectClose(gw!.dataSync(), rw!.dataSync(), { rtol: 1e-4, atol: 1e-4, label: 'dW' });
    const [zx] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(conv3x3(a as tf.Tensor4D, b as tf.Tensor2D, { inputGradient: false })))([x, w]);
    expect(Array.from(zx!.dataSync()).every((v) => v === 0)).toBe(true);
  });

  it('im2col3x3 puts offset (dy, dx) channel c in column (dy*3 + dx)*C + c', () => {
    // 1 x 2 x 2 x 2 input: pixel (i, j) channel c = 10*(2i + j) + c.
    const x = tf.tensor4d([0, 1, 10, 11, 20, 21, 30, 31], [1, 2, 2, 2]);
    const col = im2col3x3(x).arraySync();
    // Pixel (0, 0): offsets with dy = 0 or dx = 0 fall outside; (1,1) is itself, (2,2) is pixel (1,1).
    expect(col[0]!.slice(8, 10)).toEqual([0, 1]);
    expect(col[0]!.slice(16, 18)).toEqual([30, 31]);
    expect(col[0]!.slice(0, 8)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('matMul with its own gradient equals tf.matMul', () => {
    const a = tf.randomNormal([5, 7], 0, 1, 'float32', 4) as tf.Tensor2D;
    const b = tf.randomNormal([7, 3], 0, 1, 'float32', 5) as tf.Tensor2D;
    const probe = tf.randomNormal([5, 3], 0, 1, 'float32', 6);
    const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(matMul(p as tf.Tensor2D, q as tf.Tensor2D), probe)))([a, b]);
    const [ra, rb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p as tf.Tensor2D, q as tf.Tensor2D), probe)))([a, b]);
    expectClose(matMul(a, b).dataSync(), tf.matMul(a, b).dataSync(), { rtol: 1e-6, atol: 1e-6 });
    expectClose(ga!.dataSync(), ra!.dataSync(), { rtol: 1e-6, atol: 1e-6 });
    expectClose(gb!.dataSync(), rb!.dataSync(), { rtol: 1e-6, atol: 1e-6 });
  });

  it('maxPool2x2 equals a reshape + max formulation, values and gradient, and a hand case', () => {
    const x = tf.randomNormal([2, 4, 6, 3], 0, 1, 'float32', 7) as tf.Tensor4D;
    // Reference: the max over each 2x2 block through reshapes (gradient: the Max reduction's).
    const reference = (a: tf.Tensor): tf.Tensor =>
      tf.max(tf.max(tf.reshape(a, [2, 2, 2, 3, 2, 3]), 4), 2);
    expectClose(maxPool2x2(x).dataSync(), reference(x).dataSync(), { rtol: 0, atol: 0 });
    const probe = tf.randomNormal([2, 2, 3, 3], 0, 1, 'float32', 8);
    const ours = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(maxPool2x2(a as tf.Tensor4D), probe)))(x);
    const ref = tf.grad((a: tf.Tensor) => tf.sum(tf.mul(reference(a), probe)))(x);
    expectClose(ours.dataSync(), ref.dataSync(), { rtol: 1e-6, atol: 1e-6, label: 'd maxPool' });
    const hand = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 4, 1]);
    expect(Array.from(maxPool2x2(hand).dataSync())).toEqual([6, 8]);
  });

  it('leaks nothing, forward or backward', async () => {
    const x = tf.randomNormal([1, 4, 4, 2]) as tf.Tensor4D;
    const w = tf.variable(tf.randomNormal([18, 2]));
    await expectNoLeak(() => conv3x3(x, w as tf.Tensor2D), 'conv3x3');
    await expectNoLeak(() => maxPool2x2(x), 'maxPool2x2');
    await expectNoLeak(() => tf.tidy(() => matMul(w as tf.Tensor2D, tf.reshape(w, [2, 18]))), 'matMul');
    await expectNoLeak(() => {
      return tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => tf.sum(maxPool2x2(conv3x3(x, w as tf.Tensor2D))), [w]);
        return [value, ...Object.values(grads)];
      });
    }, 'backward');
    tf.dispose([x, w]);
  });
});
