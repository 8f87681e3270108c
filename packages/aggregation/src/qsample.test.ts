import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { cosineSchedule } from '@mtd/schedule';
import { beforeAll, describe, expect, it } from 'vitest';
import { qSample } from './qsample.js';
import { reference } from './reference.js';
import { caseArb, caseTensors, example, expectExampleClose, RUNS, termScales, tModeArb, type Case } from './test-support.js';
import { constantWeight, sqrtAlphaBarWeight } from './weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('qSample (MATH.md 2, 4)', () => {
  it('matches the float64 reference within float32 tolerance', () => {
    fc.assert(
      fc.property(caseArb, tModeArb, (c, mode) => {
        tf.tidy(() => {
          const x = caseTensors(c, mode);
          const z = qSample(x);
          expect(z.shape).toEqual(c.shape);
          const values = z.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = example(c, b);
            expectExampleClose(values, b, c.D, reference.qSample(ex), termScales(ex).qSample, `z_t[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('with zero weights or zero encodings equals plain DDPM exactly (the no-modality result)', () => {
    fc.assert(
      fc.property(caseArb, fc.boolean(), (c, zeroWeights) => {
        const zeroed: Case = zeroWeights
          ? { ...c, weights: c.weights.map(() => constantWeight(0)) }
          : { ...c, encodings: c.encodings.map((e) => new Float32Array(e.length)) };
        tf.tidy(() => {
          const got = qSample(caseTensors(zeroed)).dataSync();
          const ddpm = qSample({ ...caseTensors(c), weights: [], encodings: [] }).dataSync();
          expect(Array.from(got).map((v) => v + 0)).toEqual(Array.from(ddpm).map((v) => v + 0));
          for (let b = 0; b < c.B; b++) {
            const ex = { ...example(c, b), weights: [], encodings: [] };
            const k = ex.t - 1;
            const ab = c.schedule.alphaBars[k]!;
            const want = ex.z0.map((z, j) => Math.sqrt(ab) * z + Math.sqrt(1 - ab) * ex.noise[j]!);
            expectExampleClose(ddpm, b, c.D, want, termScales(ex).qSample, `DDPM z_t[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('is differentiable: d z_t / d z0 = sqrt(alphaBar_t), d z_t / d e_i = lambda_{t,i}', () => {
    const schedule = cosineSchedule({ T: 50 });
    const weights = [sqrtAlphaBarWeight(2), constantWeight(0.5)];
    const lam = reference.lambdas(schedule, weights);
    tf.tidy(() => {
      const z0 = tf.ones([2, 3]);
      const noise = tf.zeros([2, 3]);
      const e0 = tf.ones([2, 3]);
      const e1 = tf.ones([2, 3]);
      const t = tf.tensor1d([7, 50], 'int32');
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
        tf.sum(qSample({ schedule, weights, t, z0: a, noise, encodings: [b, c] })),
      )([z0, e0, e1]);
      const [gz, g0, g1] = grads.map((g) => g.dataSync());
      expect(gz![0]).toBeCloseTo(Math.sqrt(schedule.alphaBars[6]!), 6);
      expect(gz![5]).toBeCloseTo(Math.sqrt(schedule.alphaBars[49]!), 6);
      expect(g0![0]).toBeCloseTo(lam[0]![6]!, 6);
      expect(g1![5]).toBeCloseTo(lam[1]![49]!, 5);
    });
  });

  it('leaks no tensors, on success or on error', async () => {
    const c = fc.sample(caseArb, { numRuns: 1, seed: 11 })[0]!;
    const x = caseTensors(c);
    await expectNoLeak(() => qSample(x), 'qSample');
    await expectNoLeak(() => qSample({ ...x, t: Int32Array.from(c.t) }), 'qSample with an Int32Array t');
    await expectNoLeak(() => {
      expect(() => qSample({ ...x, t: [0, ...c.t].slice(0, c.B) })).toThrow(RangeError);
      const bad = tf.zeros([c.B + 1, 2]);
      expect(() => qSample({ ...x, noise: bad })).toThrow(RangeError);
      bad.dispose();
    }, 'qSample on error');
    tf.dispose([x.t, x.z0, x.zt, x.noise, ...x.encodings]);
  });
});
