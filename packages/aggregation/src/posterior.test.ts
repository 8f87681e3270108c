import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { qSample } from './qsample.js';
import { posteriorMeanFromEps, posteriorMeanVariance, predictZ0FromEps } from './posterior.js';
import { reference } from './reference.js';
import { caseArb, caseTensors, example, expectExampleClose, RUNS, termScales, tModeArb, type Case } from './test-support.js';
import { constantWeight } from './weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Plays the case's `noise` array as `eps`. */
function epsArgs(c: Case, mode: Parameters<typeof caseTensors>[1] = 'tensor') {
  const x = caseTensors(c, mode);
  return { ...x, eps: x.noise };
}

describe('posteriorMeanVariance (MATH.md 2, paper eq. 5)', () => {
  it('matches the float64 reference within float32 tolerance; variance is betaTilde_t shaped [B, 1, ...]', () => {
    fc.assert(
      fc.property(caseArb, tModeArb, (c, mode) => {
        tf.tidy(() => {
          const { mean, variance } = posteriorMeanVariance(caseTensors(c, mode));
          expect(mean.shape).toEqual(c.shape);
          expect(variance.shape).toEqual([c.B, ...c.shape.slice(1).map(() => 1)]);
          const m = mean.dataSync();
          const v = variance.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = example(c, b);
            const want = reference.posterior(ex);
            expectExampleClose(m, b, c.D, want.mean, termScales(ex).posterior, `mean[${b}]`);
            expect(Math.abs(v[b]! - want.variance)).toBeLessThanOrEqual(1e-7 * want.variance);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('predictZ0FromEps and posteriorMeanFromEps (noise form, MATH.md 2 form 2)', () => {
  it('match the float64 reference within float32 tolerance', () => {
    fc.assert(
      fc.property(caseArb, tModeArb, (c, mode) => {
        tf.tidy(() => {
          const args = epsArgs(c, mode);
          const z0 = predictZ0FromEps(args);
          const mu = posteriorMeanFromEps(args);
          expect(z0.shape).toEqual(c.shape);
          expect(mu.shape).toEqual(c.shape);
          const z0v = z0.dataSync();
          const muv = mu.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = { ...example(c, b), eps: example(c, b).noise };
            const scales = termScales(ex);
            expectExampleClose(z0v, b, c.D, reference.predictZ0FromEps(ex), scales.predictZ0, `z0[${b}]`);
            expectExampleClose(muv, b, c.D, reference.posteriorFromEps(ex), scales.fromEps, `mu[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('the noise form with the true eps equals the direct posterior mean (tensors, float32 tolerance)', () => {
    fc.assert(
      fc.property(caseArb, (c) => {
        // Build z_t from z_0 and the noise, so that eps = noise is the true noise of z_t.
        tf.tidy(() => {
          const x = caseTensors(c);
          const zt = qSample(x);
          const direct = posteriorMeanVariance({ ...x, zt }).mean.dataSync();
          const noiseForm = posteriorMeanFromEps({ ...x, zt, eps: x.noise }).dataSync();
          const ztv = zt.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = { ...example(c, b), zt: Float64Array.from({ length: c.D }, (_, j) => ztv[b * c.D + j]!) };
            const s = termScales(ex);
            const want = Array.from({ length: c.D }, (_, j) => direct[b * c.D + j]!);
            // Both sides carry float32 error, so the tolerance is the sum of their two scales.
            expectExampleClose(noiseForm, b, c.D, want, s.posterior + s.fromEps, `mean[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('reduction to DDPM (MATH.md 2 form 4, tensors)', () => {
  it('zero weights or zero encodings give exactly the no-modality result', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c, zeroWeights) => {
        const zeroed: Case = zeroWeights
          ? { ...c, weights: c.weights.map(() => constantWeight(0)) }
          : { ...c, encodings: c.encodings.map((e) => new Float32Array(e.length)) };
        tf.tidy(() => {
          const plain = (args: ReturnType<typeof epsArgs>) => [
            posteriorMeanVariance(args).mean,
            posteriorMeanVariance(args).variance,
            predictZ0FromEps(args),
            posteriorMeanFromEps(args),
          ];
          const got = plain(epsArgs(zeroed)).map((x) => Array.from(x.dataSync()).map((v) => v + 0));
          const ddpm = plain({ ...epsArgs(c), weights: [], encodings: [] });
          expect(got).toEqual(ddpm.map((x) => Array.from(x.dataSync()).map((v) => v + 0)));
          // And the no-modality result is DDPM's posterior.
          const ddpmMean = ddpm[0]!.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = { ...example(c, b), weights: [], encodings: [] };
            expectExampleClose(ddpmMean, b, c.D, reference.ddpmPosterior(ex).mean, termScales(ex).posterior, `DDPM mean[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });
});

describe('posterior functions: leaks', () => {
  it('leak no tensors, on success or on error', async () => {
    const c = fc.sample(caseArb, { numRuns: 1, seed: 3 })[0]!;
    const args = epsArgs(c);
    await expectNoLeak(() => posteriorMeanVariance(args), 'posteriorMeanVariance');
    await expectNoLeak(() => predictZ0FromEps(args), 'predictZ0FromEps');
    await expectNoLeak(() => posteriorMeanFromEps(args), 'posteriorMeanFromEps');
    await expectNoLeak(() => posteriorMeanFromEps({ ...args, t: [...c.t] }), 'posteriorMeanFromEps with an array t');
    await expectNoLeak(() => {
      const big = c.t.map(() => c.schedule.T + 1);
      expect(() => posteriorMeanVariance({ ...args, t: big })).toThrow(RangeError);
      expect(() => predictZ0FromEps({ ...args, t: big })).toThrow(RangeError);
      expect(() => posteriorMeanFromEps({ ...args, t: big })).toThrow(RangeError);
    }, 'posterior functions on error');
    tf.dispose([args.t, args.z0, args.zt, args.noise, ...args.encodings]);
  });
});
