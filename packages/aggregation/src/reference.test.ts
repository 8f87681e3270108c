import fc from 'fast-check';
import { createRng } from '@mtd/random';
import { linearSchedule } from '@mtd/schedule';
import { describe, expect, it } from 'vitest';
import { reference } from './reference.js';
import { caseArb, example, expectWithin, maxAbs, RUNS, scheduleArb, weightArb, type Case } from './test-support.js';
import { constantWeight } from './weights.js';

/**
 * Size of the largest term any form adds up for this example, for float64 tolerances: every
 * form is a sum of terms of at most this size, divided at most by sqrt(alpha_t).
 */
function termScale(ex: ReturnType<typeof example>): number {
  const lam = reference.lambdas(ex.schedule, ex.weights);
  const k = ex.t - 1;
  let s = 1 + maxAbs(ex.z0) + maxAbs(ex.zt) + maxAbs(ex.noise);
  ex.encodings.forEach((e, i) => {
    const w = ex.weights[i]!.at(ex.schedule, ex.t);
    s += (lam[i]![k]! + (k > 0 ? lam[i]![k - 1]! : 0) + w) * maxAbs(e);
  });
  return s / Math.sqrt(ex.schedule.alphas[k]!);
}

describe('reference posterior: the four forms of MATH.md 2 agree', () => {
  it('direct eq. 5 == shifted DDPM == noise form == generic Gaussian conditioning (float64, 1e-9 of the term scale)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (let b = 0; b < c.B; b++) {
          const ex = example(c, b);
          const tol = 1e-9 * termScale(ex);
          const direct = reference.posterior(ex);
          const shifted = reference.posteriorShifted(ex);
          const eps = reference.epsFromZ0(ex);
          const noiseForm = reference.posteriorFromEps({ ...ex, eps });
          const conditioned = reference.posteriorByConditioning(ex);
          expectWithin(shifted.mean, direct.mean, tol, 'shifted DDPM mean');
          expectWithin(noiseForm, direct.mean, tol, 'noise-form mean');
          expectWithin(conditioned.mean, direct.mean, tol, 'conditioning mean');
          expect(shifted.variance).toBe(direct.variance);
          expect(direct.variance).toBe(ex.schedule.posteriorVariance[ex.t - 1]);
          // The conditioned covariance is betaTilde_t I.
          const k = ex.t - 1;
          const priorVar = 1 - ex.schedule.alphaBarsPrev[k]!;
          conditioned.cov.forEach((r, i) =>
            r.forEach((v, j) => {
              const want = i === j ? direct.variance : 0;
              expect(Math.abs(v - want)).toBeLessThanOrEqual(1e-9 * priorVar);
            }),
          );
          // The noise form's eps takes z_0 to z_t; predictZ0FromEps inverts it.
          const z0 = reference.predictZ0FromEps({ ...ex, eps });
          expectWithin(z0, ex.z0, tol / Math.sqrt(ex.schedule.alphaBars[k]!), 'predictZ0FromEps(epsFromZ0)');
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('reference reduction: zero weights or zero encodings give plain DDPM exactly', () => {
  it('every function equals its DDPM formula bit for bit', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c0, zeroWeights) => {
        const c: Case = zeroWeights
          ? { ...c0, weights: c0.weights.map(() => constantWeight(0)) }
          : { ...c0, encodings: c0.encodings.map((e) => new Float32Array(e.length)) };
        if (zeroWeights) for (const l of reference.lambdas(c.schedule, c.weights)) expect(maxAbs(l)).toBe(0);
        for (let b = 0; b < c.B; b++) {
          const ex = example(c, b);
          const k = ex.t - 1;
          const { alphas, betas, alphaBars } = c.schedule;
          const agg = reference.aggregate({ ...ex, size: c.D });
          expect(maxAbs(agg.A_t) + maxAbs(agg.a_t) + maxAbs(agg.A_prev)).toBe(0);
          expect(reference.posterior(ex)).toEqual(reference.ddpmPosterior(ex));
          const ddpmQ = ex.z0.map((z, j) => Math.sqrt(alphaBars[k]!) * z + Math.sqrt(1 - alphaBars[k]!) * ex.noise[j]!);
          expect(reference.qSample(ex)).toEqual(ddpmQ);
          const eps = ex.noise;
          const ddpmMu = ex.zt.map(
            (z, j) => (z - (betas[k]! / Math.sqrt(1 - alphaBars[k]!)) * eps[j]!) / Math.sqrt(alphas[k]!),
          );
          expect(reference.posteriorFromEps({ ...ex, eps })).toEqual(ddpmMu);
          const ddpmZ0 = ex.zt.map((z, j) => (z - Math.sqrt(1 - alphaBars[k]!) * eps[j]!) / Math.sqrt(alphaBars[k]!));
          expect(reference.predictZ0FromEps({ ...ex, eps })).toEqual(ddpmZ0);
          expect(reference.marginal(ex)).toEqual({ mean: ddpmQ.map((_, j) => Math.sqrt(alphaBars[k]!) * ex.z0[j]!), variance: 1 - alphaBars[k]! });
        }
      }),
      { numRuns: RUNS },
    );
  });
});

describe('marginal from transitions (MATH.md 2, form 5)', () => {
  it('pushing the Gaussian through t transitions gives the closed-form marginal (float64, 1e-12)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        for (let b = 0; b < c.B; b++) {
          const ex = example(c, b);
          const iterated = reference.iterateTransition(ex);
          const closed = reference.marginal(ex);
          expectWithin(iterated.mean, closed.mean, 1e-12 * termScale(ex), 'mean');
          expect(Math.abs(iterated.variance - closed.variance)).toBeLessThanOrEqual(1e-12 * closed.variance + 1e-15);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('t = 0 transitions leave z_0 as it is', () => {
    const s = linearSchedule({ T: 5 });
    const out = reference.iterateTransition({ schedule: s, weights: [constantWeight(1)], t: 0, z0: [1, 2], encodings: [[3, 4]] });
    expect(Array.from(out.mean)).toEqual([1, 2]);
    expect(out.variance).toBe(0);
  });

  /*
   * Monte Carlo: M = 2000 seeded chains of t transitions each. Per coordinate the sample mean has
   * standard error sqrt(var / M); the variance estimate (about the known mean, pooled over the D
   * coordinates) has standard error var * sqrt(2 / (M D)). Both must land within 5 standard errors.
   * The fast-check seed is fixed, so this test is deterministic; with a fresh seed a correct
   * implementation would still fail only about once in 10^4 runs (100 cases, <= 4 checks each).
   */
  it('sampling the chain matches the closed-form marginal within 5 standard errors', () => {
    const M = 2000;
    const mcCase = fc.record({
      schedule: scheduleArb,
      weights: fc.array(weightArb, { minLength: 0, maxLength: 3 }),
      D: fc.integer({ min: 1, max: 3 }),
      seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
      tFrac: fc.double({ min: 0, max: 1, noNaN: true }),
    });
    fc.assert(
      fc.property(mcCase, ({ schedule, weights, D, seed, tFrac }) => {
        const rng = createRng(seed);
        const t = Math.max(1, Math.ceil(tFrac * schedule.T));
        const z0 = rng.fillNormal(new Float64Array(D));
        const encodings = weights.map(() => rng.fillNormal(new Float64Array(D)));
        const noise = rng.fork('chain');
        const normal = () => noise.normal();
        const closed = reference.marginal({ schedule, weights, t, z0, encodings });
        const sum = new Float64Array(D);
        let squares = 0;
        for (let m = 0; m < M; m++) {
          const z = reference.sampleChain({ schedule, weights, t, z0, encodings, normal });
          for (let j = 0; j < D; j++) {
            sum[j] = sum[j]! + z[j]!;
            squares += (z[j]! - closed.mean[j]!) ** 2;
          }
        }
        const v = closed.variance;
        for (let j = 0; j < D; j++) {
          expect(Math.abs(sum[j]! / M - closed.mean[j]!)).toBeLessThanOrEqual(5 * Math.sqrt(v / M));
        }
        expect(Math.abs(squares / (M * D) - v)).toBeLessThanOrEqual(5 * v * Math.sqrt(2 / (M * D)));
      }),
      { numRuns: RUNS, seed: 20240611 },
    );
  }, 30_000);
});

describe('reference.gaussianConditioning (Murphy 2022, sec. 3.3)', () => {
  it('matches a 2-D example worked by hand', () => {
    // Prior N(0, diag(1, 4)); observe y = x_1 + x_2 + 1 + noise(var 1) = 4.
    // S = 1 + 4 + 1 = 6, K = [1, 4] / 6, residual = 4 - 0 - 1 = 3.
    const out = reference.gaussianConditioning({
      priorMean: [0, 0],
      priorCov: [
        [1, 0],
        [0, 4],
      ],
      W: [[1, 1]],
      b: [1],
      noiseCov: [[1]],
      y: [4],
    });
    expectWithin(out.mean, [0.5, 2], 1e-15, 'mean');
    expectWithin(out.cov.flat(), [1 - 1 / 6, -4 / 6, -4 / 6, 4 - 16 / 6], 1e-15, 'cov');
  });

  it('agrees with the information form when the prior is invertible', () => {
    // Information form: P = Sigma^-1 + W^T R^-1 W, mean = P^-1 (W^T R^-1 (y - b) + Sigma^-1 mu); 1-D check.
    fc.assert(
      fc.property(
        fc.double({ min: -3, max: 3, noNaN: true }),
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        fc.double({ min: -2, max: 2, noNaN: true }),
        fc.double({ min: 0.1, max: 5, noNaN: true }),
        fc.double({ min: -3, max: 3, noNaN: true }),
        (mu, s, w, r, y) => {
          const out = reference.gaussianConditioning({ priorMean: [mu], priorCov: [[s]], W: [[w]], b: [0.5], noiseCov: [[r]], y: [y] });
          const P = 1 / s + (w * w) / r;
          expect(Math.abs(out.cov[0]![0]! - 1 / P)).toBeLessThan(1e-12);
          expect(Math.abs(out.mean[0]! - ((w * (y - 0.5)) / r + mu / s) / P)).toBeLessThan(1e-12);
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe('reference input checks', () => {
  const schedule = linearSchedule({ T: 10 });
  const weights = [constantWeight(0.1)];
  it('names the bad argument', () => {
    expect(() => reference.aggregate({ schedule, weights, t: 0, encodings: [[1]] })).toThrow(
      /reference.aggregate: t must be an integer in 1..10, got 0/,
    );
    expect(() => reference.aggregate({ schedule, weights, t: 11, encodings: [[1]] })).toThrow(RangeError);
    expect(() => reference.aggregate({ schedule, weights, t: 2, encodings: [] })).toThrow(
      /encodings.length must be weights.length = 1, got 0/,
    );
    expect(() => reference.aggregate({ schedule, weights: [], t: 2, encodings: [] })).toThrow(/non-empty, or a size given/);
    expect(() => reference.posterior({ schedule, weights, t: 2, encodings: [[1, 2]], z0: [1, 2], zt: [1] })).toThrow(
      /zt.length must be 2 \(the length of z0\), got 1/,
    );
    expect(() => reference.lambdas(schedule, [[1, 2]])).toThrow(/weights\[0\].length must be T = 10, got 2/);
    expect(() => reference.lambdas(schedule, ['x' as never])).toThrow(TypeError);
    expect(() => reference.lambdas({ T: 3 } as never, weights)).toThrow(/schedule must be a Schedule/);
    expect(() =>
      reference.gaussianConditioning({ priorMean: [0], priorCov: [[1]], W: [[1, 2]], b: [0], noiseCov: [[1]], y: [1] }),
    ).toThrow(/W\[0\] must be a row of length 1/);
    expect(() => reference.sampleChain({ schedule, weights, t: 3, z0: [0], encodings: [[1]], normal: 3 as never })).toThrow(
      /normal must be a function/,
    );
  });

  it('accepts plain weight arrays as the canonical w_t', () => {
    const w = Array.from({ length: 10 }, (_, k) => 0.1 * k);
    const fromArray = reference.aggregate({ schedule, weights: [w], t: 4, encodings: [[2]] });
    expect(fromArray.a_t[0]).toBeCloseTo(0.6, 15);
  });
});
