import { Matrix } from 'ml-matrix';
import { checkFeatureRows, type FeatureRows } from './check.js';

/** A Gaussian fit to a feature set, in float64. */
export interface GaussianFit {
  /** Number of samples the fit was made from. */
  readonly n: number;
  /** Mean, length `d`. */
  readonly mean: Float64Array;
  /** Unbiased covariance (divides by `n - 1`, like `numpy.cov`), `d x d`, exactly symmetric. */
  readonly covariance: Matrix;
}

/**
 * Mean and unbiased covariance of `rows` (one sample per row), in float64.
 *
 * Two passes (mean first, then centred products) rather than the one-pass sum of squares, whose
 * cancellation loses most digits when the mean is large against the spread. Only the upper
 * triangle is accumulated and then mirrored, so the result is symmetric to the last bit, which the
 * symmetric eigen-solver in `frechetDistance` relies on.
 */
export function gaussianFit(rows: FeatureRows): GaussianFit {
  const { n, d } = checkFeatureRows('gaussianFit', 'rows', rows, 2);
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    for (let j = 0; j < d; j++) mean[j]! += row[j]!;
  }
  for (let j = 0; j < d; j++) mean[j]! /= n;

  const cov = new Float64Array(d * d);
  const centred = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    for (let j = 0; j < d; j++) centred[j] = row[j]! - mean[j]!;
    for (let a = 0; a < d; a++) {
      const ca = centred[a]!;
      if (ca === 0) continue;
      const base = a * d;
      for (let b = a; b < d; b++) cov[base + b]! += ca * centred[b]!;
    }
  }
  const covariance = new Matrix(d, d);
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      const v = cov[a * d + b]! / (n - 1);
      covariance.set(a, b, v);
      covariance.set(b, a, v);
    }
  }
  return { n, mean, covariance };
}
