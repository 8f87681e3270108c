import { createRng } from '@mtd/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { kthNeighbourSquaredDistances, precisionRecall } from './precision-recall.js';

/** The definition with sorting, on plain arrays. */
function reference(real: number[][], gen: number[][], k: number): { precision: number; recall: number } {
  const dist = (a: number[], b: number[]): number => Math.sqrt(a.reduce((s, x, j) => s + (x - b[j]!) ** 2, 0));
  const radii = (set: number[][]): number[] =>
    set.map((x, i) => set.filter((_, j) => j !== i).map((y) => dist(x, y)).sort((a, b) => a - b)[k - 1]!);
  const rr = radii(real);
  const gr = radii(gen);
  const precision = gen.filter((g) => real.some((r, i) => dist(g, r) <= rr[i]!)).length / gen.length;
  const recall = real.filter((r) => gen.some((g, j) => dist(r, g) <= gr[j]!)).length / real.length;
  return { precision, recall };
}

describe('precisionRecall (k = 3)', () => {
  const rng = createRng(17);
  const cloud = (n: number, centre: number, d = 4): number[][] =>
    Array.from({ length: n }, () => Array.from({ length: d }, () => centre + rng.normal()));

  it('identical sets have precision 1 and recall 1', () => {
    const a = cloud(50, 0);
    expect(precisionRecall(a, a)).toEqual({ precision: 1, recall: 1 });
  });

  it('far-apart sets have precision 0 and recall 0', () => {
    expect(precisionRecall(cloud(40, 0), cloud(40, 100))).toEqual({ precision: 0, recall: 0 });
  });

  it('a generator that covers only part of the real data has high precision and low recall', () => {
    const real = [...cloud(60, 0), ...cloud(60, 20)];
    const collapsed = cloud(60, 0);
    const pr = precisionRecall(real, collapsed);
    expect(pr.precision).toBeGreaterThan(0.8);
    expect(pr.recall).toBeLessThan(0.6);
    expect(pr.recall).toBeGreaterThan(0.3);
  });

  it('matches the sorted-distance definition on random sets (property, 100 runs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 4 }),
        (seed, k, d) => {
          const r = createRng(seed);
          const nr = k + 1 + r.int(12);
          const ng = k + 1 + r.int(12);
          const shift = r.uniform() * 2;
          const real = Array.from({ length: nr }, () => Array.from({ length: d }, () => r.normal()));
          const gen = Array.from({ length: ng }, () => Array.from({ length: d }, () => shift + r.normal()));
          const got = precisionRecall(real, gen, { k });
          const ref = reference(real, gen, k);
          return got.precision === ref.precision && got.recall === ref.recall;
        },
      ),
      { numRuns: 100 },
    );
  });

  it('radii exclude the sample itself but count duplicates', () => {
    const rows = [[0], [0], [1], [3], [6]];
    expect(Array.from(kthNeighbourSquaredDistances(rows, 1))).toEqual([0, 0, 1, 4, 9]);
    expect(Array.from(kthNeighbourSquaredDistances(rows, 2))).toEqual([1, 1, 1, 9, 25]);
  });

  it('rejects bad input', () => {
    const a = cloud(5, 0);
    expect(() => precisionRecall(a.slice(0, 3), a)).toThrow(/precisionRecall: real must have at least 4 samples.*got 3/);
    expect(() => precisionRecall(a, cloud(5, 0, 3))).toThrow(/real and generated must have the same feature size, got 4 and 3/);
    expect(() => precisionRecall(a, a, { k: 0 })).toThrow(/options.k must be an integer >= 1, got 0/);
    const bad = a.map((r) => [...r]);
    bad[2]![1] = Number.NaN;
    expect(() => precisionRecall(a, bad)).toThrow(/generated\[2\]\[1\] must be a finite number, got NaN/);
  });
});
