/**
 * Independent float64 references for the tests, on plain arrays, written the textbook way (no
 * shared code with the implementations they check).
 */

export type Mat = number[][];

export function identity(d: number): Mat {
  return Array.from({ length: d }, (_, i) => Array.from({ length: d }, (_, j) => (i === j ? 1 : 0)));
}

export function matmul(a: Mat, b: Mat): Mat {
  const n = a.length;
  const m = b[0]!.length;
  const k = b.length;
  const out: Mat = Array.from({ length: n }, () => new Array<number>(m).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let t = 0; t < k; t++) s += a[i]![t]! * b[t]![j]!;
      out[i]![j] = s;
    }
  }
  return out;
}

export function transpose(a: Mat): Mat {
  return a[0]!.map((_, j) => a.map((row) => row[j]!));
}

/** Gauss-Jordan inverse with partial pivoting. */
export function inverse(a: Mat): Mat {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...identity(n)[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const piv = m[c]![c]!;
    for (let j = 0; j < 2 * n; j++) m[c]![j]! /= piv;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      for (let j = 0; j < 2 * n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return m.map((row) => row.slice(n));
}

/**
 * Principal square root of a matrix with positive real eigenvalues by the Denman-Beavers
 * iteration: the route scipy-style FID code takes (`sqrtm(sigma1 @ sigma2)`), independent of the
 * symmetric eigen-decomposition the implementation uses.
 */
export function sqrtmDenmanBeavers(a: Mat, iterations = 60): Mat {
  let y = a.map((r) => [...r]);
  let z = identity(a.length);
  for (let k = 0; k < iterations; k++) {
    const yi = inverse(y);
    const zi = inverse(z);
    y = y.map((row, i) => row.map((v, j) => 0.5 * (v + zi[i]![j]!)));
    z = z.map((row, i) => row.map((v, j) => 0.5 * (v + yi[i]![j]!)));
  }
  return y;
}

export function trace(a: Mat): number {
  return a.reduce((s, row, i) => s + row[i]!, 0);
}

/** Frechet distance the scipy way: `|mu1-mu2|^2 + tr S1 + tr S2 - 2 tr sqrtm(S1 S2)`. */
export function frechetReference(mu1: number[], s1: Mat, mu2: number[], s2: Mat): number {
  let m = 0;
  for (let i = 0; i < mu1.length; i++) m += (mu1[i]! - mu2[i]!) ** 2;
  return m + trace(s1) + trace(s2) - 2 * trace(sqrtmDenmanBeavers(matmul(s1, s2)));
}

/** Mean and unbiased covariance, the definition written out. */
export function meanCovReference(rows: number[][]): { mean: number[]; cov: Mat } {
  const n = rows.length;
  const d = rows[0]!.length;
  const mean = new Array<number>(d).fill(0);
  for (const r of rows) for (let j = 0; j < d; j++) mean[j]! += r[j]! / n;
  const cov: Mat = Array.from({ length: d }, () => new Array<number>(d).fill(0));
  for (const r of rows) {
    for (let a = 0; a < d; a++) for (let b = 0; b < d; b++) cov[a]![b]! += ((r[a]! - mean[a]!) * (r[b]! - mean[b]!)) / (n - 1);
  }
  return { mean, cov };
}

/** A random symmetric positive definite matrix `B B^T + eps I` from a uniform source. */
export function randomSpd(d: number, uniform: () => number, eps = 0.1): Mat {
  const b = Array.from({ length: d }, () => Array.from({ length: d }, () => 2 * uniform() - 1));
  const s = matmul(b, transpose(b));
  for (let i = 0; i < d; i++) s[i]![i]! += eps;
  return s;
}

/** Samples from `N(mean, L L^T)` given the Cholesky-free factor `L` and a normal source. */
export function gaussianSamples(n: number, mean: number[], factor: Mat, normal: () => number): number[][] {
  const d = mean.length;
  return Array.from({ length: n }, () => {
    const z = Array.from({ length: d }, () => normal());
    return mean.map((m, i) => m + factor[i]!.reduce((s, f, j) => s + f * z[j]!, 0));
  });
}
