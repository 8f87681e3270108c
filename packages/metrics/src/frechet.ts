import { EigenvalueDecomposition, Matrix } from 'ml-matrix';
import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import { checkSameDim, isArrayLike, type FeatureRows } from './check.js';
import { gaussianFit } from './gaussian.js';

/** A covariance given as an ml-matrix `Matrix` or as rows of numbers. */
export type CovarianceInput = Matrix | ArrayLike<ArrayLike<number>>;

/**
 * Relative size below which an eigenvalue of a covariance counts as rounding noise around 0.
 * Eigenvalues of a PSD matrix computed in float64 can come out about `d * eps * ||S||` below
 * zero; anything more negative than this means the input was not a covariance.
 */
const PSD_TOLERANCE = 1e-9;

/**
 * The Frechet (2-Wasserstein) distance between `N(mu1, sigma1)` and `N(mu2, sigma2)`:
 *
 *   `d^2 = |mu1 - mu2|^2 + tr(sigma1) + tr(sigma2) - 2 tr((sigma1 sigma2)^(1/2))`
 *
 * (Dowson & Landau 1982; the FID of Heusel et al. 2017 is this distance between Gaussian fits of
 * two feature sets).
 *
 * The trace of the square root is computed as `tr((A^(1/2) sigma2 A^(1/2))^(1/2))` with
 * `A = sigma1`: `sigma1 sigma2` is similar to the symmetric positive semi-definite matrix
 * `A^(1/2) sigma2 A^(1/2)` (conjugate by `A^(1/2)`; by continuity when `A` is singular), so both
 * have the same eigenvalues, and the trace of the square root is the sum of their square roots.
 * Why this route instead of `sqrtm(sigma1 sigma2)` as in pytorch-fid: the product is not
 * symmetric, its Schur-based square root can come out complex or fail on singular covariances
 * (hence pytorch-fid's retry with `eps * I` added), whereas here both steps are symmetric
 * eigen-decompositions (ml-matrix's Householder tridiagonalisation + QL), which are backward
 * stable and give real eigenvalues; those within rounding noise of 0 (including the slightly
 * negative ones rounding leaves) are set to 0 before the square root (see `denoise`).
 *
 * Everything is float64. The result is not clamped: rounding can leave a value a few ulps below
 * 0 for identical inputs, and hiding that would hide real bugs too.
 */
export function frechetDistance(
  mu1: ArrayLike<number>,
  sigma1: CovarianceInput,
  mu2: ArrayLike<number>,
  sigma2: CovarianceInput,
): number {
  const where = 'frechetDistance';
  const d = checkVector(where, 'mu1', mu1);
  checkSameDim(where, 'mu1', d, 'mu2', checkVector(where, 'mu2', mu2));
  const s1 = checkCovariance(where, 'sigma1', sigma1, d);
  const s2 = checkCovariance(where, 'sigma2', sigma2, d);

  let meanTerm = 0;
  for (let i = 0; i < d; i++) {
    const diff = mu1[i]! - mu2[i]!;
    meanTerm += diff * diff;
  }
  const sqrtS1 = symmetricSqrt(where, 'sigma1', s1);
  const inner = symmetrize(sqrtS1.mmul(s2).mmul(sqrtS1));
  const eig = denoise(checkedEigenvalues(where, 'sigma2', inner));
  let traceSqrt = 0;
  for (const lambda of eig) traceSqrt += Math.sqrt(lambda);
  return meanTerm + s1.trace() + s2.trace() - 2 * traceSqrt;
}

/**
 * FID-style distance between two feature sets: the Frechet distance between their Gaussian fits
 * (mean and unbiased covariance, float64). Both sets need at least 2 samples and the same feature
 * size. This is the bare number; `generationMetrics` labels it with the feature extractor used.
 */
export function fid(featuresA: FeatureRows, featuresB: FeatureRows): number {
  const a = fitOrThrow('fid', 'featuresA', featuresA);
  const b = fitOrThrow('fid', 'featuresB', featuresB);
  checkSameDim('fid', 'featuresA', a.mean.length, 'featuresB', b.mean.length);
  return frechetDistance(a.mean, a.covariance, b.mean, b.covariance);
}

/** Re-throws gaussianFit's errors under the caller's name and argument. */
export function fitOrThrow(where: string, arg: string, rows: FeatureRows): ReturnType<typeof gaussianFit> {
  try {
    return gaussianFit(rows);
  } catch (e) {
    if (e instanceof Error) {
      const message = e.message.replace(/^gaussianFit: rows/, `${where}: ${arg}`);
      throw e instanceof TypeError ? new TypeError(message) : new RangeError(message);
    }
    throw e;
  }
}

/** `S^(1/2)` of a symmetric positive semi-definite matrix, through its eigen-decomposition. */
function symmetricSqrt(where: string, arg: string, s: Matrix): Matrix {
  const evd = new EigenvalueDecomposition(s, { assumeSymmetric: true });
  checkPsd(where, arg, evd.realEigenvalues);
  const values = denoise(evd.realEigenvalues);
  const v = evd.eigenvectorMatrix;
  const d = s.rows;
  const scaled = new Matrix(d, d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) scaled.set(i, k, v.get(i, k) * Math.sqrt(values[k]!));
  }
  return symmetrize(scaled.mmul(v.transpose()));
}

function checkedEigenvalues(where: string, arg: string, s: Matrix): number[] {
  const values = new EigenvalueDecomposition(s, { assumeSymmetric: true }).realEigenvalues;
  checkPsd(where, arg, values);
  return values;
}

function checkPsd(where: string, arg: string, values: readonly number[]): void {
  let maxAbs = 0;
  let min = Infinity;
  for (const v of values) {
    if (!Number.isFinite(v)) fail(where, arg, 'a finite covariance matrix', v);
    maxAbs = Math.max(maxAbs, Math.abs(v));
    min = Math.min(min, v);
  }
  if (min < -PSD_TOLERANCE * Math.max(maxAbs, 1e-300) * values.length) {
    throw new RangeError(
      `${where}: ${arg} must be positive semi-definite (a covariance matrix), got an eigenvalue of ${min}`,
    );
  }
}

/**
 * Sets eigenvalues within rounding noise of 0 (`|lambda| <= d * eps * max |lambda|`) to exactly 0.
 * The square root magnifies that noise: an eigenvalue of 1e-16 that should be 0 contributes
 * 1e-8 to the trace, which is what a rank-deficient covariance (fewer samples than features, a
 * feature that never fires) would otherwise add to the distance.
 */
function denoise(values: readonly number[]): number[] {
  let maxAbs = 0;
  for (const v of values) maxAbs = Math.max(maxAbs, Math.abs(v));
  const floor = values.length * Number.EPSILON * maxAbs;
  return values.map((v) => (v <= floor ? 0 : v));
}

function symmetrize(m: Matrix): Matrix {
  const d = m.rows;
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      const v = 0.5 * (m.get(i, j) + m.get(j, i));
      m.set(i, j, v);
      m.set(j, i, v);
    }
  }
  return m;
}

function checkVector(where: string, arg: string, v: unknown): number {
  if (!isArrayLike(v) || v.length < 1) failType(where, arg, 'a non-empty array of numbers', v);
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    if (typeof x !== 'number' || !Number.isFinite(x)) fail(where, `${arg}[${i}]`, 'a finite number', x);
  }
  return v.length;
}

function checkCovariance(where: string, arg: string, s: unknown, d: number): Matrix {
  let m: Matrix;
  if (Matrix.isMatrix(s)) {
    m = s as Matrix;
  } else {
    if (!isArrayLike(s)) failType(where, arg, `a ${d}x${d} matrix`, s);
    for (let i = 0; i < s.length; i++) {
      if (!isArrayLike(s[i])) failType(where, `${arg}[${i}]`, 'a row of numbers', s[i]);
    }
    const rows = s as ArrayLike<ArrayLike<number>>;
    if (rows.length !== d || (rows[0] as ArrayLike<number>).length !== d) {
      throw new RangeError(
        `${where}: ${arg} must be ${d}x${d} to match the mean, got ${rows.length}x${rows.length > 0 ? rows[0]!.length : 0}`,
      );
    }
    for (let i = 0; i < d; i++) {
      if (rows[i]!.length !== d) fail(where, `${arg}[${i}]`, `a row of length ${d}`, rows[i]);
    }
    m = new Matrix(rows);
  }
  if (m.rows !== d || m.columns !== d) {
    throw new RangeError(`${where}: ${arg} must be ${d}x${d} to match the mean, got ${m.rows}x${m.columns}`);
  }
  let maxAbs = 0;
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      const x = m.get(i, j);
      if (!Number.isFinite(x)) fail(where, `${arg}[${i}][${j}]`, 'a finite number', x);
      maxAbs = Math.max(maxAbs, Math.abs(x));
    }
  }
  for (let i = 0; i < d; i++) {
    for (let j = i + 1; j < d; j++) {
      if (Math.abs(m.get(i, j) - m.get(j, i)) > 1e-9 * maxAbs) {
        throw new RangeError(
          `${where}: ${arg} must be symmetric (a covariance matrix), got ${arg}[${i}][${j}] = ${m.get(i, j)} and ${arg}[${j}][${i}] = ${m.get(j, i)}`,
        );
      }
    }
  }
  // A private copy: symmetrising or any later in-place step must never touch the caller's matrix.
  return symmetrize(m.clone());
}
