import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '@mtd/random';
import type { DiffusionModel } from '@mtd/sampler';
import { cosineSchedule } from '@mtd/schedule';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { sdeditRestore, sdeditTimesteps } from './sdedit.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const schedule = cosineSchedule({ T: 100 });
const shape: [number, number, number, number] = [2, 4, 4, 1];
const size = 2 * 4 * 4;

function fixture(seed: number) {
  const rng = createRng(seed);
  const image = Float32Array.from({ length: size }, () => rng.uniform() * 2 - 1);
  const keep = Float32Array.from({ length: size }, () => (rng.uniform() < 0.5 ? 1 : 0));
  const target = Float32Array.from({ length: size }, () => rng.uniform() * 1.6 - 0.8);
  return { image, keep, target };
}

describe('sdeditTimesteps', () => {
  it('runs from t0 down to 1, strictly decreasing, with the requested count when t0 allows it', () => {
    expect(sdeditTimesteps(50, 5)).toEqual([50, 38, 26, 13, 1]);
    expect(sdeditTimesteps(7, 1)).toEqual([7]);
    // More steps than timesteps: every timestep once.
    expect(sdeditTimesteps(3, 10)).toEqual([3, 2, 1]);
  });
  it('names the bad argument', () => {
    expect(() => sdeditTimesteps(0, 3)).toThrow(/sdeditTimesteps: t0 must be an integer >= 1, got 0/);
    expect(() => sdeditTimesteps(5, 1.5)).toThrow(/steps must be an integer >= 1, got 1.5/);
  });
});

describe('sdeditRestore', () => {
  it('with an oracle noise model recovers the oracle image in the masked region and keeps every known pixel bit for bit', async () => {
    const { image, keep, target } = fixture(1);
    const targetT = tf.tensor4d(target, shape);
    // The exact eps for a chain whose data is `target`: DDIM then lands on `target` at every step.
    const oracle: DiffusionModel = ({ zt, t }) => {
      const ab = schedule.alphaBars[(t.arraySync() as number[])[0]! - 1]!;
      return { eps: tf.div(tf.sub(zt, tf.mul(Math.sqrt(ab), targetT)), Math.sqrt(1 - ab)), heads: {} };
    };
    const imageT = tf.tensor4d(image, shape);
    const keepT = tf.tensor4d(keep, shape);
    const out = sdeditRestore({ model: oracle, schedule, image: imageT, keep: keepT, strength: 0.6, steps: 7, seed: 3 });
    const got = out.dataSync();
    for (let j = 0; j < size; j++) {
      if (keep[j] === 1) expect(got[j]).toBe(image[j]);
      else expect(Math.abs(got[j]! - target[j]!)).toBeLessThan(1e-4);
    }
    tf.dispose([out, imageT, keepT, targetT]);
  });

  it('matches a float64 DDIM reference with a linear noise model (clipping included)', async () => {
    const { image, keep } = fixture(2);
    const gain = 0.7;
    const model: DiffusionModel = ({ zt }) => ({ eps: tf.mul(gain, zt), heads: {} });
    const imageT = tf.tensor4d(image, shape);
    const keepT = tf.tensor4d(keep, shape);
    const strength = 0.8;
    const steps = 4;
    const seed = 9;
    const out = sdeditRestore({ model, schedule, image: imageT, keep: keepT, strength, steps, seed });
    const got = out.dataSync();
    tf.dispose([out, imageT, keepT]);

    const t0 = Math.round(strength * schedule.T);
    const ts = sdeditTimesteps(t0, steps);
    const ab = (t: number) => (t === 0 ? 1 : schedule.alphaBars[t - 1]!);
    const noise = createRng(seed).fillNormal(new Float64Array(size));
    // The implementation feeds float32 noise; round the reference's the same way.
    let z = Array.from(image, (x, j) => Math.sqrt(ab(t0)) * x + Math.sqrt(1 - ab(t0)) * Math.fround(noise[j]!));
    ts.forEach((t, i) => {
      const prev = ts[i + 1] ?? 0;
      z = z.map((zj) => {
        const eps = gain * zj;
        const x0 = Math.min(1, Math.max(-1, (zj - Math.sqrt(1 - ab(t)) * eps) / Math.sqrt(ab(t))));
        const e = (zj - Math.sqrt(ab(t)) * x0) / Math.sqrt(1 - ab(t));
        return Math.sqrt(ab(prev)) * x0 + Math.sqrt(1 - ab(prev)) * e;
      });
    });
    const want = z.map((v, j) => (keep[j] === 1 ? image[j]! : v));
    expectClose(got, want, { atol: 1e-5, rtol: 1e-5, label: 'sdedit vs float64' });
  });

  it('is seeded: the same seed gives the same output, another seed another', () => {
    const { image, keep } = fixture(3);
    const model: DiffusionModel = ({ zt }) => ({ eps: tf.mul(0.3, zt), heads: {} });
    const run = (seed: number) =>
      tf.tidy(() => sdeditRestore({ model, schedule, image: tf.tensor4d(image, shape), keep: tf.tensor4d(keep, shape), strength: 0.5, steps: 3, seed }).dataSync());
    expect(Array.from(run(1))).toEqual(Array.from(run(1)));
    expect(Array.from(run(1))).not.toEqual(Array.from(run(2)));
  });

  it('leaves no tensor behind', async () => {
    const { image, keep } = fixture(4);
    const imageT = tf.tensor4d(image, shape);
    const keepT = tf.tensor4d(keep, shape);
    const model: DiffusionModel = ({ zt }) => ({ eps: tf.mul(0.5, zt), heads: {} });
    await expectNoLeak(async () => {
      sdeditRestore({ model, schedule, image: imageT, keep: keepT, strength: 0.5, steps: 3, seed: 1 }).dispose();
    });
    tf.dispose([imageT, keepT]);
  });

  it('names the bad argument', () => {
    const model: DiffusionModel = ({ zt }) => ({ eps: tf.zerosLike(zt), heads: {} });
    const image = tf.zeros(shape) as tf.Tensor4D;
    const keep = tf.ones(shape) as tf.Tensor4D;
    const base = { model, schedule, image, keep, strength: 0.5, steps: 2, seed: 0 };
    expect(() => sdeditRestore({ ...base, strength: 0 })).toThrow(/sdeditRestore: strength must be a number in \(0, 1\], got 0/);
    expect(() => sdeditRestore({ ...base, keep: tf.ones([2, 4, 4, 2]) as tf.Tensor4D })).toThrow(/keep must be a tensor shaped like image \[2, 4, 4, 1\]/);
    expect(() => sdeditRestore({ ...base, seed: 0.5 })).toThrow(/seed must be a safe integer, got 0.5/);
    tf.dispose([image, keep]);
  });
});
