import fc from 'fast-check';
import { cosineSchedule, linearSchedule } from '@mtd/schedule';
import { describe, expect, it } from 'vitest';
import { lambdas } from './lambdas.js';
import { reference } from './reference.js';
import { expectWithin, RUNS, scheduleArb } from './test-support.js';
import { constantWeight, isWeightSchedule, linearWeight, sqrtAlphaBarWeight, weightFromFn } from './weights.js';

describe('weight schedules (MATH.md 2)', () => {
  const s = linearSchedule({ T: 11 });

  it('constant, linear, fn and sqrtAlphaBar evaluate to the canonical w_t', () => {
    expect(Array.from(constantWeight(0.3).values(s))).toEqual(Array(11).fill(0.3));
    const lin = linearWeight(1, 2).values(s);
    expect(lin[0]).toBe(1);
    expect(lin[10]).toBe(2);
    expect(lin[5]).toBeCloseTo(1.5, 15);
    expect(linearWeight(0.4, 9).values(linearSchedule({ T: 1 }))[0]).toBe(0.4);
    expect(weightFromFn((t) => t * t).at(s, 3)).toBe(9);
    expect(sqrtAlphaBarWeight(2).at(s, 4)).toBe(2 * Math.sqrt(s.alphaBars[3]!));
  });

  it("'wPrime' means w_t = sqrt(alpha_t) w'_t; 'w' is the default", () => {
    expect(constantWeight(0.5).form).toBe('w');
    const wp = constantWeight(0.5, { form: 'wPrime' });
    expect(wp.form).toBe('wPrime');
    for (let t = 1; t <= 11; t++) expect(wp.at(s, t)).toBe(Math.sqrt(s.alphas[t - 1]!) * 0.5);
    const lin = linearWeight(0, 1, { form: 'wPrime' });
    expect(lin.at(s, 11)).toBe(Math.sqrt(s.alphas[10]!));
    expect(weightFromFn(() => 2, { form: 'wPrime' }).at(s, 2)).toBe(2 * Math.sqrt(s.alphas[1]!));
  });

  it('values() returns a fresh copy; the description names the spelling', () => {
    const w = constantWeight(1);
    const v = w.values(s);
    v[0] = 99;
    expect(w.at(s, 1)).toBe(1);
    expect(constantWeight(0.1, { form: 'wPrime' }).description).toBe("constant(w' = 0.1)");
    expect(isWeightSchedule(w)).toBe(true);
    expect(isWeightSchedule({ at: () => 1 })).toBe(false);
  });

  it('rejects bad input, naming the argument', () => {
    expect(() => constantWeight(-1)).toThrow(/constantWeight: w must be a finite number >= 0, got -1/);
    expect(() => constantWeight(Number.NaN)).toThrow(/got NaN/);
    expect(() => linearWeight(0, Number.POSITIVE_INFINITY)).toThrow(/linearWeight: w1 must be a finite number >= 0/);
    expect(() => constantWeight(1, { form: 'v' as never })).toThrow(/options.form must be 'w' or 'wPrime', got "v"/);
    expect(() => weightFromFn(3 as never)).toThrow(TypeError);
    expect(() => sqrtAlphaBarWeight(-2)).toThrow(/sqrtAlphaBarWeight: c must be/);
    const negative = weightFromFn((t) => 5 - t, { name: 'down' });
    expect(() => negative.values(s)).toThrow(/weightFromFn\(down, w\): the weight at t = 6 must be a finite number >= 0/);
    expect(() => constantWeight(1).at(s, 0)).toThrow(/t must be an integer in 1..11, got 0/);
    expect(() => constantWeight(1).at(s, 12)).toThrow(RangeError);
    expect(() => constantWeight(1).values({} as never)).toThrow(/schedule must be a Schedule/);
  });
});

describe("the two spellings w and w' are one process (MATH.md 2)", () => {
  // A w' schedule: constant, linear, or a wiggle, given as raw numbers.
  const rawArb = fc.oneof(
    fc.double({ min: 0, max: 2, noNaN: true }).map((a) => ({ raw: (_t: number, _T: number) => a, make: (f: 'w' | 'wPrime') => constantWeight(a, { form: f }) })),
    fc
      .tuple(fc.double({ min: 0, max: 2, noNaN: true }), fc.double({ min: 0, max: 2, noNaN: true }))
      .map(([a, b]) => ({
        raw: (t: number, T: number) => {
          const u = T === 1 ? 0 : (t - 1) / (T - 1);
          return a * (1 - u) + b * u;
        },
        make: (f: 'w' | 'wPrime') => linearWeight(a, b, { form: f }),
      })),
    fc.double({ min: 0, max: 2, noNaN: true }).map((a) => {
      const raw = (t: number) => a * (1 + Math.cos(t));
      return { raw: (t: number, _T: number) => raw(t), make: (f: 'w' | 'wPrime') => weightFromFn(raw, { form: f }) };
    }),
  );

  it("w' and the w = sqrt(alpha_t) w' it names give the same lambdas, and the paper's transition gives the same marginal", () => {
    fc.assert(
      fc.property(scheduleArb, rawArb, fc.double({ min: -2, max: 2, noNaN: true }), fc.double({ min: -2, max: 2, noNaN: true }), (s, w, e, z0) => {
        const prime = w.make('wPrime');
        const asW = weightFromFn((t, sch) => Math.sqrt(sch.alphas[t - 1]!) * w.raw(t, sch.T));
        const [lp] = lambdas(s, [prime]);
        const [lw] = lambdas(s, [asW]);
        expectWithin(lp!, lw!, 1e-14 * (1 + Math.max(...lw!)), 'lambdas');
        // The paper's spelling of the transition, N(sqrt(alpha_t) (z_{t-1} + w'_t e), beta_t), pushed
        // through t steps, written out here independently of the package.
        let mean = z0;
        let variance = 0;
        for (let t = 1; t <= s.T; t++) {
          const alpha = s.alphas[t - 1]!;
          mean = Math.sqrt(alpha) * (mean + w.raw(t, s.T) * e);
          variance = alpha * variance + s.betas[t - 1]!;
          for (const weights of [[prime], [asW]]) {
            const m = reference.marginal({ schedule: s, weights, t, z0: [z0], encodings: [[e]] });
            expect(Math.abs(m.mean[0]! - mean)).toBeLessThanOrEqual(1e-12 * (1 + Math.abs(z0) + lw![t - 1]! * Math.abs(e)));
            expect(Math.abs(m.variance - variance)).toBeLessThanOrEqual(1e-12);
          }
        }
      }),
      { numRuns: RUNS },
    );
  });

  it("'w' with constant w' equals weightFromFn in w on a real schedule", () => {
    const s = cosineSchedule({ T: 1000 });
    const a = constantWeight(0.2, { form: 'wPrime' }).values(s);
    const b = weightFromFn((t, sch) => 0.2 * Math.sqrt(sch.alphas[t - 1]!)).values(s);
    expect(Array.from(a)).toEqual(Array.from(b));
  });
});
