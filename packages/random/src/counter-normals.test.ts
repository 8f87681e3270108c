import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counterNormals } from './counter-normals.js';
import { threefry2x32 } from './threefry.js';

/** Element j of one row, straight from the definition (float64). */
function definition(key: [number, number], counter: number, j: number): number {
  const [x0, x1] = threefry2x32(key, [Math.floor(j / 2), counter]);
  const u1 = ((x0 >>> 8) + 1) / 2 ** 24;
  const u2 = (x1 >>> 8) / 2 ** 24;
  const rho = Math.sqrt(-2 * Math.log(u1));
  const theta = Math.PI * (2 * u2 - 1);
  return j % 2 === 0 ? rho * Math.cos(theta) : rho * Math.sin(theta);
}

/** Standard normal CDF (Abramowitz-Stegun 7.1.26 erf, |error| < 1.5e-7). */
function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const erf = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return z >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

const word = fc.integer({ min: 0, max: 0xffffffff });

describe('counterNormals', () => {
  it('every element is its definition, for any row, counter, size and position', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(word, word), { minLength: 1, maxLength: 4 }), word, fc.integer({ min: 1, max: 41 }), (keys, counter, size) => {
        const out = counterNormals(keys.flat(), counter, size, new Float64Array(keys.length * size));
        keys.forEach((key, r) => {
          for (let j = 0; j < size; j++) expect(out[r * size + j]).toBe(definition(key, counter, j));
        });
      }),
      { numRuns: 100 },
    );
  });

  it('a row does not depend on the other rows or on the size asked for (a prefix of a longer draw)', () => {
    fc.assert(
      fc.property(word, word, word, fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 30 }), (k0, k1, counter, n, extra) => {
        const short = counterNormals([k0, k1], counter, n);
        const long = counterNormals([7, 8, k0, k1], counter, n + extra);
        expect(Array.from(long.subarray(n + extra, n + extra + n))).toEqual(Array.from(short));
      }),
      { numRuns: 100 },
    );
  });

  it('rounds to float32 by default; float64 when given a Float64Array', () => {
    const f32 = counterNormals([1, 2], 3, 9);
    const f64 = counterNormals([1, 2], 3, 9, new Float64Array(9));
    expect(f32).toBeInstanceOf(Float32Array);
    expect(Array.from(f32)).toEqual(Array.from(f64, Math.fround));
  });

  it('is standard normal: moments, a Kolmogorov-Smirnov distance, no correlation between neighbours, counters or keys', () => {
    const n = 200_000;
    const z = counterNormals([0x12345678, 0x9abcdef0], 0, n, new Float64Array(n));
    const next = counterNormals([0x12345678, 0x9abcdef0], 1, n, new Float64Array(n));
    const other = counterNormals([0x12345679, 0x9abcdef0], 0, n, new Float64Array(n));
    let m1 = 0;
    let m2 = 0;
    let m4 = 0;
    for (const v of z) {
      m1 += v;
      m2 += v * v;
      m4 += v ** 4;
    }
    // Standard errors at n = 2e5: mean 0.0022, variance 0.0032, fourth moment 0.021.
    expect(Math.abs(m1 / n)).toBeLessThan(0.011);
    expect(Math.abs(m2 / n - 1)).toBeLessThan(0.016);
    expect(Math.abs(m4 / n - 3)).toBeLessThan(0.1);
    const sorted = Float64Array.from(z).sort();
    let d = 0;
    sorted.forEach((v, i) => (d = Math.max(d, Math.abs(normalCdf(v) - i / n), Math.abs(normalCdf(v) - (i + 1) / n))));
    expect(d).toBeLessThan(1.63 / Math.sqrt(n)); // KS critical value at the 1% level
    const corr = (a: ArrayLike<number>, b: ArrayLike<number>, len: number) => {
      let s = 0;
      for (let i = 0; i < len; i++) s += a[i]! * b[i]!;
      return s / len;
    };
    const evens = z.filter((_, i) => i % 2 === 0);
    const odds = z.filter((_, i) => i % 2 === 1);
    // Box-Muller's pair (cos, sin of one angle) is uncorrelated; so are other counters and keys.
    for (const c of [corr(evens, odds, n / 2), corr(z, next, n), corr(z, other, n), corr(z, z.subarray(1), n - 1)]) {
      expect(Math.abs(c)).toBeLessThan(0.011);
    }
  });

  it('names the bad argument', () => {
    expect(() => counterNormals([1], 0, 4)).toThrow(/counterNormals: keys must hold two words per row/);
    expect(() => counterNormals([1, -2], 0, 4)).toThrow(/counterNormals: keys\[1\] must be an integer in 0\.\.2\^32-1, got -2/);
    expect(() => counterNormals([1, 2], 2 ** 32, 4)).toThrow(/counterNormals: counter must be an integer in 0\.\.2\^32-1/);
    expect(() => counterNormals([1, 2], 0, 1.5)).toThrow(/counterNormals: size must be an integer/);
    expect(() => counterNormals([1, 2, 3, 4], 0, 3, new Float32Array(3))).toThrow(/counterNormals: out must have rows \* size = 6 elements, got 3/);
  });
});
