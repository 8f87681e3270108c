import { createRng } from '@mtd/random';
import { checkFeatureRows, checkInt, checkSameDim, type FeatureRows } from './check.js';

export interface KidOptions {
  /** Number of random subsets the estimate is averaged over (100 in Binkowski et al.). */
  subsets?: number;
  /** Samples drawn from each set per subset, without replacement; capped at the smaller set (1000 in the reference code). */
  subsetSize?: number;
  /** Seed of the subset draws. */
  seed?: number;
}

export interface Kid {
  /** Mean of the per-subset unbiased MMD^2 estimates. */
  readonly mean: number;
  /** Population standard deviation of the per-subset estimates. */
  readonly std: number;
  /** The subset size actually used. */
  readonly subsetSize: number;
  readonly perSubset: Float64Array;
}

/**
 * Kernel Inception Distance (Binkowski et al. 2018, "Demystifying MMD GANs"): the unbiased
 * estimate of the squared maximum mean discrepancy between two feature sets with the cubic
 * polynomial kernel `k(x, y) = (x . y / d + 1)^3`,
 *
 *   `MMD_u^2 = sum_{i != j} k(x_i, x_j) / (m (m-1)) + sum_{i != j} k(y_i, y_j) / (m (m-1))
 *              - 2 sum_{i, j} k(x_i, y_j) / m^2`,
 *
 * averaged over `subsets` random subsets of `subsetSize` samples from each set. Being unbiased,
 * it is about 0 for two samples of the same distribution and can then be slightly negative.
 * Float64 throughout; the subsets come from `@mtd/random` seeded by `seed`, so a result is
 * reproducible from its options.
 */
export function kid(featuresA: FeatureRows, featuresB: FeatureRows, options: KidOptions = {}): Kid {
  const where = 'kid';
  const { subsets = 100, subsetSize = 1000, seed = 0 } = options;
  checkInt(where, 'options.subsets', subsets, 1);
  checkInt(where, 'options.subsetSize', subsetSize, 2);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${where}: options.seed must be a safe integer, got ${String(seed)}`);
  }
  const a = checkFeatureRows(where, 'featuresA', featuresA, 2);
  const b = checkFeatureRows(where, 'featuresB', featuresB, 2);
  checkSameDim(where, 'featuresA', a.d, 'featuresB', b.d);
  const d = a.d;
  const m = Math.min(subsetSize, a.n, b.n);
  const rng = createRng(seed);
  const x = new Float64Array(m * d);
  const y = new Float64Array(m * d);
  const perSubset = new Float64Array(subsets);
  for (let s = 0; s < subsets; s++) {
    gather(featuresA, rng.permutation(a.n), m, d, x);
    gather(featuresB, rng.permutation(b.n), m, d, y);
    perSubset[s] = unbiasedMmd2(x, y, m, d);
  }
  let mean = 0;
  for (const v of perSubset) mean += v / subsets;
  let variance = 0;
  for (const v of perSubset) variance += (v - mean) ** 2 / subsets;
  return { mean, std: Math.sqrt(variance), subsetSize: m, perSubset };
}

/** Copies the rows `order[0..m-1]` of `rows` into the row-major `out`. */
function gather(rows: FeatureRows, order: Int32Array, m: number, d: number, out: Float64Array): void {
  for (let i = 0; i < m; i++) {
    const row = rows[order[i]!]!;
    for (let j = 0; j < d; j++) out[i * d + j] = row[j]!;
  }
}

function kernel(u: Float64Array, i: number, v: Float64Array, j: number, d: number): number {
  let dot = 0;
  const bi = i * d;
  const bj = j * d;
  for (let t = 0; t < d; t++) dot += u[bi + t]! * v[bj + t]!;
  const base = dot / d + 1;
  return base * base * base;
}

/** The unbiased MMD^2 of two row-major sets of `m` rows each, cubic polynomial kernel. */
export function unbiasedMmd2(x: Float64Array, y: Float64Array, m: number, d: number): number {
  let kxx = 0;
  let kyy = 0;
  let kxy = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      kxx += kernel(x, i, x, j, d);
      kyy += kernel(y, i, y, j, d);
    }
    for (let j = 0; j < m; j++) kxy += kernel(x, i, y, j, d);
  }
  // Off-diagonal sums counted once above; both orders (i, j) and (j, i) belong to the sum.
  return (2 * kxx) / (m * (m - 1)) + (2 * kyy) / (m * (m - 1)) - (2 * kxy) / (m * m);
}
