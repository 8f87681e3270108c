import fc from 'fast-check';
import { cosineSchedule, linearSchedule } from '@mtd/schedule';
import { describe, expect, it } from 'vitest';
import { endpointOffset, endpointReport, lambdas, lambdasWithZero } from './lambdas.js';
import { reference } from './reference.js';
import { expectWithin, RUNS, scheduleArb, weightArb } from './test-support.js';
import { constantWeight, linearWeight, sqrtAlphaBarWeight } from './weights.js';

describe('lambdas (MATH.md 2)', () => {
  it('follow lambda_t = sqrt(alpha_t) lambda_{t-1} + w_t from lambda_0 = 0', () => {
    fc.assert(
      fc.property(scheduleArb, fc.array(weightArb, { maxLength: 3 }), (s, weights) => {
        const withZero = lambdasWithZero(s, weights);
        const plain = lambdas(s, weights);
        const ref = reference.lambdas(s, weights);
        expect(plain.length).toBe(weights.length);
        weights.forEach((w, i) => {
          expect(withZero[i]!.length).toBe(s.T + 1);
          expect(withZero[i]![0]).toBe(0);
          expect(plain[i]!.length).toBe(s.T);
          expectWithin(plain[i]!, withZero[i]!.subarray(1), 0, 'lambdas vs lambdasWithZero');
          expectWithin(plain[i]!, ref[i]!, 0, 'lambdas vs reference');
          for (let t = 1; t <= s.T; t++) {
            const want = Math.sqrt(s.alphas[t - 1]!) * withZero[i]![t - 1]! + w.at(s, t);
            expect(withZero[i]![t]).toBe(want);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('constant w: lambda_T is about 115 w for linear T = 1000 (MATH.md 7), after peaking near 240 w', () => {
    const s = linearSchedule({ T: 1000 });
    const [l] = lambdas(s, [constantWeight(1)]);
    expect(l![999]).toBeGreaterThan(114.5);
    expect(l![999]).toBeLessThan(115.5);
    // Linear in w.
    const [l3] = lambdas(s, [constantWeight(3)]);
    expect(Math.abs(l3![999]! - 3 * l![999]!)).toBeLessThan(1e-12 * l3![999]!);
    // lambda_t chases the moving fixed point w / (1 - sqrt(alpha_t)) ~ 2 w / beta_t: it rises while
    // below it, and once beta_t has grown enough the fixed point falls below lambda and lambda
    // falls too. For DDPM's linear schedule the peak is about 240 w (MATH.md 7's "keeps growing"
    // holds only up to there).
    const peak = Math.max(...l!);
    expect(peak).toBeGreaterThan(240);
    expect(peak).toBeLessThan(241);
    for (let k = 1; k < 1000; k++) {
      const fixedPoint = 1 / (1 - Math.sqrt(s.alphas[k]!));
      expect(Math.sign(l![k]! - l![k - 1]!)).toBe(Math.sign(fixedPoint - l![k - 1]!));
    }
  });

  it('w_t = c sqrt(alphaBar_t) gives lambda_t = c t sqrt(alphaBar_t) exactly (MATH.md 7)', () => {
    fc.assert(
      fc.property(scheduleArb, fc.double({ min: 0, max: 5, noNaN: true }), (s, c) => {
        const [l] = lambdas(s, [sqrtAlphaBarWeight(c)]);
        for (let t = 1; t <= s.T; t++) {
          const want = c * t * Math.sqrt(s.alphaBars[t - 1]!);
          expect(Math.abs(l![t - 1]! - want)).toBeLessThanOrEqual(1e-13 * want + 1e-300);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('w_t = c sqrt(alphaBar_t) at T = 1000: about 0.05 c (cosine) and 6.35 c (linear)', () => {
    // MATH.md 7 says 0.64 c for linear; that is off by a factor 10: sqrt(alphaBar_1000) is
    // 6.35e-3 for DDPM's linear schedule (alphaBar_T = 4.04e-5), so 1000 sqrt(alphaBar_T) = 6.35.
    const cos = lambdas(cosineSchedule({ T: 1000 }), [sqrtAlphaBarWeight(1)])[0]![999]!;
    const lin = lambdas(linearSchedule({ T: 1000 }), [sqrtAlphaBarWeight(1)])[0]![999]!;
    expect(cos).toBeCloseTo(0.0493, 4);
    expect(lin).toBeCloseTo(6.353, 3);
    expect(Math.abs(cos - 1000 * Math.sqrt(cosineSchedule({ T: 1000 }).alphaBars[999]!))).toBeLessThan(1e-15);
  });

  it('reject bad input', () => {
    const s = linearSchedule({ T: 3 });
    expect(() => lambdas(s, [0.1 as never])).toThrow(/lambdas: weights\[0\] must be a WeightSchedule/);
    expect(() => lambdas(s, 'w' as never)).toThrow(/lambdas: weights must be an array of WeightSchedule/);
    expect(() => lambdas(null as never, [])).toThrow(/lambdas: schedule must be a Schedule/);
  });
});

describe('endpointReport (MATH.md 7)', () => {
  it('reports lambda_T and the largest lambda per modality', () => {
    const s = linearSchedule({ T: 1000 });
    const r = endpointReport(s, [constantWeight(0.1), sqrtAlphaBarWeight(1), linearWeight(1, 0)]);
    expect(r.T).toBe(1000);
    expect(r.sqrtAlphaBarT).toBe(Math.sqrt(s.alphaBars[999]!));
    expect(r.modalities.map((m) => m.index)).toEqual([0, 1, 2]);
    expect(r.modalities[0]!.weight).toBe('constant(w = 0.1)');
    expect(r.modalities[0]!.lambdaT).toBeCloseTo(11.48, 2);
    expect(r.modalities[0]!.lambdaMax).toBeCloseTo(24.04, 2);
    const all = lambdasWithZero(s, [sqrtAlphaBarWeight(1)])[0]!;
    expect(r.modalities[1]!.lambdaMax).toBe(Math.max(...all));
    expect(r.modalities[1]!.lambdaMax).toBeGreaterThan(r.modalities[1]!.lambdaT);
  });

  it('endpointOffset bounds |A_T| by sum lambda_T |e|', () => {
    const s = cosineSchedule({ T: 1000 });
    const r = endpointReport(s, [sqrtAlphaBarWeight(1), constantWeight(0.5)]);
    expect(endpointOffset(r, [2, 0])).toBeCloseTo(2 * r.modalities[0]!.lambdaT, 15);
    expect(endpointOffset(r, [0, 1])).toBe(r.modalities[1]!.lambdaT);
    expect(() => endpointOffset(r, [1])).toThrow(/encodingRms must be an array of 2 numbers/);
    expect(() => endpointOffset(r, [1, -1])).toThrow(/encodingRms\[1\] must be a finite number >= 0, got -1/);
  });
});
