import { createRng } from '@mtd/random';
import { expectClose } from '@mtd/testkit';
import { describe, expect, it } from 'vitest';
import { gaussianFit } from './gaussian.js';
import { meanCovReference } from './testing/reference.js';

describe('gaussianFit', () => {
  it('matches the mean and unbiased covariance written out on plain arrays', () => {
    const rng = createRng(11);
    const rows = Array.from({ length: 40 }, () => Array.from({ length: 5 }, () => 3 + rng.normal() * 2));
    const fit = gaussianFit(rows);
    const ref = meanCovReference(rows);
    expect(fit.n).toBe(40);
    expectClose(fit.mean, ref.mean, { rtol: 1e-13, atol: 1e-13, label: 'mean' });
    expectClose(fit.covariance.to1DArray(), ref.cov.flat(), { rtol: 1e-12, atol: 1e-13, label: 'covariance' });
  });

  it('gives the hand-computed result for two points', () => {
    const fit = gaussianFit([
      [1, 2],
      [3, 6],
    ]);
    expect(Array.from(fit.mean)).toEqual([2, 4]);
    // Centred rows (-1, -2) and (1, 2); divided by n - 1 = 1.
    expect(fit.covariance.to2DArray()).toEqual([
      [2, 4],
      [4, 8],
    ]);
  });

  it('keeps its digits when the mean is huge against the spread (two-pass, not sum of squares)', () => {
    const rows = [[1e9 + 1], [1e9 - 1], [1e9 + 1], [1e9 - 1]];
    const fit = gaussianFit(rows);
    expect(fit.covariance.get(0, 0)).toBeCloseTo(4 / 3, 12);
  });

  it('is exactly symmetric', () => {
    const rng = createRng(3);
    const rows = Array.from({ length: 30 }, () => Array.from({ length: 7 }, () => rng.normal()));
    expect(gaussianFit(rows).covariance.isSymmetric()).toBe(true);
  });

  it('rejects too few samples, ragged rows and non-finite values', () => {
    expect(() => gaussianFit([[1, 2]])).toThrow(/gaussianFit: rows must have at least 2 samples.*got 1/);
    expect(() => gaussianFit([])).toThrow(/at least 2 samples.*got 0/);
    expect(() => gaussianFit([[1, 2], [3]])).toThrow(/rows\[1\] must be a row of length 2/);
    expect(() => gaussianFit([[1, 2], [3, Number.NaN]])).toThrow(/rows\[1\]\[1\] must be a finite number, got NaN/);
    expect(() => gaussianFit('no' as never)).toThrow(TypeError);
  });
});
