import { createRng } from '@mtd/random';
import fc from 'fast-check';
import { Matrix } from 'ml-matrix';
import { describe, expect, it } from 'vitest';
import { fid, frechetDistance } from './frechet.js';
import { gaussianFit } from './gaussian.js';
import {
  frechetReference,
  gaussianSamples,
  identity,
  matmul,
  randomSpd,
  transpose,
  type Mat,
} from './testing/reference.js';

const diag = (v: number[]): Mat => v.map((x, i) => v.map((_, j) => (i === j ? x : 0)));

describe('frechetDistance (closed forms)', () => {
  it('N(0, I) against N(1, I) in d dimensions is d', () => {
    for (const d of [1, 2, 5, 16]) {
      const zero = new Array<number>(d).fill(0);
      const one = new Array<number>(d).fill(1);
      expect(frechetDistance(zero, identity(d), one, identity(d))).toBeCloseTo(d, 12);
    }
  });

  it('diagonal covariances: |dmu|^2 + sum (sqrt a_i - sqrt b_i)^2', () => {
    const a = [1, 4, 9, 0.25, 2];
    const b = [4, 1, 16, 1, 2];
    const mu1 = [0, 1, 2, 3, 4];
    const mu2 = [1, 1, 0, 3, 4.5];
    let expected = 1 + 0 + 4 + 0 + 0.25;
    for (let i = 0; i < a.length; i++) expected += (Math.sqrt(a[i]!) - Math.sqrt(b[i]!)) ** 2;
    expect(frechetDistance(mu1, diag(a), mu2, diag(b))).toBeCloseTo(expected, 12);
  });

  it('a scaled covariance: S2 = c S1 gives (1 - sqrt c)^2 tr S1', () => {
    const rng = createRng(5);
    const s1 = randomSpd(6, () => rng.uniform());
    const c = 2.25;
    const s2 = s1.map((r) => r.map((x) => c * x));
    const tr = s1.reduce((s, r, i) => s + r[i]!, 0);
    const mu = new Array<number>(6).fill(0.5);
    expect(frechetDistance(mu, s1, mu, s2)).toBeCloseTo((1 - 1.5) ** 2 * tr, 10);
  });

  it('a singular covariance: S1 = v v^T, S2 = I gives |v|^2 + d - 2|v|', () => {
    const v = [1, 2, 2];
    const s1 = v.map((x) => v.map((y) => x * y));
    const mu = [0, 0, 0];
    expect(frechetDistance(mu, s1, mu, identity(3))).toBeCloseTo(9 + 3 - 2 * 3, 10);
    expect(frechetDistance(mu, identity(3), mu, s1)).toBeCloseTo(9 + 3 - 2 * 3, 10);
  });

  it('is zero for identical Gaussians and accepts ml-matrix matrices', () => {
    const rng = createRng(8);
    const s = randomSpd(10, () => rng.uniform());
    const mu = Array.from({ length: 10 }, () => rng.normal());
    expect(Math.abs(frechetDistance(mu, new Matrix(s), mu, s))).toBeLessThan(1e-10);
  });
});

describe('frechetDistance against the scipy-style sqrtm(S1 S2) reference', () => {
  it('agrees on random SPD pairs and is symmetric (property, 100 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (d, seed) => {
        const rng = createRng(seed);
        const s1 = randomSpd(d, () => rng.uniform(), 0.2);
        const s2 = randomSpd(d, () => rng.uniform(), 0.2);
        const mu1 = Array.from({ length: d }, () => rng.normal());
        const mu2 = Array.from({ length: d }, () => rng.normal());
        const got = frechetDistance(mu1, s1, mu2, s2);
        const ref = frechetReference(mu1, s1, mu2, s2);
        const swapped = frechetDistance(mu2, s2, mu1, s1);
        const tol = 1e-9 * (1 + Math.abs(ref));
        return Math.abs(got - ref) <= tol && Math.abs(swapped - got) <= tol && got >= -1e-9;
      }),
      { numRuns: 100 },
    );
  });
});

describe('fid (feature sets)', () => {
  const rng = createRng(21);
  const d = 8;
  const factor = randomSpd(d, () => rng.uniform());
  const a = gaussianSamples(300, new Array<number>(d).fill(0), factor, () => rng.normal());
  const b = gaussianSamples(250, new Array<number>(d).fill(0.3), transpose(factor), () => rng.normal());

  it('of a set against itself is about 0', () => {
    expect(Math.abs(fid(a, a))).toBeLessThan(1e-9);
  });

  it('equals the Frechet distance of the plain-array fits, and is symmetric', () => {
    const fa = gaussianFit(a);
    const fb = gaussianFit(b);
    const ref = frechetReference(
      Array.from(fa.mean),
      fa.covariance.to2DArray(),
      Array.from(fb.mean),
      fb.covariance.to2DArray(),
    );
    expect(fid(a, b)).toBeCloseTo(ref, 9);
    expect(fid(b, a)).toBeCloseTo(fid(a, b), 9);
  });

  it('a constant shift c of one set adds exactly |c|^2', () => {
    const shift = Array.from({ length: d }, (_, i) => (i % 3) - 1);
    const shifted = a.map((r) => r.map((x, i) => x + shift[i]!));
    const norm2 = shift.reduce((s, x) => s + x * x, 0);
    expect(fid(a, shifted)).toBeCloseTo(norm2, 9);
  });

  it('converges to the population distance for large Gaussian samples', () => {
    // N(0, I) against N(1, 4 I) in 3 dims: 3 + 3 * (1 - 2)^2 = 6.
    const r = createRng(99);
    const x = Array.from({ length: 4000 }, () => [r.normal(), r.normal(), r.normal()]);
    const y = Array.from({ length: 4000 }, () => [1 + 2 * r.normal(), 1 + 2 * r.normal(), 1 + 2 * r.normal()]);
    expect(fid(x, y)).toBeGreaterThan(5.6);
    expect(fid(x, y)).toBeLessThan(6.4);
  });
});

describe('frechetDistance / fid input errors', () => {
  const I2 = identity(2);
  it('names mismatched sizes, too few samples and NaN', () => {
    expect(() => fid([[1, 2], [3, 4]], [[1, 2, 3], [4, 5, 6]])).toThrow(
      /fid: featuresA and featuresB must have the same feature size, got 2 and 3/,
    );
    expect(() => fid([[1, 2]], [[1, 2], [3, 4]])).toThrow(/fid: featuresA must have at least 2 samples.*got 1/);
    expect(() => fid([[1, 2], [3, 4]], [[1, Number.NaN], [3, 4]])).toThrow(
      /fid: featuresB\[0\]\[1\] must be a finite number, got NaN/,
    );
    expect(() => frechetDistance([0, 0], I2, [0, 0, 0], identity(3))).toThrow(/mu1 and mu2 must have the same feature size/);
    expect(() => frechetDistance([0, 0], identity(3), [0, 0], I2)).toThrow(/sigma1 must be 2x2 to match the mean, got 3x3/);
    expect(() => frechetDistance([0, Number.NaN], I2, [0, 0], I2)).toThrow(/mu1\[1\] must be a finite number, got NaN/);
    expect(() => frechetDistance([0, 0], I2, [0, 0], [[1, Number.POSITIVE_INFINITY], [0, 1]])).toThrow(
      /sigma2\[0\]\[1\] must be a finite number, got Infinity/,
    );
  });

  it('refuses a non-symmetric or indefinite "covariance"', () => {
    expect(() => frechetDistance([0, 0], [[1, 0.5], [0, 1]], [0, 0], I2)).toThrow(/sigma1 must be symmetric/);
    expect(() => frechetDistance([0, 0], [[1, 2], [2, 1]], [0, 0], I2)).toThrow(/sigma1 must be positive semi-definite/);
    expect(() => frechetDistance([0, 0], I2, [0, 0], [[-1, 0], [0, 1]])).toThrow(/sigma2 must be positive semi-definite/);
  });

  it('does not modify its inputs', () => {
    const s = new Matrix([[2, 1], [1, 2]]);
    const before = s.to2DArray();
    frechetDistance([0, 0], s, [1, 1], s);
    expect(s.to2DArray()).toEqual(before);
    void matmul;
  });
});
