import { describe, expect, it } from 'vitest';
import { cosineSchedule } from './cosine.js';

/** MATH.md 1, written out independently in float64. */
function cosineReference(T: number, s: number, maxBeta: number) {
  const f = (u: number) => Math.cos(((u + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const alphaBarFn = (t: number) => f(t / T) / f(0);
  const betas: number[] = [];
  for (let t = 1; t <= T; t++) betas.push(Math.min(1 - alphaBarFn(t) / alphaBarFn(t - 1), maxBeta));
  return { betas, alphaBarFn };
}

describe('cosineSchedule (MATH.md 1)', () => {
  it('matches the formula evaluated in float64', () => {
    for (const T of [1, 10, 1000, 4000]) {
      const sched = cosineSchedule({ T });
      const ref = cosineReference(T, 0.008, 0.999);
      let ab = 1;
      for (let k = 0; k < T; k++) {
        expect(Math.abs(sched.betas[k]! - ref.betas[k]!)).toBeLessThanOrEqual(4e-16 + 1e-13 * ref.betas[k]!);
        ab *= 1 - ref.betas[k]!;
        expect(Math.abs(sched.alphaBars[k]! - ab)).toBeLessThanOrEqual(1e-13 * ab);
      }
    }
  });

  it('follows f(t/T)/f(0) wherever the clip is inactive', () => {
    const T = 1000;
    const sched = cosineSchedule({ T });
    const { alphaBarFn } = cosineReference(T, 0.008, 0.999);
    for (let t = 1; t < 990; t++) {
      expect(Math.abs(sched.alphaBars[t - 1]! - alphaBarFn(t)) / alphaBarFn(t)).toBeLessThan(1e-11);
    }
    // The last step is clipped at maxBeta.
    expect(sched.betas[T - 1]).toBe(0.999);
    // MATH.md 7 quotes sqrt(alphaBar_T) of about 4.9e-5 for this schedule.
    expect(Math.sqrt(sched.alphaBars[T - 1]!)).toBeCloseTo(4.9e-5, 6);
  });

  it('honours s and maxBeta', () => {
    const sched = cosineSchedule({ T: 50, s: 0.02, maxBeta: 0.5 });
    const ref = cosineReference(50, 0.02, 0.5);
    ref.betas.forEach((b, k) => expect(Math.abs(sched.betas[k]! - b)).toBeLessThanOrEqual(4e-16 + 1e-13 * b));
    expect(Math.max(...sched.betas)).toBeLessThanOrEqual(0.5);
  });

  it('rejects bad input', () => {
    expect(() => cosineSchedule({ T: -1 })).toThrow(/cosineSchedule: T must be an integer >= 1/);
    expect(() => cosineSchedule({ T: 10, s: -0.1 })).toThrow(/s must be a finite number >= 0/);
    expect(() => cosineSchedule({ T: 10, maxBeta: 1.5 })).toThrow(/maxBeta must be a number in \(0, 1\)/);
    expect(() => cosineSchedule({ T: Number.NaN })).toThrow(/got NaN/);
  });
});
