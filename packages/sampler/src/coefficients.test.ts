import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { cosineSchedule, linearSchedule, respace, type Schedule } from '@mtd/schedule';
import { alphaBarOfState, ddimCoefficients, ddpmCoefficients, forwardCoefficients, z0FormCoefficients } from './coefficients.js';

/** A random schedule: linear or cosine, T in 2..300, possibly respaced. */
const scheduleArb: fc.Arbitrary<Schedule> = fc
  .record({
    T: fc.integer({ min: 2, max: 300 }),
    cosine: fc.boolean(),
    // betaEnd <= 0.1 keeps alphaBar_T above ~1e-16, where respace can still tell beta from 1.
    betaEnd: fc.double({ min: 0.01, max: 0.1, noNaN: true }),
    keep: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
  })
  .map(({ T, cosine, betaEnd, keep }) => {
    const s = cosine ? cosineSchedule({ T }) : linearSchedule({ T, betaStart: 1e-4, betaEnd });
    return keep === undefined || keep > T ? s : respace(s, String(keep)).schedule;
  });

const close = (a: number, b: number, tol = 1e-10) => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('ddpmCoefficients', () => {
  test('the noise form equals the textbook DDPM posterior with z0Hat from eps (MATH.md 2 forms 1, 2)', () => {
    fc.assert(
      fc.property(scheduleArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (s, u, y, eps) => {
        const k = 1 + Math.floor(u * (s.T - 1));
        const c = ddpmCoefficients(s, k, 'fixedSmall');
        const ab = s.alphaBars[k - 1]!;
        const abPrev = s.alphaBarsPrev[k - 1]!;
        const beta = s.betas[k - 1]!;
        const z0Hat = (y - Math.sqrt(1 - ab) * eps) / Math.sqrt(ab);
        // muDDPM(y, z0) of MATH.md 2 form 1 with the shift removed.
        const mean = (Math.sqrt(abPrev) * beta * z0Hat + Math.sqrt(1 - beta) * (1 - abPrev) * y) / (1 - ab);
        expect(close(c.cY * y + c.cEps * eps, mean, 1e-8)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  test('variances: betaTilde (fixed small) and beta (fixed large), none at the last step', () => {
    const s = linearSchedule({ T: 1000 });
    expect(ddpmCoefficients(s, 488, 'fixedSmall').sigma ** 2).toBeCloseTo(0.00979, 5);
    expect(ddpmCoefficients(s, 1000, 'fixedLarge').sigma ** 2).toBeCloseTo(0.02, 12);
    expect(ddpmCoefficients(s, 1, 'fixedSmall').sigma).toBe(0);
    expect(ddpmCoefficients(s, 1, 'fixedLarge').sigma).toBe(0);
  });
});

describe('ddimCoefficients', () => {
  test('eta = 1 is ancestral DDPM with fixed-small variance (the same mean and sigma)', () => {
    fc.assert(
      fc.property(scheduleArb, fc.double({ min: 0, max: 1, noNaN: true }), (s, u) => {
        const k = 1 + Math.floor(u * (s.T - 1));
        const ddim = ddimCoefficients(s, k, 1)!;
        const ddpm = ddpmCoefficients(s, k, 'fixedSmall');
        expect(close(ddim.cY, ddpm.cY, 1e-8)).toBe(true);
        expect(Math.abs(ddim.cEps - ddpm.cEps)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(ddpm.cEps)));
        expect(Math.abs(ddim.sigma - (k === 1 ? 0 : ddpm.sigma))).toBeLessThanOrEqual(1e-9);
      }),
      { numRuns: 200 },
    );
  });

  test('eta = 0 is the textbook deterministic update sqrt(abPrev) x0Hat + sqrt(1 - abPrev) eps', () => {
    fc.assert(
      fc.property(scheduleArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), fc.double({ min: -3, max: 3, noNaN: true }), (s, u, y, eps) => {
        const k = 1 + Math.floor(u * (s.T - 1));
        const c = ddimCoefficients(s, k, 0)!;
        const ab = s.alphaBars[k - 1]!;
        const abPrev = alphaBarOfState(s, k - 1);
        const x0 = (y - Math.sqrt(1 - ab) * eps) / Math.sqrt(ab);
        const expected = Math.sqrt(abPrev) * x0 + Math.sqrt(1 - abPrev) * eps;
        expect(c.sigma).toBe(0);
        expect(Math.abs(c.cY * y + c.cEps * eps - expected)).toBeLessThanOrEqual(1e-8 * Math.max(1, Math.abs(expected), Math.abs(x0)));
      }),
      { numRuns: 200 },
    );
  });

  test('an eta too large for the step is reported as null', () => {
    const s = linearSchedule({ T: 10, betaStart: 0.1, betaEnd: 0.2 });
    expect(ddimCoefficients(s, 5, 50)).toBeNull();
  });
});

describe('forwardCoefficients', () => {
  test('a jump equals the composed one-step transitions (mean factor and variance)', () => {
    fc.assert(
      fc.property(scheduleArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 20 }), (s, u, j) => {
        const from = Math.floor(u * (s.T - 1));
        const to = Math.min(from + j, s.T);
        // Push y -> sqrt(alpha) y + sqrt(beta) noise through each step in between.
        let factor = 1;
        let variance = 0;
        for (let k = from + 1; k <= to; k++) {
          factor *= Math.sqrt(s.alphas[k - 1]!);
          variance = s.alphas[k - 1]! * variance + s.betas[k - 1]!;
        }
        const c = forwardCoefficients(s, from, to);
        expect(close(c.cY, factor, 1e-9)).toBe(true);
        expect(Math.abs(c.sigma ** 2 - variance)).toBeLessThanOrEqual(1e-9);
        expect(c.cEps).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});

describe('z0FormCoefficients', () => {
  test('without clipping, the z0 form is the noise form (DDPM both variances, DDIM any eta <= 1)', () => {
    fc.assert(
      fc.property(
        scheduleArb,
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (s, u, y, eps, eta) => {
          const k = 1 + Math.floor(u * (s.T - 1));
          const ab = s.alphaBars[k - 1]!;
          const y0 = (y - Math.sqrt(1 - ab) * eps) / Math.sqrt(ab);
          const pairs = [
            [z0FormCoefficients(s, k, { kind: 'ddpm', variance: 'fixedLarge' })!, ddpmCoefficients(s, k, 'fixedLarge')],
            [z0FormCoefficients(s, k, { kind: 'ddim', eta })!, ddimCoefficients(s, k, eta)!],
          ] as const;
          for (const [z0Form, noiseForm] of pairs) {
            const a = z0Form.cZ0 * y0 + z0Form.cY * y;
            const b = noiseForm.cY * y + noiseForm.cEps * eps;
            expect(Math.abs(a - b)).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(b), Math.abs(y0)));
            expect(z0Form.sigma).toBe(noiseForm.sigma);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  test('the last step returns the estimate itself', () => {
    const s = linearSchedule({ T: 50 });
    for (const method of [{ kind: 'ddpm', variance: 'fixedSmall' }, { kind: 'ddim', eta: 0.5 }] as const) {
      const c = z0FormCoefficients(s, 1, method)!;
      expect(c.cZ0).toBeCloseTo(1, 12);
      expect(c.cY).toBeCloseTo(0, 12);
      expect(c.sigma).toBe(0);
    }
  });
});
