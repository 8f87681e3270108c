import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scheduleFromBetas } from './schedule.js';

const betasArb = fc.array(fc.double({ min: 1e-6, max: 0.999, noNaN: true }), { minLength: 1, maxLength: 300 });

describe('scheduleFromBetas (MATH.md 1)', () => {
  it('alphaBar is strictly decreasing and in (0, 1]; the derived arrays obey their definitions', () => {
    fc.assert(
      fc.property(betasArb, (betas) => {
        const s = scheduleFromBetas(betas);
        expect(s.T).toBe(betas.length);
        let prev = 1;
        for (let k = 0; k < s.T; k++) {
          const ab = s.alphaBars[k]!;
          expect(ab).toBeGreaterThan(0);
          expect(ab).toBeLessThanOrEqual(1);
          expect(ab).toBeLessThan(prev);
          expect(s.alphaBarsPrev[k]).toBe(prev);
          expect(s.alphas[k]).toBe(1 - betas[k]!);
          const bt = (betas[k]! * (1 - prev)) / (1 - ab);
          expect(s.posteriorVariance[k]).toBe(bt);
          // betaTilde_t <= beta_t always (MATH.md 2).
          expect(s.posteriorVariance[k]).toBeLessThanOrEqual(betas[k]! * (1 + 1e-12));
          prev = ab;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('copies its input', () => {
    const betas = [0.1, 0.2];
    const s = scheduleFromBetas(betas);
    betas[0] = 0.5;
    expect(s.betas[0]).toBe(0.1);
  });

  it('rejects bad betas, naming the index and the timestep', () => {
    expect(() => scheduleFromBetas([])).toThrow(/betas must be a non-empty array/);
    expect(() => scheduleFromBetas([0.1, 0])).toThrow(/betas\[1\] \(timestep 2\) must be a number in \(0, 1\), got 0/);
    expect(() => scheduleFromBetas([0.1, 1])).toThrow(/got 1/);
    expect(() => scheduleFromBetas([Number.NaN])).toThrow(/got NaN/);
    expect(() => scheduleFromBetas(null as unknown as number[])).toThrow(/betas must be an array of numbers/);
  });
});
