import { checkFeatureRows, checkInt, checkSameDim, type FeatureRows } from './check.js';

export interface PrecisionRecallOptions {
  /** Neighbourhood size: each sample's radius is the distance to its k-th nearest neighbour. */
  k?: number;
}

export interface PrecisionRecall {
  /** Fraction of generated samples inside the real manifold estimate. */
  readonly precision: number;
  /** Fraction of real samples inside the generated manifold estimate. */
  readonly recall: number;
}

/**
 * Improved precision and recall (Kynkaanniemi et al. 2019, "Improved precision and recall metric
 * for assessing generative models"), with `k = 3` by default as in the paper.
 *
 * Each set's manifold is estimated as the union of balls around its samples, the radius of a
 * sample being the Euclidean distance to its k-th nearest neighbour in the same set (itself
 * excluded). Precision is the fraction of `generated` samples inside the `real` manifold
 * (distance <= radius of some real sample), recall the fraction of `real` samples inside the
 * `generated` manifold.
 *
 * Exact pairwise distances in float64 (no approximate neighbour search): the cost is
 * `O((n_r + n_g)^2 d)`, a few seconds for some thousands of 64-dimensional features. Each set needs
 * at least `k + 1` samples.
 */
export function precisionRecall(
  real: FeatureRows,
  generated: FeatureRows,
  options: PrecisionRecallOptions = {},
): PrecisionRecall {
  const where = 'precisionRecall';
  const { k = 3 } = options;
  checkInt(where, 'options.k', k, 1);
  const r = checkFeatureRows(where, 'real', real, k + 1);
  const g = checkFeatureRows(where, 'generated', generated, k + 1);
  checkSameDim(where, 'real', r.d, 'generated', g.d);
  const realRadii = kthNeighbourSquaredDistances(real, k);
  const generatedRadii = kthNeighbourSquaredDistances(generated, k);
  return {
    precision: coveredFraction(generated, real, realRadii),
    recall: coveredFraction(real, generated, generatedRadii),
  };
}

function squaredDistance(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const diff = a[j]! - b[j]!;
    s += diff * diff;
  }
  return s;
}

/** Squared distance from each row to its k-th nearest other row (self excluded by index). */
export function kthNeighbourSquaredDistances(rows: FeatureRows, k: number): Float64Array {
  const n = rows.length;
  // nearest[i * k + m] holds row i's m-th smallest squared distance seen so far, ascending.
  const nearest = new Float64Array(n * k).fill(Infinity);
  const insert = (i: number, d2: number): void => {
    const base = i * k;
    if (d2 >= nearest[base + k - 1]!) return;
    let m = k - 1;
    while (m > 0 && nearest[base + m - 1]! > d2) {
      nearest[base + m] = nearest[base + m - 1]!;
      m--;
    }
    nearest[base + m] = d2;
  };
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const d2 = squaredDistance(rows[i]!, rows[j]!);
      insert(i, d2);
      insert(j, d2);
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = nearest[i * k + k - 1]!;
  return out;
}

/** Fraction of `queries` within `radii2[i]` (squared) of some `centres[i]`. */
function coveredFraction(queries: FeatureRows, centres: FeatureRows, radii2: Float64Array): number {
  let covered = 0;
  for (const q of queries) {
    for (let i = 0; i < centres.length; i++) {
      if (squaredDistance(q, centres[i]!) <= radii2[i]!) {
        covered++;
        break;
      }
    }
  }
  return covered / queries.length;
}
