import * as tf from '@tensorflow/tfjs';
import { frozenEncoder, lambdasWithZero, sqrtAlphaBarWeight, type WeightSchedule } from '@mtd/aggregation';
import { createRng } from '@mtd/random';
import { cosineSchedule, type Schedule } from '@mtd/schedule';
import type { CategoricalModality, DiffusionModel } from './model.js';

/**
 * Test support, exported as `@mtd/sampler/toy` (not from the main entry): a 2-D mixture of Gaussians whose component index is a categorical
 * label modality, and the EXACT model for it, so the sampler can be tested without training.
 *
 * Data: `k ~ Categorical(pi)`, `x | k ~ N(mu_k, s^2 I)` in 2-D, `z_0 = x`. The label enters the
 * chain through a fixed embedding, `e_k = E(onehot(k)) = table[k]`, with weight schedule `w_t`:
 *
 *     z_t = sqrt(alphaBar_t) z_0 + lambda_t e_k + sqrt(1 - alphaBar_t) eps,   eps ~ N(0, I).
 *
 * Given k, z_t is Gaussian (a sum of independent Gaussians):
 *
 *     z_t | k ~ N(m_k(t), v_t I),   m_k(t) = sqrt(alphaBar_t) mu_k + lambda_t e_k,
 *                                   v_t = alphaBar_t s^2 + 1 - alphaBar_t.
 *
 * Label posterior (Bayes; the shared isotropic variance makes the normalisers cancel):
 *
 *     p(k | z_t) = softmax_k( log pi_k - |z_t - m_k(t)|^2 / (2 v_t) ).
 *
 * Noise posterior mean given k: (eps, z_t) | k are jointly Gaussian with
 * Cov(eps, z_t | k) = sqrt(1 - alphaBar_t) I, so
 *
 *     E[eps | z_t, k] = sqrt(1 - alphaBar_t) (z_t - m_k(t)) / v_t,
 *
 * and the MMSE noise estimate (what a perfectly trained eps-network outputs) is the mixture
 *
 *     E[eps | z_t] = sum_k p(k | z_t) E[eps | z_t, k] = sqrt(1 - alphaBar_t) (z_t - sum_k p_k m_k(t)) / v_t.
 *
 * The label head outputs the logits `log p(k | z_t)` (what a perfectly trained cross-entropy head
 * converges to, up to a constant). The sampler then encodes the unknown label as
 * `E(softmax(logits)) = sum_k p(k | z_t) e_k`, its posterior expectation. Because `A_t`, `A_{t-1}`
 * and `eps` enter the reverse mean linearly, the sampler's mean is then exactly the mixture
 * `sum_k p(k | z_t) E[z_{t-1} | z_t, k]` of the per-label reverse means, i.e. the true
 * `E[z_{t-1} | z_t]` of the forward process (only the reverse variance is the usual DDPM
 * approximation).
 *
 * A known label (probabilities `q`, one-hot for a class id) replaces the prior `pi` by `q`:
 * with one-hot `q` the model returns `E[eps | z_t, k]`, the conditional model. With
 * `conditional: false` the oracle ignores `known` altogether: the unconditional model, which only
 * sees the label through `A_t` inside `z_t`.
 */
export interface MixtureToy {
  schedule: Schedule;
  /** Component means `mu_k` (K x 2). */
  means: readonly (readonly [number, number])[];
  /** Component standard deviation `s`. */
  std: number;
  /** Mixture weights `pi_k`. */
  weights: readonly number[];
  /** Label embeddings `e_k` (K x 2): the frozen encoder's table. */
  embeddings: readonly (readonly [number, number])[];
  /** Aggregation weight schedule of the label. */
  labelWeight: WeightSchedule;
}

/**
 * The toy the sampler's tests use (and a trained-model version of them should use): three
 * components at (-2, 0), (2, 0), (0, 2.5) with std 0.35 and weights 0.5 / 0.3 / 0.2; label
 * embeddings not aligned with the means; `w_t = 0.05 sqrt(alphaBar_t)` on a cosine schedule, so
 * `lambda_t` peaks at 3.55 mid-chain and `lambda_T = 2.5e-3` at T = 200.
 */
export function mixtureToy(options: { T?: number } = {}): MixtureToy {
  return {
    schedule: cosineSchedule({ T: options.T ?? 200 }),
    means: [
      [-2, 0],
      [2, 0],
      [0, 2.5],
    ],
    std: 0.35,
    weights: [0.5, 0.3, 0.2],
    embeddings: [
      [0, 1.5],
      [1.5, -0.5],
      [-1.5, -0.5],
    ],
    labelWeight: sqrtAlphaBarWeight(0.05),
  };
}

/** `N` seeded draws of the mixture: points (row-major `[N, 2]`) and their component labels. */
export function sampleMixture(toy: MixtureToy, N: number, seed: number): { x: Float32Array; k: Int32Array } {
  const rng = createRng(seed);
  const K = toy.means.length;
  const x = new Float32Array(2 * N);
  const k = new Int32Array(N);
  for (let i = 0; i < N; i++) {
    const u = rng.uniform();
    let c = 0;
    for (let acc = toy.weights[0]!; u >= acc && c < K - 1; acc += toy.weights[++c]!);
    k[i] = c;
    x[2 * i] = toy.means[c]![0] + toy.std * rng.normal();
    x[2 * i + 1] = toy.means[c]![1] + toy.std * rng.normal();
  }
  return { x, k };
}

/** The label modality of the toy. Owns one tensor (the embedding table): call `dispose` after use. */
export function mixtureLabel(toy: MixtureToy): { modality: CategoricalModality; dispose: () => void } {
  const table = tf.tensor2d(toy.embeddings.map((e) => [...e]), [toy.embeddings.length, 2]);
  const modality: CategoricalModality = {
    name: 'label',
    kind: 'categorical',
    classes: toy.means.length,
    encoder: frozenEncoder((p) => tf.matMul(p as tf.Tensor2D, table), 'labelEmbedding'),
    weight: toy.labelWeight,
  };
  return { modality, dispose: () => table.dispose() };
}

/** The exact model of the toy (see the module comment). Allocates only inside each call. */
export function mixtureOracle(toy: MixtureToy, options: { conditional?: boolean } = {}): DiffusionModel {
  const conditional = options.conditional ?? true;
  const K = toy.means.length;
  const T = toy.schedule.T;
  const lambda = lambdasWithZero(toy.schedule, [toy.labelWeight])[0]!;
  // Per-timestep float64 tables, rounded to float32 once; row t (1..T).
  const sqrtAb = new Float32Array(T + 1);
  const sqrt1mAb = new Float32Array(T + 1);
  const v = new Float32Array(T + 1);
  const lam = new Float32Array(T + 1);
  for (let t = 1; t <= T; t++) {
    const ab = toy.schedule.alphaBars[t - 1]!;
    sqrtAb[t] = Math.sqrt(ab);
    sqrt1mAb[t] = Math.sqrt(1 - ab);
    v[t] = ab * toy.std * toy.std + 1 - ab;
    lam[t] = lambda[t]!;
  }
  const logPi = toy.weights.map((p) => Math.log(p));
  return ({ zt, t, known }) => {
    const B = zt.shape[0]!;
    const pick = (table: Float32Array) => tf.reshape(tf.gather(tf.tensor1d(table), t), [B, 1, 1]);
    const mu = tf.tensor3d([toy.means.map((m) => [...m])], [1, K, 2]);
    const e = tf.tensor3d([toy.embeddings.map((m) => [...m])], [1, K, 2]);
    const means = tf.add(tf.mul(pick(sqrtAb), mu), tf.mul(pick(lam), e)); // [B, K, 2]
    const diff = tf.sub(tf.reshape(zt, [B, 1, 2]), means);
    const vB = tf.reshape(pick(v), [B, 1]);
    const label = conditional ? known['label'] : undefined;
    const logPrior = label ? tf.log(label) : tf.tile(tf.tensor2d([logPi], [1, K]), [B, 1]);
    const logits = tf.sub(logPrior, tf.div(tf.sum(tf.square(diff), 2), tf.mul(2, vB))); // [B, K]
    const p = tf.softmax(logits);
    const meanOfMeans = tf.sum(tf.mul(tf.reshape(p, [B, K, 1]), means), 1); // [B, 2]
    const eps = tf.mul(tf.div(tf.reshape(pick(sqrt1mAb), [B, 1]), vB), tf.sub(zt, meanOfMeans));
    return { eps, heads: { label: tf.logSoftmax(logits) } };
  };
}

/** Index of the component mean nearest to each 2-D point (row-major `[N, 2]` data). */
export function nearestComponent(toy: MixtureToy, points: ArrayLike<number>): Int32Array {
  const n = points.length / 2;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    toy.means.forEach(([a, b], k) => {
      const d = (points[2 * i]! - a) ** 2 + (points[2 * i + 1]! - b) ** 2;
      if (d < best) {
        best = d;
        out[i] = k;
      }
    });
  }
  return out;
}
