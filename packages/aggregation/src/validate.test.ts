import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { linearSchedule } from '@mtd/schedule';
import { beforeAll, describe, expect, it } from 'vitest';
import { aggregate } from './aggregate.js';
import { posteriorMeanFromEps, posteriorMeanVariance, predictZ0FromEps } from './posterior.js';
import { qSample } from './qsample.js';
import { constantWeight } from './weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('bad input to the tensor functions', () => {
  const schedule = linearSchedule({ T: 10 });
  const weights = [constantWeight(0.1), constantWeight(0.2)];

  /** Runs `body` with fresh [2, 3] tensors and checks nothing is left behind, errors included. */
  async function withTensors(body: (x: { z: tf.Tensor; e: tf.Tensor; t: tf.Tensor1D }) => void) {
    await expectNoLeak(() => {
      const z = tf.zeros([2, 3]);
      const e = tf.ones([2, 3]);
      const t = tf.tensor1d([1, 10], 'int32');
      try {
        body({ z, e, t });
      } finally {
        tf.dispose([z, e, t]);
      }
    });
  }

  it('timesteps: range, dtype, rank, length, integer', async () => {
    await withTensors(({ z, e }) => {
      const base = { schedule, weights, z0: z, noise: z, encodings: [e, e] };
      expect(() => qSample({ ...base, t: [0, 3] })).toThrow(/qSample: t\[0\] must be an integer timestep in 1..10, got 0/);
      expect(() => qSample({ ...base, t: [3, 11] })).toThrow(/qSample: t\[1\] must be an integer timestep in 1..10, got 11/);
      expect(() => qSample({ ...base, t: [3, 2.5] })).toThrow(/t\[1\] must be an integer timestep in 1..10, got 2.5/);
      expect(() => qSample({ ...base, t: [1] })).toThrow(/qSample: t.length must be the batch size 2, got 1/);
      const tf32 = tf.tensor1d([1, 2]);
      expect(() => qSample({ ...base, t: tf32 as tf.Tensor1D })).toThrow(
        /qSample: t must be an int32 Tensor1D of 1-based timesteps, got a float32 tensor of shape \[2\]/,
      );
      const t2 = tf.tensor2d([[1], [2]], [2, 1], 'int32');
      expect(() => qSample({ ...base, t: t2 as never })).toThrow(/t must be a Tensor1D \(one timestep per example\)/);
      const tBig = tf.tensor1d([1, 11], 'int32');
      expect(() => posteriorMeanVariance({ ...base, zt: z, t: tBig })).toThrow(/posteriorMeanVariance: t\[1\] must be an integer timestep in 1..10, got 11/);
      expect(() => qSample({ ...base, t: 3 as never })).toThrow(TypeError);
      expect(() => qSample({ ...base, t: ['1', '2'] as never })).toThrow(/t\[0\] must be an integer timestep/);
      tf.dispose([tf32, t2, tBig]);
    });
  });

  it('encodings: count, shape, dtype', async () => {
    await withTensors(({ z, e, t }) => {
      expect(() => qSample({ schedule, weights, t, z0: z, noise: z, encodings: [e] })).toThrow(
        /qSample: encodings.length must be weights.length = 2 \(one weight per modality\), got 1/,
      );
      const wrong = tf.zeros([2, 4]);
      expect(() => qSample({ schedule, weights, t, z0: z, noise: z, encodings: [e, wrong] })).toThrow(
        /qSample: encodings\[1\].shape must be \[2, 3\] \(the shape of z0\), got \[2, 4\]/,
      );
      expect(() => aggregate({ schedule, weights, t, encodings: [e, wrong] })).toThrow(
        /aggregate: encodings\[1\].shape must be \[2, 3\] \(the shape of encodings\[0\]\), got \[2, 4\]/,
      );
      expect(() => aggregate({ schedule, weights, t, encodings: [e, e], shape: [2, 4] })).toThrow(
        /encodings\[0\].shape must be \[2, 4\] \(the shape of shape\)/,
      );
      const ints = tf.zeros([2, 3], 'int32');
      expect(() => predictZ0FromEps({ schedule, weights, t, zt: z, eps: z, encodings: [e, ints] })).toThrow(
        /predictZ0FromEps: encodings\[1\] must be a float32 tf.Tensor, got a int32 tensor of shape \[2, 3\]/,
      );
      expect(() => aggregate({ schedule, weights, t, encodings: 'e' as never })).toThrow(TypeError);
      tf.dispose([wrong, ints]);
    });
  });

  it('data tensors, weights, schedule', async () => {
    await withTensors(({ z, e, t }) => {
      const wrong = tf.zeros([3, 3]);
      expect(() => posteriorMeanFromEps({ schedule, weights, t, zt: z, eps: wrong, encodings: [e, e] })).toThrow(
        /posteriorMeanFromEps: eps.shape must be \[2, 3\] \(the shape of zt\), got \[3, 3\]/,
      );
      expect(() => posteriorMeanVariance({ schedule, weights, t, z0: [1] as never, zt: z, encodings: [e, e] })).toThrow(
        /posteriorMeanVariance: z0 must be a float32 tf.Tensor, got an array of length 1/,
      );
      const scalar = tf.scalar(1);
      expect(() => qSample({ schedule, weights: [], t, z0: scalar, noise: scalar, encodings: [] })).toThrow(
        /z0 must be a tensor of rank >= 1 with the batch first/,
      );
      expect(() => qSample({ schedule, weights: [0.1 as never], t, z0: z, noise: z, encodings: [e] })).toThrow(
        /qSample: weights\[0\] must be a WeightSchedule/,
      );
      expect(() => qSample({ schedule: { T: 10 } as never, weights, t, z0: z, noise: z, encodings: [e, e] })).toThrow(
        /qSample: schedule must be a Schedule from @mtd\/schedule/,
      );
      expect(() => qSample(undefined as never)).toThrow(TypeError);
      tf.dispose([wrong, scalar]);
    });
  });
});
