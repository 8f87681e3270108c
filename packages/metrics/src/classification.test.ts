import { createRng } from '@mtd/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { classificationAccuracy, topKAccuracy } from './classification.js';

describe('topKAccuracy / classificationAccuracy', () => {
  const scores = [
    [0.1, 0.5, 0.2, 0.9, 0.0, 0.3], // order 3,1,5,2,0,4
    [2, 1, 0, -1, -2, -3], // order 0,1,2,3,4,5
    [0, 0, 0, 0, 0, 1], // 5 first, then ties in index order 0,1,2,3,4
  ];

  it('counts the true class among the k best, hand-computed', () => {
    const labels = [1, 5, 4];
    // Ranks: 1 (second best), 5 (last), 5 (after class 5 and the tied 0..3).
    expect(topKAccuracy(scores, labels, 1)).toBe(0);
    expect(topKAccuracy(scores, labels, 2)).toBeCloseTo(1 / 3, 15);
    expect(topKAccuracy(scores, labels, 5)).toBeCloseTo(1 / 3, 15);
    expect(topKAccuracy(scores, labels, 6)).toBe(1);
    expect(classificationAccuracy(scores, [3, 0, 5])).toEqual({ top1: 1, top5: 1 });
    expect(classificationAccuracy(scores, labels)).toEqual({ top1: 0, top5: 1 / 3 });
  });

  it('does not credit a constant model with every class', () => {
    const flat = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
    const labels = Array.from({ length: 10 }, (_, i) => i);
    expect(topKAccuracy(flat, labels, 1)).toBeCloseTo(0.1, 15);
    expect(classificationAccuracy(flat, labels).top5).toBeCloseTo(0.5, 15);
  });

  it('matches sorting by (score desc, index asc) on random scores (property, 100 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 5, max: 12 }), (seed, classes) => {
        const rng = createRng(seed);
        const n = 1 + rng.int(30);
        // Coarse integer scores so ties happen often.
        const s = Array.from({ length: n }, () => Array.from({ length: classes }, () => rng.int(4)));
        const y = Array.from({ length: n }, () => rng.int(classes));
        const k = 1 + rng.int(classes);
        const ref =
          s.filter((row, i) => {
            const order = row.map((v, c) => [v, c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
            return order.slice(0, k).some(([, c]) => c === y[i]);
          }).length / n;
        return topKAccuracy(s, y, k) === ref;
      }),
      { numRuns: 100 },
    );
  });

  it('rejects bad input', () => {
    expect(() => topKAccuracy(scores, [1, 2], 1)).toThrow(/topKAccuracy: labels must have one entry per row of scores \(3\), got 2/);
    expect(() => topKAccuracy(scores, [1, 2, 6], 1)).toThrow(/labels\[2\] must be a class index in 0..5, got 6/);
    expect(() => topKAccuracy(scores, [1, 2, 0.5], 1)).toThrow(/labels\[2\] must be a class index/);
    expect(() => topKAccuracy(scores, [1, 2, 3], 7)).toThrow(/k must be at most the number of classes \(6\), got 7/);
    expect(() => topKAccuracy(scores, [1, 2, 3], 0)).toThrow(/k must be an integer >= 1, got 0/);
    expect(() => classificationAccuracy([[1, 2, 3]], [0])).toThrow(/scores must be rows of at least 5 class scores/);
    expect(() => classificationAccuracy([[1, 2, 3, Number.NaN, 5]], [0])).toThrow(/scores\[0\]\[3\] must be a finite number, got NaN/);
  });
});
