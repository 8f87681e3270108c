import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { constantWeight, frozenEncoder, identityEncoder, reference, sqrtAlphaBarWeight, type WeightSchedule } from '@mtd/aggregation';
import { counterNormals, createRng } from '@mtd/random';
import { linearSchedule, respace } from '@mtd/schedule';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import type { CategoricalModality, DiffusionModel, GaussianModality, Modality } from './model.js';
import { sample, type SampleOptions, type SampleProgress } from './sample.js';

/*
 * The sampler against a float64 reference written literally from MATH.md (shifted chain:
 * y = z - A_t, a textbook DDPM/DDIM step on y, A_{t-1} added back), on a small analytic model
 * that both sides evaluate: same noise (the documented per-example streams), same heads.
 */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const T = 30;
const schedule = linearSchedule({ T, betaStart: 1e-3, betaEnd: 0.25 });
const shape = [2, 3];
const D = 6;
const K = 3;
/** Logit weights of the categorical head, K x D. */
const W = [
  [0.3, -0.2, 0.1, 0.4, 0.0, -0.3],
  [-0.1, 0.5, -0.4, 0.2, 0.3, 0.1],
  [0.2, 0.1, 0.3, -0.5, -0.2, 0.2],
];
/** Label embeddings e_k, K x D (the categorical encoder's table). */
const EMB = [
  [1.0, -0.5, 0.3, 0.0, 0.8, -1.0],
  [-0.7, 0.9, 0.0, 0.6, -0.4, 0.2],
  [0.2, 0.3, -1.1, -0.6, 0.5, 0.7],
];

// ---- the analytic test model, in float64 ---------------------------------------------------
const epsF = (z: Float64Array, t: number) =>
  z.map((v) => Math.sqrt(1 - schedule.alphaBars[t - 1]!) * v + 0.1 * Math.tanh(v + 0.01 * t));
const headXF = (z: Float64Array) => z.map((v) => 0.5 * Math.tanh(v) + 0.1);
const headCF = (z: Float64Array) => W.map((row) => row.reduce((s, w, j) => s + w * z[j]!, 0));
const softmaxF = (l: number[]) => {
  const m = Math.max(...l);
  const e = l.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};
const encodeCF = (p: readonly number[]) => Float64Array.from({ length: D }, (_, j) => p.reduce((s, pk, k) => s + pk * EMB[k]![j]!, 0));

// ---- the same model in tfjs ----------------------------------------------------------------
const sqrt1mAb = Float32Array.from({ length: T + 1 }, (_, t) => (t === 0 ? 0 : Math.sqrt(1 - schedule.alphaBars[t - 1]!)));
const testModel: DiffusionModel = ({ zt, t }) => {
  const B = zt.shape[0]!;
  const c = tf.reshape(tf.gather(tf.tensor1d(sqrt1mAb), t), [B, 1, 1]);
  const tShift = tf.reshape(tf.mul(0.01, tf.cast(t, 'float32')), [B, 1, 1]);
  const eps = tf.add(tf.mul(c, zt), tf.mul(0.1, tf.tanh(tf.add(zt, tShift))));
  const x = tf.add(tf.mul(0.5, tf.tanh(zt)), 0.1);
  const logits = tf.matMul(tf.reshape(zt, [B, D]), tf.tensor2d(W), false, true);
  return { eps, heads: { x, c: logits } };
};

let embTable: tf.Tensor2D;
beforeAll(() => {
  embTable = tf.tensor2d(EMB);
});
function modalitiesWith(wx: WeightSchedule, wc: WeightSchedule): Modality[] {
  const x: GaussianModality = { name: 'x', kind: 'gaussian', encoder: identityEncoder, weight: wx };
  const c: CategoricalModality = {
    name: 'c',
    kind: 'categorical',
    classes: K,
    encoder: frozenEncoder((p) => tf.reshape(tf.matMul(p as tf.Tensor2D, embTable), [p.shape[0]!, ...shape]), 'emb'),
    weight: wc,
  };
  return [x, c];
}

// ---- the float64 reference sampler -----------------------------------------------------------
interface RefOptions {
  timesteps: readonly number[];
  method: 'ddpm' | 'ddim';
  variance?: 'fixedSmall' | 'fixedLarge';
  eta?: number;
  /** [x, c] weights; none means no modalities at all (plain DDPM / DDIM). */
  weights?: readonly [WeightSchedule, WeightSchedule];
  knownX?: Float64Array;
  knownC?: number;
  clip?: readonly [number, number];
  /** Adds `epsShift * e_c(knownC)` to eps: what guidedModel's guidance does at scale epsShift / 0.3. */
  epsShift?: number;
  seed: number;
  example: number;
}

/** lambda_t for t = 0..T from the recursion of MATH.md 2, written again here. */
function lambdaTable(w: WeightSchedule): Float64Array {
  const l = new Float64Array(T + 1);
  for (let t = 1; t <= T; t++) l[t] = Math.sqrt(schedule.alphas[t - 1]!) * l[t - 1]! + w.at(schedule, t);
  return l;
}

/** Example `example`'s successive noise draws (ExampleNoise's documented keying), in float32. */
function exampleDraws(seed: number, example: number): () => Float32Array {
  const stream = createRng(seed).fork(example);
  const key = [stream.nextUint32(), stream.nextUint32()];
  let counter = 0;
  return () => counterNormals(key, counter++, D);
}

/** The states after every step, for one example. */
function referenceRun(o: RefOptions): Float64Array[] {
  const next = exampleDraws(o.seed, o.example);
  const draw = () => Float64Array.from(next());
  const lam = o.weights ? o.weights.map(lambdaTable) : [];
  const A = (t: number, enc: readonly Float64Array[]) =>
    Float64Array.from({ length: D }, (_, j) => enc.reduce((s, e, i) => s + (t === 0 ? 0 : lam[i]![t]!) * e[j]!, 0));
  const ab = (t: number) => (t === 0 ? 1 : schedule.alphaBars[t - 1]!);
  const knownEnc = [o.knownX, o.knownC === undefined ? undefined : encodeCF(EMB.map((_, k) => (k === o.knownC ? 1 : 0)))];
  const Kn = o.timesteps.length;
  const tTop = o.timesteps[Kn - 1]!;
  let z = draw();
  if (o.weights) {
    // Start at N(A_T, I) from the known part of A_T.
    knownEnc.forEach((e, i) => e && z.forEach((v, j) => (z[j] = v + lam[i]![tTop]! * e[j]!)));
  }
  const states: Float64Array[] = [];
  for (let k = Kn; k >= 1; k--) {
    const t = o.timesteps[k - 1]!;
    const tp = k > 1 ? o.timesteps[k - 2]! : 0;
    const eps = epsF(z, t);
    if (o.epsShift) knownEnc[1]!.forEach((e, j) => (eps[j] = eps[j]! + o.epsShift! * e));
    const enc = o.weights ? [knownEnc[0] ?? headXF(z), knownEnc[1] ?? encodeCF(softmaxF(headCF(z)))] : [];
    const At = A(t, enc);
    const Ap = A(tp, enc);
    const y = z.map((v, j) => v - At[j]!);
    const n = k > 1 ? draw() : new Float64Array(D);
    const abT = ab(t);
    const abP = ab(tp);
    let yPrev: Float64Array;
    if (o.clip) {
      // guided-diffusion's clip_denoised: the posterior from the clipped estimate of y_0 = z_0.
      const [lo, hi] = o.clip;
      const x0 = y.map((v, j) => Math.min(hi, Math.max(lo, (v - Math.sqrt(1 - abT) * eps[j]!) / Math.sqrt(abT))));
      if (o.method === 'ddpm') {
        const alpha = abT / abP;
        const beta = 1 - alpha;
        const variance = o.variance === 'fixedLarge' ? beta : (beta * (1 - abP)) / (1 - abT);
        const sd = k > 1 ? Math.sqrt(variance) : 0;
        yPrev = y.map((v, j) => (Math.sqrt(abP) * beta * x0[j]! + Math.sqrt(alpha) * (1 - abP) * v) / (1 - abT) + sd * n[j]!);
      } else {
        const eta = o.eta ?? 0;
        const sig = eta * Math.sqrt((1 - abP) / (1 - abT)) * Math.sqrt(1 - abT / abP);
        const epsR = y.map((v, j) => (v - Math.sqrt(abT) * x0[j]!) / Math.sqrt(1 - abT));
        yPrev = x0.map((v, j) => Math.sqrt(abP) * v + Math.sqrt(Math.max(0, 1 - abP - sig * sig)) * epsR[j]! + sig * n[j]!);
      }
    } else if (o.method === 'ddpm') {
      const alpha = abT / abP;
      const beta = 1 - alpha;
      const variance = o.variance === 'fixedLarge' ? beta : (beta * (1 - abP)) / (1 - abT);
      const sd = k > 1 ? Math.sqrt(variance) : 0;
      yPrev = y.map((v, j) => (v - (beta / Math.sqrt(1 - abT)) * eps[j]!) / Math.sqrt(alpha) + sd * n[j]!);
    } else {
      const eta = o.eta ?? 0;
      const sig = eta * Math.sqrt((1 - abP) / (1 - abT)) * Math.sqrt(1 - abT / abP);
      const x0 = y.map((v, j) => (v - Math.sqrt(1 - abT) * eps[j]!) / Math.sqrt(abT));
      yPrev = x0.map((v, j) => Math.sqrt(abP) * v + Math.sqrt(Math.max(0, 1 - abP - sig * sig)) * eps[j]! + sig * n[j]!);
    }
    z = yPrev.map((v, j) => v + Ap[j]!);
    states.push(z);
  }
  return states;
}

/** Runs the sampler and records every state (flattened per example). */
async function run(options: Partial<SampleOptions> & { batchSize: number }) {
  const states: Float32Array[] = [];
  const progress: Omit<SampleProgress, 'z'>[] = [];
  const result = await sample({
    model: testModel,
    schedule,
    modalities: [],
    shape,
    seed: 7,
    onProgress: ({ step, total, t, z }) => {
      progress.push({ step, total, t });
      states.push(z.dataSync() as Float32Array);
    },
    ...options,
  });
  return { result, states, progress };
}

function expectTrajectories(states: Float32Array[], B: number, ref: (b: number) => Float64Array[], tol = { rtol: 2e-5, atol: 2e-5 }) {
  for (let b = 0; b < B; b++) {
    const expected = ref(b);
    expect(states).toHaveLength(expected.length);
    expected.forEach((zRef, s) => {
      expectClose(states[s]!.subarray(b * D, (b + 1) * D), zRef, { ...tol, label: `example ${b}, step ${s + 1}` });
    });
  }
}

const full = Array.from({ length: T }, (_, k) => k + 1);

describe('reduction to plain DDPM / DDIM (MATH.md 2 form 4)', () => {
  test.each(['fixedSmall', 'fixedLarge'] as const)('no modalities: ancestral DDPM (%s) step for step', async (variance) => {
    const { result, states, progress } = await run({ batchSize: 3, variance });
    expectTrajectories(states, 3, (b) => referenceRun({ timesteps: full, method: 'ddpm', variance, seed: 7, example: b }));
    expect(progress.map((p) => p.t)).toEqual([...full].reverse());
    expect(progress.map((p) => p.step)).toEqual(full);
    expect(progress.every((p) => p.total === T)).toBe(true);
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test('heads present but every weight zero: the same trajectory as no modalities, bit for bit', async () => {
    const plain = await run({ batchSize: 3 });
    const zero = await run({ batchSize: 3, modalities: modalitiesWith(constantWeight(0), sqrtAlphaBarWeight(0)) });
    expect(zero.states).toEqual(plain.states);
    expectTrajectories(zero.states, 3, (b) => referenceRun({ timesteps: full, method: 'ddpm', seed: 7, example: b }));
    // The heads are still read out: the final estimates exist.
    expect(zero.result.modalities['x']!.kind).toBe('gaussian');
    expect((zero.result.modalities['c'] as { labels: tf.Tensor }).labels.shape).toEqual([3]);
    tf.dispose([plain.result, zero.result] as unknown as tf.TensorContainer);
  });

  test('DDIM eta = 0 on the full schedule, no aggregation: the textbook DDIM update', async () => {
    const { result, states } = await run({ batchSize: 2, method: 'ddim', eta: 0 });
    expectTrajectories(states, 2, (b) => referenceRun({ timesteps: full, method: 'ddim', eta: 0, seed: 7, example: b }));
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test('DDIM eta = 1 on the full schedule equals ancestral DDPM with fixed-small variance', async () => {
    const mods = modalitiesWith(constantWeight(0.05), sqrtAlphaBarWeight(0.5));
    const ddim = await run({ batchSize: 3, method: 'ddim', eta: 1, modalities: mods });
    const ddpm = await run({ batchSize: 3, method: 'ddpm', variance: 'fixedSmall', modalities: mods });
    ddpm.states.forEach((s, i) => expectClose(ddim.states[i]!, s, { rtol: 1e-4, atol: 1e-4, label: `step ${i + 1}` }));
    tf.dispose([ddim.result, ddpm.result] as unknown as tf.TensorContainer);
  });
});

describe('the shifted chain with aggregation (MATH.md 6)', () => {
  const weights = [constantWeight(0.05), sqrtAlphaBarWeight(0.5)] as const;

  test('ancestral DDPM, joint generation of both modalities, full schedule', async () => {
    const { result, states } = await run({ batchSize: 3, modalities: modalitiesWith(...weights), onWarning: () => {} });
    expectTrajectories(states, 3, (b) => referenceRun({ timesteps: full, method: 'ddpm', weights, seed: 7, example: b }));
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test("one step equals @mtd/aggregation's float64 posteriorFromEps (the noise form) plus the noise", async () => {
    const { result, states } = await run({ batchSize: 1, modalities: modalitiesWith(...weights), onWarning: () => {} });
    // From state t = 20 to t = 19 (states[s - 1] is z after step s, at t = T - s): recompute the
    // mean with the other package's reference.
    const zt = Float64Array.from(states[T - 21]!);
    const enc = [headXF(zt), encodeCF(softmaxF(headCF(zt)))];
    const mean = reference.posteriorFromEps({ schedule, weights: [...weights], t: 20, encodings: enc, zt, eps: epsF(zt, 20) });
    const next = exampleDraws(7, 0);
    let noise: Float32Array = new Float32Array(D);
    for (let draw = 0; draw <= T - 20 + 1; draw++) noise = next(); // z_T, then steps 1..11
    const sd = Math.sqrt(schedule.posteriorVariance[19]!);
    expectClose(states[T - 20]!, Array.from(mean, (m, j) => m + sd * noise[j]!), { rtol: 1e-4, atol: 1e-4 });
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test('respaced ancestral DDPM (steps = 8) reads lambda at the original timesteps', async () => {
    const timesteps = Array.from(respace(schedule, '8').timesteps);
    const { result, states, progress } = await run({ batchSize: 2, steps: 8, modalities: modalitiesWith(...weights), onWarning: () => {} });
    expect(progress.map((p) => p.t)).toEqual([...timesteps].reverse());
    expectTrajectories(states, 2, (b) => referenceRun({ timesteps, method: 'ddpm', weights, seed: 7, example: b }));
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test.each([0, 0.5])('respaced DDIM (ddim10), eta = %s', async (eta) => {
    const timesteps = Array.from(respace(schedule, 'ddim10').timesteps);
    const { result, states } = await run({ batchSize: 2, method: 'ddim', eta, respace: 'ddim10', modalities: modalitiesWith(...weights), onWarning: () => {} });
    expectTrajectories(states, 2, (b) => referenceRun({ timesteps, method: 'ddim', eta, weights, seed: 7, example: b }));
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test('conditional on every modality: starts at N(A_T, I), known values replace the heads', async () => {
    const knownX = tf.tensor(Float32Array.from({ length: 2 * D }, (_, i) => Math.sin(i)), [2, ...shape]);
    const knownC = tf.tensor1d([2, 0], 'int32');
    const { result, states } = await run({ batchSize: 2, modalities: modalitiesWith(...weights), known: { x: knownX, c: knownC } });
    const xs = knownX.dataSync();
    expectTrajectories(states, 2, (b) =>
      referenceRun({ timesteps: full, method: 'ddpm', weights, seed: 7, example: b, knownX: Float64Array.from(xs.subarray(b * D, (b + 1) * D)), knownC: [2, 0][b] }),
    );
    expect(result.modalities['x']!.known).toBe(true);
    expect(Array.from((result.modalities['c'] as { labels: tf.Tensor }).labels.dataSync())).toEqual([2, 0]);
    tf.dispose([result, knownX, knownC] as unknown as tf.TensorContainer);
  });

  test('conditional on a subset: the known label replaces its head, x is generated', async () => {
    const knownC = tf.tensor2d([[0, 1, 0]]);
    const { result, states } = await run({ batchSize: 1, modalities: modalitiesWith(...weights), known: { c: knownC }, onWarning: () => {} });
    expectTrajectories(states, 1, (b) => referenceRun({ timesteps: full, method: 'ddpm', weights, seed: 7, example: b, knownC: 1 }));
    expect(result.modalities['x']!.known).toBe(false);
    expectClose((result.modalities['x'] as { value: tf.Tensor }).value.dataSync(), headXF(Float64Array.from(states[T - 2]!)), { rtol: 1e-4, atol: 1e-4 });
    tf.dispose([result, knownC] as unknown as tf.TensorContainer);
  });
});

/** testModel plus a conditioning path: a known label adds 0.3 e_c to eps. */
const guidedModel: DiffusionModel = (input) => {
  const out = testModel(input);
  const c = input.known['c'];
  if (!c) return out;
  const B = input.zt.shape[0]!;
  return { eps: tf.add(out.eps, tf.mul(0.3, tf.reshape(tf.matMul(c as tf.Tensor2D, embTable), [B, ...shape]))), heads: out.heads };
};

describe('clipping the z0 estimate (clipZ0)', () => {
  const weights = [constantWeight(0.05), sqrtAlphaBarWeight(0.5)] as const;

  test.each([
    ['ancestral DDPM, full schedule', { method: 'ddpm' }, full],
    ['DDIM eta = 0.5, ddim10', { method: 'ddim', eta: 0.5, respace: 'ddim10' }, Array.from(respace(schedule, 'ddim10').timesteps)],
  ] as const)('%s: equals the float64 reference with clipping, and the output lies in the range', async (_name, method, timesteps) => {
    const clip = [-0.4, 0.4] as const;
    const { result, states } = await run({ batchSize: 2, modalities: modalitiesWith(...weights), clipZ0: clip, onWarning: () => {}, ...method });
    expectTrajectories(states, 2, (b) => referenceRun({ timesteps, ...method, weights, seed: 7, example: b, clip }));
    const z0 = await result.z0.data();
    expect(Math.max(...z0)).toBeLessThanOrEqual(0.4 + 1e-6);
    expect(Math.min(...z0)).toBeGreaterThanOrEqual(-0.4 - 1e-6);
    // The clip is active: without it the same run leaves the range.
    const free = await run({ batchSize: 2, modalities: modalitiesWith(...weights), onWarning: () => {}, ...method });
    expect(Math.max(...(await free.result.z0.data()).map(Math.abs))).toBeGreaterThan(0.5);
    tf.dispose([result, free.result] as unknown as tf.TensorContainer);
  });

  test('a range too wide to bind gives the unclipped trajectory', async () => {
    const clipped = await run({ batchSize: 2, modalities: modalitiesWith(...weights), clipZ0: [-1e6, 1e6], onWarning: () => {} });
    const free = await run({ batchSize: 2, modalities: modalitiesWith(...weights), onWarning: () => {} });
    free.states.forEach((z, i) => expectClose(clipped.states[i]!, z, { rtol: 2e-5, atol: 2e-5, label: `step ${i + 1}` }));
    tf.dispose([clipped.result, free.result] as unknown as tf.TensorContainer);
  });
});

describe('classifier-free guidance', () => {
  const mods = () => modalitiesWith(constantWeight(0.05), sqrtAlphaBarWeight(0.5));
  const withLabel = async (options: Partial<SampleOptions>) => {
    const c = tf.tensor1d([1, 2], 'int32');
    try {
      return await run({ batchSize: 2, modalities: mods(), model: guidedModel, known: { c }, onWarning: () => {}, ...options });
    } finally {
      c.dispose();
    }
  };

  test('s = 1 is the conditional model', async () => {
    const guided = await withLabel({ guidance: { scale: 1 } });
    const conditional = await withLabel({});
    conditional.states.forEach((z, i) => expectClose(guided.states[i]!, z, { rtol: 1e-5, atol: 1e-5, label: `step ${i + 1}` }));
    tf.dispose([guided.result, conditional.result] as unknown as tf.TensorContainer);
  });

  test('s = 0 is the unconditional model (the condition dropped from the model call), bit for bit', async () => {
    const guided = await withLabel({ guidance: { scale: 0 } });
    const dropped: DiffusionModel = (input) => guidedModel({ ...input, known: { ...input.known, c: undefined } });
    const unconditional = await withLabel({ model: dropped });
    expect(guided.states).toEqual(unconditional.states);
    tf.dispose([guided.result, unconditional.result] as unknown as tf.TensorContainer);
  });

  test('s = 3: eps = eps_uncond + 3 (eps_cond - eps_uncond), against the float64 reference', async () => {
    const guided = await withLabel({ guidance: { scale: 3, modalities: ['c'] } });
    const weights = [constantWeight(0.05), sqrtAlphaBarWeight(0.5)] as const;
    expectTrajectories(guided.states, 2, (b) =>
      referenceRun({ timesteps: full, method: 'ddpm', weights, seed: 7, example: b, knownC: [1, 2][b], epsShift: 3 * 0.3 }),
    );
    tf.dispose(guided.result as unknown as tf.TensorContainer);
  });

  test('the unconditional pass sees the guided modalities as undefined, the conditional pass sees them', async () => {
    const seen: boolean[] = [];
    const spy: DiffusionModel = (input) => {
      seen.push(input.known['c'] !== undefined);
      return guidedModel(input);
    };
    const { result } = await withLabel({ model: spy, guidance: { scale: 2 }, steps: 3 });
    expect(seen).toEqual([true, false, true, false, true, false]);
    tf.dispose(result as unknown as tf.TensorContainer);
  });
});

/** Float32 bit patterns, so that -0 / +0 and NaN payloads count as different. */
const bits = (x: Float32Array) => new Uint32Array(x.buffer, x.byteOffset, x.length);

describe('determinism and batch-size independence', () => {
  const mods = () => modalitiesWith(constantWeight(0.05), sqrtAlphaBarWeight(0.5));
  const z0Bits = async (options: Partial<SampleOptions> & { batchSize: number }) => {
    const { result } = await run({ modalities: mods(), variance: 'fixedLarge', onProgress: undefined, onWarning: () => {}, ...options });
    const out = {
      z0: bits((await result.z0.data()) as Float32Array),
      x: bits((await (result.modalities['x'] as { value: tf.Tensor }).value.data()) as Float32Array),
      c: Array.from(await (result.modalities['c'] as { labels: tf.Tensor }).labels.data()),
    };
    tf.dispose(result as unknown as tf.TensorContainer);
    return out;
  };

  test('batch 4 equals batches 2 + 2 (firstExample 0 and 2), bit for bit', async () => {
    const whole = await z0Bits({ batchSize: 4, seed: 11 });
    const first = await z0Bits({ batchSize: 2, seed: 11 });
    const second = await z0Bits({ batchSize: 2, seed: 11, firstExample: 2 });
    expect(Array.from(whole.z0)).toEqual([...first.z0, ...second.z0]);
    expect(Array.from(whole.x)).toEqual([...first.x, ...second.x]);
    expect(whole.c).toEqual([...first.c, ...second.c]);
  });

  test('batch 3 equals 1 + 1 + 1 with restoration and resampling, bit for bit', async () => {
    const image = tf.tensor(Float32Array.from({ length: 3 * D }, (_, i) => Math.cos(i)), [3, ...shape]);
    const keep = tf.tensor(Float32Array.from({ length: 3 * D }, (_, i) => (i % 3 === 0 ? 1 : 0)), [3, ...shape]);
    const restore = (b: number, n: number) => ({
      image: tf.slice(image, b, n),
      keep: tf.slice(keep, b, n),
      jumpLength: 3,
      resampleCount: 2,
    });
    const parts: Uint32Array[] = [];
    for (const [b, n] of [[0, 3], [0, 1], [1, 1], [2, 1]] as const) {
      const restoration = restore(b, n);
      parts.push((await z0Bits({ batchSize: n, firstExample: b, seed: 5, restoration, steps: 10 })).z0);
      tf.dispose([restoration.image, restoration.keep]);
    }
    expect(Array.from(parts[0]!)).toEqual([...parts[1]!, ...parts[2]!, ...parts[3]!]);
    tf.dispose([image, keep]);
  });

  test('the same seed repeats; another seed differs', async () => {
    const a = await z0Bits({ batchSize: 2, seed: 3 });
    const b = await z0Bits({ batchSize: 2, seed: 3 });
    const c = await z0Bits({ batchSize: 2, seed: 4 });
    expect(Array.from(a.z0)).toEqual(Array.from(b.z0));
    expect(Array.from(a.z0)).not.toEqual(Array.from(c.z0));
  });
});

describe('constrained restoration', () => {
  const B = 2;
  const image = () => tf.tensor(Float32Array.from({ length: B * D }, (_, i) => 0.37 * i - 1.9), [B, ...shape]);
  const keepMask = [1, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1];

  test.each([
    ['ddpm', {}],
    ['ddim', { method: 'ddim', eta: 0, steps: 7 }],
    ['ddpm with resampling', { restoration: { jumpLength: 4, resampleCount: 3 } }],
  ] as const)('%s: every kept value equals the input bit for bit, the others are generated', async (_name, extra) => {
    const img = image();
    const keep = tf.tensor(keepMask, [B, ...shape]);
    const keepBool = tf.cast(keep, 'bool');
    const { restoration: r, ...rest } = extra as Partial<SampleOptions>;
    for (const k of [keep, keepBool]) {
      const { result } = await run({
        batchSize: B,
        modalities: modalitiesWith(constantWeight(0.05), sqrtAlphaBarWeight(0.5)),
        known: { x: img },
        restoration: { image: img, keep: k, ...r },
        onWarning: () => {},
        ...rest,
      });
      const out = bits((await result.z0.data()) as Float32Array);
      const input = bits((await img.data()) as Float32Array);
      keepMask.forEach((m, j) => {
        if (m === 1) expect(out[j]).toBe(input[j]);
        else expect(out[j]).not.toBe(input[j]);
      });
      tf.dispose(result as unknown as tf.TensorContainer);
      // The caller's tensors are left alone.
      expect(img.isDisposed || k.isDisposed).toBe(false);
    }
    tf.dispose([img, keep, keepBool]);
  });

  test('resampling runs the model once per denoising move of the RePaint schedule', async () => {
    const img = image();
    const keep = tf.tensor(keepMask, [B, ...shape]);
    let calls = 0;
    const counting: DiffusionModel = (input) => {
      calls += 1;
      return testModel(input);
    };
    const { result, progress } = await run({ batchSize: B, model: counting, steps: 12, restoration: { image: img, keep, jumpLength: 3, resampleCount: 4 } });
    // Jump points 1, 4, 7 (below 12 - 3 + 1), each resampling its 3 states 3 more times.
    expect(calls).toBe(12 + 3 * 3 * 3);
    expect(progress.at(-1)).toEqual({ step: calls, total: calls, t: 1 });
    tf.dispose([result, img, keep] as unknown as tf.TensorContainer);
  });
});

describe('conditioning on a known z0', () => {
  const weights = [constantWeight(0.05), sqrtAlphaBarWeight(0.5)] as const;

  test('each state is a fresh forward sample of z0 with the latest estimates; the heads read the rest', async () => {
    const B = 2;
    const z0 = tf.tensor(Float32Array.from({ length: B * D }, (_, i) => Math.sin(3 * i)), [B, ...shape]);
    const { result, states } = await run({ batchSize: B, modalities: modalitiesWith(...weights), z0Known: z0, steps: 6 });
    const timesteps = Array.from(respace(schedule, '6').timesteps);
    const lam = weights.map(lambdaTable);
    const z0Data = await z0.data();
    for (let b = 0; b < B; b++) {
      const next = exampleDraws(7, b);
      const x0 = Float64Array.from(z0Data.subarray(b * D, (b + 1) * D));
      let enc: Float64Array[] = [new Float64Array(D), new Float64Array(D)]; // no estimates before the first call
      let last = new Float64Array(D);
      for (let k = timesteps.length; k >= 1; k--) {
        const t = timesteps[k - 1]!;
        const ab = schedule.alphaBars[t - 1]!;
        const n = next();
        const zt = x0.map((v, j) => Math.sqrt(ab) * v + Math.sqrt(1 - ab) * n[j]! + lam[0]![t]! * enc[0]![j]! + lam[1]![t]! * enc[1]![j]!);
        const s = timesteps.length - k;
        expectClose(states[s]!.subarray(b * D, (b + 1) * D), zt, { rtol: 2e-5, atol: 2e-5, label: `example ${b}, t = ${t}` });
        enc = [headXF(zt), encodeCF(softmaxF(headCF(zt)))];
        last = zt;
      }
      const x = (result.modalities['x'] as { value: tf.Tensor }).value.dataSync().subarray(b * D, (b + 1) * D);
      expectClose(x, headXF(last), { rtol: 1e-5, atol: 1e-5, label: 'final x estimate' });
    }
    expect(bits((await result.z0.data()) as Float32Array)).toEqual(bits(z0Data as Float32Array));
    expect(result.z0).not.toBe(z0);
    tf.dispose([result, z0] as unknown as tf.TensorContainer);
  });
});

describe('the lambda_T warning (MATH.md 7)', () => {
  test('warns once, naming lambda_T and the modality, when an unknown modality is not negligible at T', async () => {
    const messages: string[] = [];
    const { result } = await run({ batchSize: 2, modalities: modalitiesWith(constantWeight(0.3), sqrtAlphaBarWeight(0.01)), onWarning: (m) => messages.push(m) });
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatch(/lambda_T = [0-9.]+ for 'x' \(constant\(w = 0\.3\)/);
    expect(messages[0]).toMatch(/MATH\.md 7/);
    tf.dispose(result as unknown as tf.TensorContainer);
  });

  test('silent when lambda_T * |e| is negligible, and when every modality is known', async () => {
    const messages: string[] = [];
    const quiet = await run({ batchSize: 2, modalities: modalitiesWith(constantWeight(0), sqrtAlphaBarWeight(0.01)), onWarning: (m) => messages.push(m) });
    const x = tf.zeros([2, ...shape]);
    const c = tf.tensor1d([0, 1], 'int32');
    const known = await run({ batchSize: 2, modalities: modalitiesWith(constantWeight(0.3), constantWeight(0.3)), known: { x, c }, onWarning: (m) => messages.push(m) });
    expect(messages).toEqual([]);
    tf.dispose([quiet.result, known.result, x, c] as unknown as tf.TensorContainer);
  });
});

describe('no tensor leaks over a sampling run', () => {
  const mods = () => modalitiesWith(constantWeight(0.05), sqrtAlphaBarWeight(0.5));
  const base = { model: guidedModel, schedule, shape, seed: 1, batchSize: 2, onWarning: () => {} };

  test.each([
    ['joint DDPM', {}],
    ['respaced DDIM', { method: 'ddim', eta: 0.3, respace: 'ddim10' }],
    ['conditional with guidance', { known: 'c', guidance: { scale: 2 } }],
    ['known z0', { z0Known: true, steps: 5 }],
    ['restoration with resampling', { restoration: true, steps: 9 }],
  ] as const)('%s', async (_name, extra) => {
    const c = tf.tensor1d([0, 2], 'int32');
    const z0 = tf.ones([2, ...shape]);
    const keep = tf.tensor(Array.from({ length: 2 * D }, (_, i) => i % 2), [2, ...shape]);
    const { known, z0Known, restoration, ...rest } = extra as Record<string, unknown>;
    const embBefore = embTable; // a module-level tensor, alive throughout
    await expectNoLeak(
      () =>
        sample({
          ...base,
          modalities: mods(),
          ...(rest as Partial<SampleOptions>),
          ...(known ? { known: { c } } : {}),
          ...(z0Known ? { z0Known: z0 } : {}),
          ...(restoration ? { restoration: { image: z0, keep, jumpLength: 2, resampleCount: 3 } } : {}),
        }),
      'sample',
    );
    expect(embBefore.isDisposed).toBe(false);
    expect(c.isDisposed || z0.isDisposed || keep.isDisposed).toBe(false);
    tf.dispose([c, z0, keep]);
  });

  test('a run that fails part way leaves nothing behind', async () => {
    let calls = 0;
    const failing: DiffusionModel = (input) => {
      calls += 1;
      if (calls === 4) throw new Error('model broke');
      return testModel(input);
    };
    await expectNoLeak(async () => {
      await expect(sample({ ...base, model: failing, modalities: mods() })).rejects.toThrow('model broke');
    });
    calls = 0;
    const c = tf.tensor1d([0, 2], 'int32');
    const z0 = tf.zeros([2, ...shape]);
    const keep = tf.ones([2, ...shape]);
    await expectNoLeak(async () => {
      await expect(sample({ ...base, model: failing, modalities: mods(), known: { c }, z0Known: z0 })).rejects.toThrow('model broke');
    });
    calls = 0;
    await expectNoLeak(async () => {
      const restoration = { image: z0, keep, jumpLength: 2, resampleCount: 2 };
      await expect(sample({ ...base, model: failing, modalities: mods(), steps: 6, restoration })).rejects.toThrow('model broke');
    });
    tf.dispose([z0, keep]);
    c.dispose();
  });
});
