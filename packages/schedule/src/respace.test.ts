import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cosineSchedule } from './cosine.js';
import { linearSchedule } from './linear.js';
import { keptTimesteps, respace } from './respace.js';

describe('respace (MATH.md 1)', () => {
  const base = linearSchedule({ T: 1000 });

  it('"ddimN" keeps guided-diffusion\'s strided steps', () => {
    // space_timesteps(1000, "ddim50") = set(range(0, 1000, 20)), 1-based here.
    expect(keptTimesteps(1000, 'ddim50')).toEqual(Array.from({ length: 50 }, (_, i) => 20 * i + 1));
    // ddim 3 of 10: stride 4 gives range(0, 10, 4) = 0, 4, 8.
    expect(keptTimesteps(10, 'ddim3')).toEqual([1, 5, 9]);
    expect(() => keptTimesteps(10, 'ddim11')).toThrow(/at most T = 10 steps/);
  });

  it('section counts match guided-diffusion, including its round-half-to-even', () => {
    // space_timesteps(10, [3]): frac_stride 4.5 -> round(0), round(4.5) = 4, round(9) = 9.
    expect(keptTimesteps(10, '3')).toEqual([1, 5, 10]);
    // space_timesteps(300, [10, 15, 20]) first section: 100 steps, stride 11.
    const steps = keptTimesteps(300, { sections: [10, 15, 20] });
    expect(steps.length).toBe(45);
    expect(steps.slice(0, 10)).toEqual([1, 12, 23, 34, 45, 56, 67, 78, 89, 100]);
    expect(keptTimesteps(300, '10,15,20')).toEqual(steps);
    expect(() => keptTimesteps(10, '3,8')).toThrow(/section 1 count must be at most its 5 steps, got 8/);
  });

  it('an explicit list keeps exactly those steps and maps back to them', () => {
    const { schedule, timesteps } = respace(base, [1000, 1, 500]);
    expect(Array.from(timesteps)).toEqual([1, 500, 1000]);
    expect(schedule.T).toBe(3);
    expect(schedule.alphaBars[1]).toBe(base.alphaBars[499]);
    expect(schedule.betas[0]).toBeCloseTo(base.betas[0]!, 15);
  });

  it('respaced alphaBars are a subset of the original; betas reproduce them', () => {
    const sched = fc.oneof(
      fc.integer({ min: 1, max: 400 }).map((T) => linearSchedule({ T })),
      fc.integer({ min: 1, max: 400 }).map((T) => cosineSchedule({ T })),
    );
    fc.assert(
      fc.property(sched, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer(), (s, frac, seed) => {
        const n = Math.max(1, Math.round(frac * s.T));
        // A seeded subset of n distinct timesteps.
        const all = Array.from({ length: s.T }, (_, i) => i + 1);
        let r = seed >>> 0;
        for (let i = all.length - 1; i > 0; i--) {
          r = (Math.imul(r, 1664525) + 1013904223) >>> 0;
          const j = r % (i + 1);
          [all[i], all[j]] = [all[j]!, all[i]!];
        }
        const { schedule, timesteps } = respace(s, all.slice(0, n));
        expect(schedule.T).toBe(n);
        let prev = 1;
        for (let k = 0; k < n; k++) {
          const t = timesteps[k]!;
          expect(schedule.alphaBars[k]).toBe(s.alphaBars[t - 1]);
          if (k > 0) expect(t).toBeGreaterThan(timesteps[k - 1]!);
          expect(Math.abs(prev * (1 - schedule.betas[k]!) - schedule.alphaBars[k]!)).toBeLessThan(1e-15);
          prev = schedule.alphaBars[k]!;
        }
      }),
      { numRuns: 100 },
    );
  });

  it('respacing every step leaves the schedule unchanged', () => {
    const s = cosineSchedule({ T: 100 });
    const { schedule } = respace(s, 'ddim100');
    for (let k = 0; k < 100; k++) expect(schedule.betas[k]).toBeCloseTo(s.betas[k]!, 14);
  });

  it('rejects respacings that ask for more steps than exist, or nonsense', () => {
    const small = linearSchedule({ T: 5 });
    expect(() => respace(small, [1, 2, 3, 4, 5, 6])).toThrow(/at most T = 5 timesteps/);
    expect(() => respace(small, [0, 2])).toThrow(/spec timestep 0 must be an integer in 1..5/);
    expect(() => respace(small, [2, 2])).toThrow(/distinct timesteps/);
    expect(() => respace(small, 'ddim9')).toThrow(/at most T = 5 steps/);
    expect(() => respace(small, 'fast')).toThrow(/"ddimN" or comma-separated section counts/);
    expect(() => respace(small, '6')).toThrow(/section 0 count must be at most its 5 steps, got 6/);
    expect(() => respace(small, [])).toThrow(/non-empty list/);
  });
});
