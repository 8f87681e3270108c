import { describe, expect, it } from 'vitest';
import { linearSchedule } from './linear.js';

describe('linearSchedule (MATH.md 1)', () => {
  const s = linearSchedule({ T: 1000, betaStart: 1e-4, betaEnd: 0.02 });

  it('matches the DDPM fixed-small posterior variance reference values', () => {
    expect(s.posteriorVariance[0]).toBe(0);
    expect(Math.abs(s.posteriorVariance[487]! - 0.00979)).toBeLessThan(1e-5);
    expect(Math.abs(s.posteriorVariance[999]! - 0.02)).toBeLessThan(1e-5);
  });

  it('spaces betas evenly with exact endpoints, and derives the rest in float64', () => {
    expect(s.T).toBe(1000);
    expect(s.betas[0]).toBe(1e-4);
    expect(s.betas[999]).toBe(0.02);
    let ab = 1;
    for (let k = 0; k < 1000; k++) {
      const beta = 1e-4 + (k * (0.02 - 1e-4)) / 999;
      expect(s.betas[k]).toBeCloseTo(beta, 15);
      expect(s.alphas[k]).toBeCloseTo(1 - beta, 15);
      expect(s.alphaBarsPrev[k]).toBeCloseTo(ab, 14);
      ab *= 1 - beta;
      expect(s.alphaBars[k]).toBeCloseTo(ab, 14);
    }
    // DDPM's well-known end point: alphaBar_T of about 4.04e-5.
    expect(s.alphaBars[999]).toBeCloseTo(4.04e-5, 6);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(s)).toBe(true);
    expect(() => {
      (s as { T: number }).T = 5;
    }).toThrow(TypeError);
  });

  it('keeps betaStart for T = 1', () => {
    expect(Array.from(linearSchedule({ T: 1 }).betas)).toEqual([1e-4]);
  });

  it('rejects bad input with an error naming the argument', () => {
    expect(() => linearSchedule({ T: 0 })).toThrow(/linearSchedule: T must be an integer >= 1, got 0/);
    expect(() => linearSchedule({ T: 2.5 })).toThrow(/T must be an integer/);
    expect(() => linearSchedule({ T: 10, betaStart: 0 })).toThrow(/betaStart must be a number in \(0, 1\), got 0/);
    expect(() => linearSchedule({ T: 10, betaEnd: 1 })).toThrow(/betaEnd must be a number in \(0, 1\), got 1/);
    expect(() => linearSchedule({ T: 10, betaEnd: Number.NaN })).toThrow(/betaEnd .* got NaN/);
  });
});
