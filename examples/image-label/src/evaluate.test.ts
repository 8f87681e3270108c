import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { cosineSchedule } from '@mtd/schedule';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { accuracyOf, agreement, argmaxRows, classHistogram, noisyImages, softmaxOf } from './evaluate.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('accuracyOf', () => {
  it('matches a hand count of top-1 and top-5 hits', () => {
    // 4 examples, 6 classes. Ranks of the true class: 0, 2, 5, 4.
    const scores = Float32Array.from([
      /* y=0 */ 0.9, 0.1, 0, 0, 0, 0,
      /* y=1 */ 0.5, 0.2, 0.4, 0.1, 0, 0,
      /* y=2 */ 0.2, 0.3, 0.01, 0.4, 0.5, 0.6,
      /* y=3 */ 0.6, 0.5, 0.4, 0.2, 0.3, 0.1,
    ]);
    const { top1, top5 } = accuracyOf(scores, [0, 1, 2, 3], 6);
    expect(top1).toBe(1 / 4);
    expect(top5).toBe(3 / 4);
  });

  it('breaks ties like argmax (a constant score row is right for class 0 only)', () => {
    const scores = new Float32Array(3 * 10).fill(0.1);
    expect(accuracyOf(scores, [0, 4, 9], 10).top1).toBe(1 / 3);
    expect(accuracyOf(scores, [0, 4, 9], 10).top5).toBe(2 / 3);
  });

  it('agrees with argmaxRows for top-1 (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.float({ min: -5, max: 5, noNaN: true }), { minLength: 50, maxLength: 50 }), fc.array(fc.integer({ min: 0, max: 9 }), { minLength: 5, maxLength: 5 }), (values, labels) => {
        const scores = Float32Array.from(values);
        const predicted = argmaxRows(scores, 10);
        const hits = labels.filter((y, i) => predicted[i] === y).length;
        expect(accuracyOf(scores, labels, 10).top1).toBe(hits / 5);
        expect(accuracyOf(scores, labels, 10).top5).toBeGreaterThanOrEqual(hits / 5);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects mismatched sizes', () => {
    expect(() => accuracyOf(new Float32Array(9), [0], 10)).toThrow(/accuracyOf: scores must hold labels.length \* classes = 10 values, got 9/);
    expect(() => accuracyOf(new Float32Array(4), [0], 4)).toThrow(/accuracyOf: classes must be an integer >= 5/);
  });
});

describe('argmaxRows, classHistogram, agreement', () => {
  it('count by hand', () => {
    expect(Array.from(argmaxRows(Float64Array.from([1, 3, 2, 5, 5, 0]), 3))).toEqual([1, 0]);
    expect(classHistogram([2, 0, 2, 2, 1], 4)).toEqual([1, 1, 3, 0]);
    expect(agreement([1, 2, 3, 4], [1, 0, 3, 0])).toBe(0.5);
  });

  it('reject bad input with the argument named', () => {
    expect(() => argmaxRows(new Float32Array(5), 2)).toThrow(/argmaxRows: scores must hold a whole number of rows of 2 classes, got 5 values/);
    expect(() => classHistogram([3], 3)).toThrow(/classHistogram: labels\[0\] must be a class index in 0..2, got 3/);
    expect(() => agreement([1], [1, 2])).toThrow(/agreement: a and b must be non-empty and of equal length, got 1 and 2/);
  });
});

describe('softmaxOf', () => {
  const size = 2;
  const n = 5;
  const images = Float32Array.from({ length: n * size * size }, (_, i) => (i % 7) / 7 - 0.5);
  // A fixed linear "classifier": logits = flatten(x) @ W, W [4, 3].
  const w = [1, 0, -1, 0.5, 2, 0, -1, 1, 1, 0, -0.5, 2];
  const logits = (x: tf.Tensor4D) => tf.tidy(() => tf.matMul(tf.reshape(x, [x.shape[0], 4]), tf.tensor2d(w, [4, 3])) as tf.Tensor2D);

  it('gives the float64 softmax of each row, the same for every batch size', async () => {
    const want: number[] = [];
    for (let i = 0; i < n; i++) {
      const z = [0, 1, 2].map((k) => [0, 1, 2, 3].reduce((s, p) => s + images[i * 4 + p]! * w[p * 3 + k]!, 0));
      const m = Math.max(...z);
      const e = z.map((v) => Math.exp(v - m));
      const sum = e.reduce((a, b) => a + b, 0);
      want.push(...e.map((v) => v / sum));
    }
    for (const batchSize of [1, 2, 5, 8]) expectClose(await softmaxOf(logits, images, n, size, batchSize), want, { rtol: 1e-5, atol: 1e-6, label: `batch ${batchSize}` });
  });

  it('leaves no tensors behind', async () => {
    await expectNoLeak(async () => {
      await softmaxOf(logits, images, n, size, 2);
    });
  });

  it('rejects too few images', async () => {
    await expect(softmaxOf(logits, images, 6, size, 2)).rejects.toThrow(/softmaxOf: images must hold n \* size \* size = 24 values, got 20/);
  });
});

describe('noisyImages', () => {
  const schedule = cosineSchedule({ T: 100 });

  it('is sqrt(alphaBar_t) x + sqrt(1 - alphaBar_t) eps with eps from the seeded stream', () => {
    const x = Float32Array.from([0.5, -1, 0.25, 1]);
    const t = 37;
    const got = noisyImages(x, t, schedule, createRng(9));
    const eps = createRng(9).fillNormal(new Float64Array(4));
    const ab = schedule.alphaBars[t - 1]!;
    expectClose(got, Array.from(x, (v, i) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * eps[i]!), { rtol: 1e-6, atol: 1e-7 });
  });

  it('returns a copy of the images at t = 0 and rejects t outside 0..T', () => {
    const x = Float32Array.from([0.5, -1]);
    const y = noisyImages(x, 0, schedule, createRng(1));
    expect(Array.from(y)).toEqual(Array.from(x));
    expect(y).not.toBe(x);
    expect(() => noisyImages(x, 101, schedule, createRng(1))).toThrow(/noisyImages: t must be an integer in 0..100, got 101/);
  });
});
