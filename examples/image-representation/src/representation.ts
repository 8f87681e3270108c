import type { Rng } from '@mtd/random';

/**
 * The representation space of the example and the agreement measures on it. Everything here is
 * plain float64 arithmetic on row-major `[n, D]` arrays (no tensors), so each function is tested
 * against a direct reference.
 */

/** Per-dimension mean and standard deviation of the training embeddings. */
export interface Standardizer {
  readonly mean: Float64Array;
  readonly std: Float64Array;
}

/**
 * Fits the per-dimension standardisation `r = (f - mean) / std` on the training embeddings. The
 * model's representation modality is `r`: a gaussian vector with zero mean and unit variance per
 * dimension, so the decoder's squared error weighs every dimension alike, and cosines between
 * representations measure direction around the data mean (raw pre-ReLU features share a large
 * common component that makes any two images look similar). A dimension with no variance keeps
 * std 1 (it then carries only its centred value, 0).
 */
export function fitStandardizer(rows: readonly Float64Array[]): Standardizer {
  if (!Array.isArray(rows) || rows.length < 2) throw new RangeError(`fitStandardizer: rows must hold at least 2 embeddings, got ${Array.isArray(rows) ? rows.length : String(rows)}`);
  const D = rows[0]!.length;
  if (D < 1) throw new RangeError('fitStandardizer: rows must have at least one dimension, got 0');
  const mean = new Float64Array(D);
  const m2 = new Float64Array(D);
  rows.forEach((row, i) => {
    if (row.length !== D) throw new RangeError(`fitStandardizer: rows[${i}] must have ${D} values, got ${row.length}`);
    for (let d = 0; d < D; d++) {
      const delta = row[d]! - mean[d]!;
      mean[d]! += delta / (i + 1);
      m2[d]! += delta * (row[d]! - mean[d]!);
    }
  });
  const std = Float64Array.from(m2, (v) => (v > 0 ? Math.sqrt(v / rows.length) : 1));
  return { mean, std };
}

/** `(rows - mean) / std`, flattened row-major into a Float32Array `[n, D]` (the model's input form). */
export function standardize(rows: readonly Float64Array[], s: Standardizer): Float32Array {
  const D = s.mean.length;
  const out = new Float32Array(rows.length * D);
  rows.forEach((row, i) => {
    if (row.length !== D) throw new RangeError(`standardize: rows[${i}] must have ${D} values, got ${row.length}`);
    for (let d = 0; d < D; d++) out[i * D + d] = (row[d]! - s.mean[d]!) / s.std[d]!;
  });
  return out;
}

/** Flattens rows into a row-major Float64Array `[n, D]`. */
export function flatten(rows: readonly Float64Array[]): Float64Array {
  const D = rows[0]?.length ?? 0;
  const out = new Float64Array(rows.length * D);
  rows.forEach((row, i) => out.set(row, i * D));
  return out;
}

function cosineAt(a: ArrayLike<number>, i: number, b: ArrayLike<number>, j: number, D: number): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let d = 0; d < D; d++) {
    const x = a[i * D + d]!;
    const y = b[j * D + d]!;
    ab += x * y;
    aa += x * x;
    bb += y * y;
  }
  // A zero vector has no direction: it agrees with nothing (cosine 0), not even with itself.
  return aa === 0 || bb === 0 ? 0 : ab / Math.sqrt(aa * bb);
}

function checkRows(where: string, arg: string, x: ArrayLike<number>, D: number): number {
  if (!Number.isInteger(D) || D < 1) throw new RangeError(`${where}: D must be an integer >= 1, got ${String(D)}`);
  if (x.length % D !== 0) throw new RangeError(`${where}: ${arg} must hold n * D values (D = ${D}), got ${x.length}`);
  return x.length / D;
}

/** `cos(a_i, b_i)` for each row `i` of two `[n, D]` arrays. */
export function rowCosines(a: ArrayLike<number>, b: ArrayLike<number>, D: number): Float64Array {
  const n = checkRows('rowCosines', 'a', a, D);
  if (b.length !== a.length) throw new RangeError(`rowCosines: b must hold as many values as a (${a.length}), got ${b.length}`);
  return Float64Array.from({ length: n }, (_, i) => cosineAt(a, i, b, i, D));
}

/** `cos(a_i, b_j)` for each pair `[i, j]`. */
export function pairCosines(a: ArrayLike<number>, b: ArrayLike<number>, D: number, pairs: readonly (readonly [number, number])[]): Float64Array {
  const na = checkRows('pairCosines', 'a', a, D);
  const nb = checkRows('pairCosines', 'b', b, D);
  return Float64Array.from(pairs, ([i, j], k) => {
    if (!(i >= 0 && i < na && j >= 0 && j < nb)) throw new RangeError(`pairCosines: pairs[${k}] must index rows of a (< ${na}) and b (< ${nb}), got [${i}, ${j}]`);
    return cosineAt(a, i, b, j, D);
  });
}

/**
 * A partner `j != i` for every `i` of `0..n-1`, uniform over the others (n >= 2): the reference
 * "a generated representation against the embedding of some other generated image".
 */
export function otherIndex(n: number, rng: Rng): Int32Array {
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`otherIndex: n must be an integer >= 2, got ${String(n)}`);
  return Int32Array.from({ length: n }, (_, i) => (i + 1 + rng.int(n - 1)) % n);
}

/**
 * For each example `i`, one random partner of the same class and one of a different class
 * (examples without such a partner get none): the reference points "two real images of the same
 * class" and "of different classes".
 */
export function classPairs(labels: ArrayLike<number>, rng: Rng): { same: [number, number][]; different: [number, number][] } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]!) ?? [];
    list.push(i);
    byClass.set(labels[i]!, list);
  }
  const same: [number, number][] = [];
  const different: [number, number][] = [];
  for (let i = 0; i < labels.length; i++) {
    const mates = byClass.get(labels[i]!)!;
    if (mates.length > 1) {
      const pick = rng.int(mates.length - 1);
      const j = mates[pick]! === i ? mates[mates.length - 1]! : mates[pick]!;
      same.push([i, j]);
    }
    const others = labels.length - mates.length;
    if (others > 0) {
      // The k-th example (in index order) whose class differs.
      let k = rng.int(others);
      for (let j = 0; j < labels.length; j++) {
        if (labels[j] === labels[i]) continue;
        if (k-- === 0) {
          different.push([i, j]);
          break;
        }
      }
    }
  }
  return { same, different };
}

/** Index of the row of `base` with the largest cosine to each row of `queries` (both `[., D]`). */
export function nearestByCosine(queries: ArrayLike<number>, base: ArrayLike<number>, D: number): Int32Array {
  const nq = checkRows('nearestByCosine', 'queries', queries, D);
  const nb = checkRows('nearestByCosine', 'base', base, D);
  if (nb < 1) throw new RangeError('nearestByCosine: base must hold at least one row, got 0');
  return Int32Array.from({ length: nq }, (_, i) => {
    let best = 0;
    let bestCos = -Infinity;
    for (let j = 0; j < nb; j++) {
      const c = cosineAt(queries, i, base, j, D);
      if (c > bestCos) {
        bestCos = c;
        best = j;
      }
    }
    return best;
  });
}

/** Rows `indices` of a row-major `[., P]` array, gathered into a new one. */
export function gatherRows(data: Float32Array, P: number, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * P);
  for (let k = 0; k < indices.length; k++) out.set(data.subarray(indices[k]! * P, (indices[k]! + 1) * P), k * P);
  return out;
}

/**
 * One `size x size` grey image per cosine, for the PNG grids: a dark track across the middle
 * rows with a white bar from the left whose length is `max(0, cos)` of the width (full width =
 * perfect agreement), on black. Images in [-1, 1], row-major `[n, size, size, 1]`.
 */
export function agreementBars(cosines: ArrayLike<number>, size: number): Float32Array {
  if (!Number.isInteger(size) || size < 4) throw new RangeError(`agreementBars: size must be an integer >= 4, got ${String(size)}`);
  const out = new Float32Array(cosines.length * size * size).fill(-1);
  const top = Math.floor(size / 2) - Math.max(1, Math.floor(size / 8));
  const bottom = Math.floor(size / 2) + Math.max(1, Math.floor(size / 8));
  for (let i = 0; i < cosines.length; i++) {
    const c = cosines[i]!;
    const length = Number.isFinite(c) ? Math.round(Math.min(1, Math.max(0, c)) * size) : 0;
    for (let y = top; y < bottom; y++) for (let x = 0; x < size; x++) out[i * size * size + y * size + x] = x < length ? 1 : -0.6;
  }
  return out;
}
