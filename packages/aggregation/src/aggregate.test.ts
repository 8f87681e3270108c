import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { linearSchedule } from '@mtd/schedule';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from './aggregate.js';
import { reference } from './reference.js';
import { caseArb, caseTensors, example, expectExampleClose, RUNS, termScales, tModeArb } from './test-support.js';
import { constantWeight, linearWeight } from './weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('aggregate (MATH.md 2)', () => {
  it('matches the float64 reference within float32 tolerance, each example at its own t', () => {
    fc.assert(
      fc.property(caseArb, tModeArb, (c, mode) => {
        tf.tidy(() => {
          const x = caseTensors(c, mode);
          const out = aggregate({ ...x, shape: c.shape });
          for (const key of ['A_t', 'a_t', 'A_prev'] as const) expect(out[key].shape).toEqual(c.shape);
          const A_t = out.A_t.dataSync();
          const a_t = out.a_t.dataSync();
          const A_prev = out.A_prev.dataSync();
          for (let b = 0; b < c.B; b++) {
            const ex = example(c, b);
            const want = reference.aggregate({ ...ex, size: c.D });
            const scale = termScales(ex).aggregate;
            expectExampleClose(A_t, b, c.D, want.A_t, scale, `A_t[${b}]`);
            expectExampleClose(a_t, b, c.D, want.a_t, scale, `a_t[${b}]`);
            expectExampleClose(A_prev, b, c.D, want.A_prev, scale, `A_prev[${b}]`);
          }
        });
      }),
      { numRuns: RUNS },
    );
  });

  it('A_prev is exactly zero at t = 1 and A_t - sqrt(alpha_t) A_prev = a_t', () => {
    const schedule = linearSchedule({ T: 20 });
    tf.tidy(() => {
      const e = tf.tensor([[1, -2], [3, 0.5]]);
      const out = aggregate({ schedule, weights: [linearWeight(0.2, 0.7)], t: [1, 13], encodings: [e] });
      const [prev0, prev1] = [out.A_prev.arraySync() as number[][]][0]!;
      expect(prev0!.map((v) => v === 0)).toEqual([true, true]); // +0 or -0
      expect(prev1![0]).not.toBe(0);
      const check = tf.sub(tf.sub(out.A_t, tf.mul(tf.tensor([[1], [Math.sqrt(schedule.alphas[12]!)]]), out.A_prev)), out.a_t);
      // Example 0: t = 1, so A_1 = a_1 exactly.
      expect(Math.max(...Array.from(check.abs().dataSync()))).toBeLessThan(1e-6);
    });
  });

  it('with no modalities gives zeros of the given shape, and needs that shape', () => {
    const schedule = linearSchedule({ T: 5 });
    tf.tidy(() => {
      const out = aggregate({ schedule, weights: [], t: [1, 5], encodings: [], shape: [2, 3] });
      expect(out.A_t.shape).toEqual([2, 3]);
      expect(Array.from(out.A_prev.dataSync())).toEqual([0, 0, 0, 0, 0, 0]);
    });
    expect(() => aggregate({ schedule, weights: [], t: [1], encodings: [] })).toThrow(
      /aggregate: shape must be given when there are no encodings/,
    );
  });

  it('lets gradients flow into the encodings: d sum(A_t) / d e = lambda_t', () => {
    const schedule = linearSchedule({ T: 10 });
    const weights = [constantWeight(0.3)];
    const lam = reference.lambdas(schedule, weights)[0]!;
    tf.tidy(() => {
      const e = tf.ones([2, 2]);
      const g = tf.grad((x: tf.Tensor) => tf.sum(aggregate({ schedule, weights, t: [4, 9], encodings: [x] }).A_t))(e);
      const got = g.dataSync();
      expect(got[0]).toBeCloseTo(lam[3]!, 6);
      expect(got[3]).toBeCloseTo(lam[8]!, 6);
    });
  });

  it('leaks no tensors, on success or on error', async () => {
    const c = fc.sample(caseArb, { numRuns: 1, seed: 7 })[0]!;
    const x = caseTensors(c);
    await expectNoLeak(() => aggregate({ ...x, shape: c.shape }), 'aggregate');
    await expectNoLeak(() => aggregate({ ...x, t: [...c.t], shape: c.shape }), 'aggregate with an array t');
    await expectNoLeak(() => {
      expect(() => aggregate({ ...x, t: c.t.map(() => c.schedule.T + 1), shape: c.shape })).toThrow(RangeError);
      const bad = tf.tensor1d(c.t.map(() => 0), 'int32');
      expect(() => aggregate({ ...x, t: bad, shape: c.shape })).toThrow(RangeError);
      bad.dispose();
    }, 'aggregate on error');
    tf.dispose([x.t, x.z0, x.zt, x.noise, ...x.encodings]);
  });
});
