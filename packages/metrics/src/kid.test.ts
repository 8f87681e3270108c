import { createRng } from '@mtd/random';
import { describe, expect, it } from 'vitest';
import { kid } from './kid.js';

/** The unbiased estimator written out with full double loops on plain arrays. */
function mmdReference(x: number[][], y: number[][]): number {
  const d = x[0]!.length;
  const k = (a: number[], b: number[]): number => (a.reduce((s, v, t) => s + v * b[t]!, 0) / d + 1) ** 3;
  const m = x.length;
  let xx = 0;
  let yy = 0;
  let xy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      if (i !== j) {
        xx += k(x[i]!, x[j]!);
        yy += k(y[i]!, y[j]!);
      }
      xy += k(x[i]!, y[j]!);
    }
  }
  return xx / (m * (m - 1)) + yy / (m * (m - 1)) - (2 * xy) / (m * m);
}

describe('kid (unbiased MMD^2, cubic kernel)', () => {
  const rng = createRng(31);
  const gauss = (n: number, d: number, mu: number): number[][] =>
    Array.from({ length: n }, () => Array.from({ length: d }, () => mu + rng.normal()));

  it('equals the written-out estimator when a subset is a whole set (order does not matter)', () => {
    const x = gauss(25, 3, 0);
    const y = gauss(25, 3, 0.7);
    const r = kid(x, y, { subsets: 3, subsetSize: 25, seed: 1 });
    const ref = mmdReference(x, y);
    for (const v of r.perSubset) expect(v).toBeCloseTo(ref, 11);
    expect(r.mean).toBeCloseTo(ref, 11);
    expect(r.std).toBeLessThan(1e-12);
    expect(r.subsetSize).toBe(25);
  });

  it('is unbiased: about 0 for samples of one distribution (within 3 standard errors), sometimes negative', () => {
    const values: number[] = [];
    for (let t = 0; t < 200; t++) {
      values.push(kid(gauss(60, 4, 0), gauss(60, 4, 0), { subsets: 1, subsetSize: 60, seed: t }).mean);
    }
    const mean = values.reduce((p, v) => p + v, 0) / values.length;
    const sd = Math.sqrt(values.reduce((p, v) => p + (v - mean) ** 2, 0) / values.length);
    expect(Math.abs(mean)).toBeLessThan((3 * sd) / Math.sqrt(values.length));
    expect(Math.min(...values)).toBeLessThan(0);
    // The same-distribution estimate is far below that of a half-sigma shift.
    const shifted = kid(gauss(60, 4, 0), gauss(60, 4, 0.5), { subsets: 1, subsetSize: 60 }).mean;
    expect(shifted).toBeGreaterThan(10 * ((3 * sd) / Math.sqrt(values.length)));
  });

  it('approaches the population MMD^2 of N(0,1) vs N(mu,1) in 1-D: 3 dm1^2 + 3 dm2^2 + dm3^2', () => {
    // k(x, y) = (xy + 1)^3 has the feature map (1, sqrt3 x, sqrt3 x^2, x^3).
    const mu = 0.5;
    const expected = 3 * mu ** 2 + 3 * mu ** 4 + (mu ** 3 + 3 * mu) ** 2;
    const r = kid(gauss(3000, 1, 0), gauss(3000, 1, mu), { subsets: 30, subsetSize: 1000, seed: 3 });
    expect(r.mean).toBeGreaterThan(0.8 * expected);
    expect(r.mean).toBeLessThan(1.2 * expected);
  });

  it('is reproducible from its seed and changes with it', () => {
    const x = gauss(60, 2, 0);
    const y = gauss(60, 2, 0.3);
    const a = kid(x, y, { subsets: 5, subsetSize: 20, seed: 7 });
    const b = kid(x, y, { subsets: 5, subsetSize: 20, seed: 7 });
    const c = kid(x, y, { subsets: 5, subsetSize: 20, seed: 8 });
    expect(Array.from(a.perSubset)).toEqual(Array.from(b.perSubset));
    expect(Array.from(a.perSubset)).not.toEqual(Array.from(c.perSubset));
  });

  it('caps the subset size at the smaller set', () => {
    expect(kid(gauss(10, 2, 0), gauss(30, 2, 0), { subsets: 2 }).subsetSize).toBe(10);
  });

  it('rejects bad input', () => {
    const x = gauss(5, 2, 0);
    expect(() => kid(x, gauss(5, 3, 0))).toThrow(/kid: featuresA and featuresB must have the same feature size, got 2 and 3/);
    expect(() => kid(x.slice(0, 1), x)).toThrow(/kid: featuresA must have at least 2 samples.*got 1/);
    expect(() => kid(x, x, { subsets: 0 })).toThrow(/options.subsets must be an integer >= 1, got 0/);
    expect(() => kid(x, x, { subsetSize: 1 })).toThrow(/options.subsetSize must be an integer >= 2, got 1/);
    expect(() => kid(x, x, { seed: 0.5 })).toThrow(/options.seed must be a safe integer, got 0.5/);
    expect(() => kid(x, [[1, Number.NaN], ...x])).toThrow(/featuresB\[0\]\[1\] must be a finite number, got NaN/);
  });
});
