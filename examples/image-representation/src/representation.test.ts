import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from '@mtd/random';
import { expectClose } from '@mtd/testkit';
import {
  agreementBars,
  classPairs,
  fitStandardizer,
  flatten,
  gatherRows,
  nearestByCosine,
  otherIndex,
  pairCosines,
  rowCosines,
  standardize,
} from './representation.js';

const rowsOf = (n: number, D: number, seed: number) => {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => Float64Array.from({ length: D }, () => 3 * rng.normal() + 2));
};

function cosRef(a: number[], b: number[]): number {
  const dot = a.reduce((s, x, i) => s + x * b[i]!, 0);
  const na = Math.hypot(...a);
  const nb = Math.hypot(...b);
  return na === 0 || nb === 0 ? 0 : dot / (na * nb);
}

describe('fitStandardizer / standardize', () => {
  it('gives each dimension zero mean and unit (population) variance over the fitted rows', () => {
    const rows = rowsOf(50, 4, 1);
    const s = fitStandardizer(rows);
    for (let d = 0; d < 4; d++) {
      const col = rows.map((r) => r[d]!);
      const m = col.reduce((a, b) => a + b, 0) / col.length;
      const v = col.reduce((a, b) => a + (b - m) ** 2, 0) / col.length;
      expectClose([s.mean[d]!, s.std[d]!], [m, Math.sqrt(v)], { rtol: 1e-12, atol: 1e-12 });
    }
    const z = standardize(rows, s);
    for (let d = 0; d < 4; d++) {
      const col = rows.map((_, i) => z[i * 4 + d]!);
      expect(Math.abs(col.reduce((a, b) => a + b, 0) / 50)).toBeLessThan(1e-6);
      expect(Math.abs(col.reduce((a, b) => a + b * b, 0) / 50 - 1)).toBeLessThan(1e-5);
    }
  });

  it('keeps std 1 for a constant dimension, and names bad input', () => {
    const s = fitStandardizer([Float64Array.of(1, 5), Float64Array.of(3, 5)]);
    expect(Array.from(s.std)).toEqual([1, 1]);
    expect(Array.from(standardize([Float64Array.of(2, 5)], s))).toEqual([0, 0]);
    expect(() => fitStandardizer([Float64Array.of(1)])).toThrow('fitStandardizer: rows must hold at least 2 embeddings, got 1');
    expect(() => fitStandardizer([Float64Array.of(1, 2), Float64Array.of(1)])).toThrow('fitStandardizer: rows[1] must have 2 values, got 1');
    expect(() => standardize([Float64Array.of(1)], s)).toThrow('standardize: rows[0] must have 2 values, got 1');
  });
});

describe('cosines', () => {
  it('rowCosines and pairCosines match a direct float64 reference (fast-check, 100 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.integer({ min: 1, max: 6 }), fc.integer({ min: 0, max: 1e6 }), (n, D, seed) => {
        const rng = createRng(seed);
        const a = Float64Array.from({ length: n * D }, () => rng.normal());
        const b = Float64Array.from({ length: n * D }, () => rng.normal());
        const row = (x: Float64Array, i: number) => Array.from(x.subarray(i * D, (i + 1) * D));
        const got = rowCosines(a, b, D);
        expectClose(got, Array.from({ length: n }, (_, i) => cosRef(row(a, i), row(b, i))), { rtol: 1e-10, atol: 1e-12 });
        for (const c of got) expect(Math.abs(c)).toBeLessThanOrEqual(1 + 1e-12);
        const pairs = Array.from({ length: n }, (_, i) => [i, (i * 7 + 3) % n] as [number, number]);
        expectClose(pairCosines(a, b, D, pairs), pairs.map(([i, j]) => cosRef(row(a, i), row(b, j))), { rtol: 1e-10, atol: 1e-12 });
      }),
      { numRuns: 100 },
    );
  });

  it('is 1 for a row with itself and for positive multiples, -1 for negatives, 0 against a zero vector', () => {
    const a = Float64Array.of(1, 2, 3, 0, 0, 0);
    expect(Array.from(rowCosines(a, a, 3))).toEqual([expect.closeTo(1, 12), 0]);
    expectClose(rowCosines(Float64Array.of(1, 2, 3), Float64Array.of(2, 4, 6), 3), [1], { rtol: 1e-12 });
    expectClose(rowCosines(Float64Array.of(1, 2, 3), Float64Array.of(-1, -2, -3), 3), [-1], { rtol: 1e-12 });
  });

  it('names bad shapes and out-of-range pairs', () => {
    expect(() => rowCosines([1, 2, 3], [1, 2, 3], 2)).toThrow('rowCosines: a must hold n * D values (D = 2), got 3');
    expect(() => rowCosines([1, 2], [1, 2, 3, 4], 2)).toThrow('rowCosines: b must hold as many values as a (2), got 4');
    expect(() => pairCosines([1, 2], [1, 2], 2, [[0, 1]])).toThrow('pairCosines: pairs[0] must index rows of a (< 1) and b (< 1), got [0, 1]');
    expect(() => rowCosines([1], [1], 0)).toThrow('rowCosines: D must be an integer >= 1, got 0');
  });
});

describe('pairings', () => {
  it('otherIndex never pairs an example with itself and reaches every other one', () => {
    const rng = createRng(3);
    const seen = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const j = otherIndex(5, rng);
      j.forEach((v, i) => {
        expect(v).not.toBe(i);
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThan(5);
      });
      seen.add(j[0]!);
    }
    expect([...seen].sort()).toEqual([1, 2, 3, 4]);
    expect(() => otherIndex(1, rng)).toThrow('otherIndex: n must be an integer >= 2, got 1');
  });

  it('classPairs: same-class partners share the label and differ in index; different-class ones do not share it (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 30 }), fc.integer({ min: 0, max: 1e6 }), (labels, seed) => {
        const { same, different } = classPairs(labels, createRng(seed));
        for (const [i, j] of same) {
          expect(i).not.toBe(j);
          expect(labels[i]).toBe(labels[j]);
        }
        for (const [i, j] of different) expect(labels[i]).not.toBe(labels[j]);
        const count = (c: number) => labels.filter((l) => l === c).length;
        // Every example with a classmate gets one same pair; every example with another class one different pair.
        expect(same.length).toBe(labels.filter((l) => count(l) > 1).length);
        expect(different.length).toBe(labels.filter((l) => count(l) < labels.length).length);
      }),
      { numRuns: 100 },
    );
  });
});

describe('nearestByCosine / gatherRows', () => {
  it('finds the row of largest cosine (brute-force reference)', () => {
    const rng = createRng(4);
    const D = 3;
    const base = Float64Array.from({ length: 20 * D }, () => rng.normal());
    const queries = Float64Array.from({ length: 6 * D }, () => rng.normal());
    const got = nearestByCosine(queries, base, D);
    for (let i = 0; i < 6; i++) {
      const q = Array.from(queries.subarray(i * D, (i + 1) * D));
      const cos = Array.from({ length: 20 }, (_, j) => cosRef(q, Array.from(base.subarray(j * D, (j + 1) * D))));
      expect(got[i]).toBe(cos.indexOf(Math.max(...cos)));
    }
    // A positive multiple of a base row finds that row.
    expect(Array.from(nearestByCosine(base.subarray(7 * D, 8 * D).map((v) => 2 * v), base, D))).toEqual([7]);
  });

  it('gatherRows copies the chosen rows in order; flatten lays rows out row-major', () => {
    expect(Array.from(gatherRows(Float32Array.of(0, 1, 2, 3, 4, 5), 2, [2, 0, 2]))).toEqual([4, 5, 0, 1, 4, 5]);
    expect(Array.from(flatten([Float64Array.of(1, 2), Float64Array.of(3, 4)]))).toEqual([1, 2, 3, 4]);
  });
});

describe('agreementBars', () => {
  it('draws a white bar of length round(clamp(cos, 0, 1) * size) on a dark track, black elsewhere', () => {
    const size = 8;
    const bars = agreementBars([1, 0.5, -0.3, Number.NaN], size);
    expect(bars.length).toBe(4 * size * size);
    const rowAt = (i: number, y: number) => Array.from(bars.subarray(i * size * size + y * size, i * size * size + (y + 1) * size));
    const lit = (i: number) => rowAt(i, 4).filter((v) => v === 1).length;
    expect([lit(0), lit(1), lit(2), lit(3)]).toEqual([8, 4, 0, 0]);
    expect(rowAt(1, 4)).toEqual([1, 1, 1, 1, ...Array(4).fill(Math.fround(-0.6))]);
    expect(rowAt(0, 0).every((v) => v === -1)).toBe(true);
    for (const v of bars) expect(v >= -1 && v <= 1).toBe(true);
    expect(() => agreementBars([1], 3)).toThrow('agreementBars: size must be an integer >= 4, got 3');
  });
});
