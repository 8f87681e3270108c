/**
 * Test-only helpers: fast-check arbitraries for random schedules, weights, modality counts, shapes
 * and timesteps, and the tolerance rules the tests share. Not exported from the package.
 */
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { cosineSchedule, linearSchedule, scheduleFromBetas, type Schedule } from '@mtd/schedule';
import { constantWeight, linearWeight, sqrtAlphaBarWeight, weightFromFn, type WeightForm, type WeightSchedule } from './weights.js';

/** fast-check runs per property (the issue asks for at least 100); MTD_FC_RUNS=1000 digs deeper. */
export const RUNS = Math.max(100, Number(process.env.MTD_FC_RUNS) || 0);

export const scheduleArb: fc.Arbitrary<Schedule> = fc.oneof(
  fc
    .record({
      T: fc.integer({ min: 1, max: 60 }),
      betaStart: fc.double({ min: 1e-5, max: 0.05, noNaN: true }),
      betaEnd: fc.double({ min: 1e-4, max: 0.3, noNaN: true }),
    })
    .map((o) => linearSchedule(o)),
  fc.integer({ min: 1, max: 60 }).map((T) => cosineSchedule({ T })),
  // Random betas; capped at 0.5 so alphaBar_T stays above ~1e-12 and float32 can represent every coefficient.
  fc.array(fc.double({ min: 1e-4, max: 0.5, noNaN: true }), { minLength: 1, maxLength: 40 }).map(scheduleFromBetas),
);

const formArb: fc.Arbitrary<WeightForm> = fc.constantFrom('w', 'wPrime');
const wArb = fc.double({ min: 0, max: 1.5, noNaN: true });

export const weightArb: fc.Arbitrary<WeightSchedule> = fc.oneof(
  fc.tuple(wArb, formArb).map(([w, form]) => constantWeight(w, { form })),
  fc.tuple(wArb, wArb, formArb).map(([w0, w1, form]) => linearWeight(w0, w1, { form })),
  // A wiggly function of t that stays >= 0: a (1 + sin(f t + p)) / 2.
  fc
    .tuple(wArb, fc.double({ min: 0, max: 3, noNaN: true }), fc.double({ min: 0, max: 6, noNaN: true }), formArb)
    .map(([a, f, p, form]) => weightFromFn((t) => (a * (1 + Math.sin(f * t + p))) / 2, { form, name: 'wiggle' })),
  wArb.map((c) => sqrtAlphaBarWeight(c)),
);

export interface Case {
  schedule: Schedule;
  weights: WeightSchedule[];
  /** `[B, ...]`. */
  shape: number[];
  B: number;
  /** Elements per example. */
  D: number;
  /** 1-based timestep per example; t = 1 and t = T come up often on purpose. */
  t: number[];
  z0: Float32Array;
  zt: Float32Array;
  /** Plays `noise` for qSample and `eps` for the noise form. */
  noise: Float32Array;
  encodings: Float32Array[];
}

export const caseArb: fc.Arbitrary<Case> = fc
  .record({
    schedule: scheduleArb,
    weights: fc.array(weightArb, { minLength: 0, maxLength: 3 }),
    B: fc.integer({ min: 1, max: 3 }),
    dims: fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 0, maxLength: 3 }),
    seed: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  })
  .map(({ schedule, weights, B, dims, seed }) => {
    const rng = createRng(seed);
    const D = dims.reduce((a, b) => a * b, 1);
    const T = schedule.T;
    const t = Array.from({ length: B }, () => {
      const r = rng.uniform();
      return r < 0.25 ? 1 : r < 0.5 ? T : 1 + rng.int(T);
    });
    const draw = (scale: number) => rng.fillNormal(new Float32Array(B * D), 0, scale);
    return {
      schedule,
      weights,
      shape: [B, ...dims],
      B,
      D,
      t,
      z0: draw(1),
      zt: draw(2),
      noise: draw(1),
      encodings: weights.map(() => draw(1)),
    };
  });

/** Example `b` of a flat `[B, D]` array. */
export function row(x: ArrayLike<number>, b: number, D: number): Float64Array {
  return Float64Array.from({ length: D }, (_, j) => x[b * D + j]!);
}

export function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]!));
  return m;
}

/** Throws unless |actual - expected| <= tol elementwise, naming the element. */
export function expectWithin(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: lengths differ, ${actual.length} vs ${expected.length}`);
  for (let j = 0; j < actual.length; j++) {
    const d = Math.abs(actual[j]! - expected[j]!);
    if (!(d <= tol)) throw new Error(`${label}: element ${j} is ${actual[j]}, expected ${expected[j]} (|diff| ${d} > ${tol})`);
  }
}

/** How a test passes `t`: the int32 tensor of the API, or the host-array forms it also accepts. */
export type TMode = 'tensor' | 'int32array' | 'array';
export const tModeArb: fc.Arbitrary<TMode> = fc.constantFrom('tensor', 'int32array', 'array');

/** The case as tensors (create inside a tf.tidy). */
export function caseTensors(c: Case, mode: TMode = 'tensor') {
  const t =
    mode === 'tensor' ? tf.tensor1d(c.t, 'int32') : mode === 'int32array' ? Int32Array.from(c.t) : [...c.t];
  return {
    schedule: c.schedule,
    weights: c.weights,
    t,
    z0: tf.tensor(c.z0, c.shape),
    zt: tf.tensor(c.zt, c.shape),
    noise: tf.tensor(c.noise, c.shape),
    encodings: c.encodings.map((e) => tf.tensor(e, c.shape)),
  };
}

/** The case's example `b` as reference arguments. */
export function example(c: Case, b: number) {
  return {
    schedule: c.schedule,
    weights: c.weights,
    t: c.t[b]!,
    encodings: c.encodings.map((e) => row(e, b, c.D)),
    z0: row(c.z0, b, c.D),
    zt: row(c.zt, b, c.D),
    noise: row(c.noise, b, c.D),
  };
}

/**
 * Float32 tolerance used for every tensor-vs-reference comparison: per example,
 * |tensor - reference| <= FLOAT32_RTOL * S + FLOAT32_ATOL, where S is the sum of the magnitudes of
 * the terms the function adds up (coefficient times the largest |input| of that term). Each
 * output is a handful of float32 products and sums, and float32 carries 6e-8 relative, so the
 * error is a few times 6e-8 * S; 1e-5 leaves two orders of magnitude of room while still failing
 * on any wrong coefficient larger than 1e-5 of the result's scale.
 */
export const FLOAT32_RTOL = 1e-5;
export const FLOAT32_ATOL = 1e-6;

export function termScales(ex: ReturnType<typeof example>) {
  const s = ex.schedule;
  const k = ex.t - 1;
  const beta = s.betas[k]!;
  const alpha = s.alphas[k]!;
  const ab = s.alphaBars[k]!;
  const abPrev = s.alphaBarsPrev[k]!;
  const lam = ex.weights.map((w) => {
    let l = 0;
    const out = [0];
    for (let u = 1; u <= s.T; u++) out.push((l = Math.sqrt(s.alphas[u - 1]!) * l + w.at(s, u)));
    return out;
  });
  const e = ex.encodings.map(maxAbs);
  const sumE = (f: (i: number) => number) => e.reduce((acc, m, i) => acc + Math.abs(f(i)) * m, 0);
  const w = (i: number) => ex.weights[i]!.at(s, ex.t);
  const c1 = (Math.sqrt(alpha) * (1 - abPrev)) / (1 - ab);
  const c2 = beta / (1 - ab);
  return {
    aggregate: sumE((i) => lam[i]![ex.t]!) + sumE(w) + sumE((i) => lam[i]![ex.t - 1]!),
    qSample: Math.sqrt(ab) * maxAbs(ex.z0) + Math.sqrt(1 - ab) * maxAbs(ex.noise) + sumE((i) => lam[i]![ex.t]!),
    posterior:
      ((Math.sqrt(abPrev) * beta) / (1 - ab)) * maxAbs(ex.z0) +
      c1 * maxAbs(ex.zt) +
      sumE((i) => c1 * w(i)) +
      sumE((i) => c2 * lam[i]![ex.t - 1]!),
    predictZ0: (maxAbs(ex.zt) + Math.sqrt(1 - ab) * maxAbs(ex.noise) + sumE((i) => lam[i]![ex.t]!)) / Math.sqrt(ab),
    fromEps: (maxAbs(ex.zt) + (beta / Math.sqrt(1 - ab)) * maxAbs(ex.noise) + sumE(w)) / Math.sqrt(alpha),
  };
}

/** Compares example `b` of a `[B, ...]` tensor's values with a float64 reference vector. */
export function expectExampleClose(values: ArrayLike<number>, b: number, D: number, expected: ArrayLike<number>, scale: number, label: string): void {
  expectWithin(row(values, b, D), expected, FLOAT32_RTOL * scale + FLOAT32_ATOL, label);
}
