import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng, restoreRng } from './rng.js';

describe('createRng', () => {
  it('xoshiro128** matches the reference implementation from state {1, 2, 3, 4}', () => {
    const rng = restoreRng({ algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spare: null, key: 0 });
    const out = Array.from({ length: 10 }, () => rng.nextUint32());
    expect(out).toEqual([11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804]);
  });

  it('is deterministic per seed and differs across seeds', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 40), max: 2 ** 40 }), (seed) => {
        const a = createRng(seed);
        const b = createRng(seed);
        const c = createRng(seed + 1);
        const xa = Array.from({ length: 8 }, () => a.nextUint32());
        expect(Array.from({ length: 8 }, () => b.nextUint32())).toEqual(xa);
        expect(Array.from({ length: 8 }, () => c.nextUint32())).not.toEqual(xa);
      }),
      { numRuns: 100 },
    );
  });

  it('state() round-trips exactly, including the Box-Muller spare, through JSON', () => {
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 0, max: 50 }), (seed, draws) => {
        const rng = createRng(seed);
        for (let i = 0; i < draws; i++) rng.normal();
        const copy = restoreRng(JSON.parse(JSON.stringify(rng.state())));
        for (let i = 0; i < 20; i++) expect(copy.normal()).toBe(rng.normal());
        expect(copy.fork('x').uniform()).toBe(rng.fork('x').uniform());
      }),
      { numRuns: 100 },
    );
  });

  it('fork depends on the seed and label, not on draws made before', () => {
    const a = createRng(7);
    const b = createRng(7);
    for (let i = 0; i < 13; i++) b.uniform();
    expect(a.fork('noise').nextUint32()).toBe(b.fork('noise').nextUint32());
    expect(a.fork('noise').nextUint32()).not.toBe(a.fork('masks').nextUint32());
    expect(a.fork(1).nextUint32()).not.toBe(a.fork('1').nextUint32());
    expect(a.fork('x').fork('y').nextUint32()).not.toBe(a.fork('y').fork('x').nextUint32());
  });

  it('uniform is in [0, 1) with the right mean and variance', () => {
    const rng = createRng(1);
    const n = 200_000;
    let sum = 0;
    let sq = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const u = rng.uniform();
      if (!(u >= 0 && u < 1)) outside++;
      sum += u;
      sq += u * u;
    }
    expect(outside).toBe(0);
    const mean = sum / n;
    // Standard error of the mean is sqrt(1/12/n) ~ 6.5e-4; allow 5 of them.
    expect(Math.abs(mean - 0.5)).toBeLessThan(5 * Math.sqrt(1 / 12 / n));
    expect(Math.abs(sq / n - mean * mean - 1 / 12)).toBeLessThan(2e-3);
  });

  it('normal has mean 0, variance 1 and Gaussian tails (seeded, 200k draws)', () => {
    const rng = createRng(2);
    const x = rng.fillNormal(new Float64Array(200_000));
    const n = x.length;
    const mean = x.reduce((a, b) => a + b, 0) / n;
    const variance = x.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
    const beyond2 = x.filter((v) => Math.abs(v) > 2).length / n;
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    // Var of the sample variance is 2/n for a Gaussian: 5 standard errors.
    expect(Math.abs(variance - 1)).toBeLessThan(5 * Math.sqrt(2 / n));
    // P(|z| > 2) = 0.0455; binomial standard error ~ 4.7e-4.
    expect(Math.abs(beyond2 - 0.0455)).toBeLessThan(0.0025);
    const y = rng.fillNormal(new Float32Array(1000), 3, 0.5);
    expect(Math.abs(y.reduce((a, b) => a + b, 0) / 1000 - 3)).toBeLessThan(0.1);
  });

  it('int is uniform and unbiased, shuffle and permutation permute', () => {
    const rng = createRng(3);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.int(7)]++;
    // Chi-square with 6 degrees of freedom: 22.5 is the 0.999 quantile.
    const chi2 = counts.reduce((a, c) => a + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi2).toBeLessThan(22.5);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 200 }), fc.integer(), (n, seed) => {
        const r = createRng(seed);
        const p = Array.from(r.permutation(n)).sort((a, b) => a - b);
        expect(p).toEqual(Array.from({ length: n }, (_, i) => i));
        const s = r.shuffle(Array.from({ length: n }, (_, i) => i)).sort((a, b) => a - b);
        expect(s).toEqual(p);
      }),
      { numRuns: 100 },
    );
  });

  it('rejects bad input', () => {
    expect(() => createRng(1.5)).toThrow(/createRng: seed must be a safe integer, got 1.5/);
    expect(() => createRng(Number.NaN)).toThrow(/got NaN/);
    expect(() => createRng(1).int(0)).toThrow(/n must be an integer in 1..2\^32, got 0/);
    expect(() => createRng(1).permutation(-1)).toThrow(/permutation: n must be an integer >= 0/);
    expect(() => restoreRng({ algorithm: 'xoshiro128**', s: [0, 0, 0, 0], spare: null, key: 1 })).toThrow(/not all 0/);
    expect(() => restoreRng({} as never)).toThrow(/restoreRng: state must be/);
  });
});
