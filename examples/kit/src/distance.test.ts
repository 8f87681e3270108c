import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cosineDistances, mean, rmsDistances } from './distance.js';

describe('cosineDistances', () => {
  it('is 0 for equal or parallel rows, 1 for orthogonal ones, 2 for opposite ones', () => {
    const a = [Float64Array.from([1, 2]), Float64Array.from([1, 0]), Float64Array.from([1, 1]), Float64Array.from([0, 0])];
    const b = [Float64Array.from([2, 4]), Float64Array.from([0, 3]), Float64Array.from([-1, -1]), Float64Array.from([0, 0])];
    const d = cosineDistances(a, b);
    expect(d[0]).toBeCloseTo(0, 12);
    expect(d[1]).toBeCloseTo(1, 12);
    expect(d[2]).toBeCloseTo(2, 12);
    expect(d[3]).toBe(0);
  });
  it('is symmetric, scale-invariant and in [0, 2] (property)', () => {
    // Hundredths in [-10, 10]: no subnormals, whose scaled copies could round to zero.
    const row = fc.array(fc.integer({ min: -1000, max: 1000 }).map((v) => v / 100), { minLength: 3, maxLength: 3 });
    fc.assert(
      fc.property(row, row, fc.integer({ min: 1, max: 100 }).map((v) => v / 10), (x, y, s) => {
        const a = Float64Array.from(x);
        const b = Float64Array.from(y);
        const d = cosineDistances([a], [b])[0]!;
        expect(d).toBeGreaterThanOrEqual(-1e-12);
        expect(d).toBeLessThanOrEqual(2 + 1e-12);
        expect(cosineDistances([b], [a])[0]).toBeCloseTo(d, 10);
        expect(cosineDistances([a.map((v) => v * s)], [b])[0]).toBeCloseTo(d, 9);
      }),
      { numRuns: 100 },
    );
  });
  it('names the bad argument', () => {
    expect(() => cosineDistances([new Float64Array(2)], [])).toThrow(/cosineDistances: a and b must hold as many rows, got 1 and 0/);
  });
});

describe('rmsDistances and mean', () => {
  it('computes the per-image root-mean-square difference', () => {
    const a = Float32Array.from([0, 0, 1, 1]);
    const b = Float32Array.from([3, 4, 1, 1]);
    expect(Array.from(rmsDistances(a, b, 2))).toEqual([Math.sqrt(12.5), 0]);
    expect(mean([1, 2, 6])).toBe(3);
    expect(mean([])).toBeNaN();
    expect(() => rmsDistances(a, b, 3)).toThrow(/rmsDistances: a and b must both hold n \* P values/);
  });
});
