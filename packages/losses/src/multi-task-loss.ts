import * as tf from '@tensorflow/tfjs';
import { checkExampleWeights, checkFloat, checkNonNegative, checkTensor, fail, sameShape } from './checks.js';
import { checkNoisePair } from './noise-loss.js';
import { perExampleCrossEntropy, perExampleMse, weightedMean } from './per-example.js';

/** How a head's output is scored: the decoder distribution of MATH.md 4. */
export type HeadKind = 'gaussian' | 'categorical';

/** One decoder head's contribution to the multi-task loss. */
export interface HeadLossTerm {
  /** Key of this term in the result's `terms`; unique within one call. */
  name: string;
  /**
   * `gaussian`: `L_i = mean squared error` (a Gaussian decoder with fixed variance), target and
   * prediction of the same shape. `categorical`: softmax cross-entropy, prediction = logits
   * `[B, ..., K]`, target = int32 class ids `[B, ...]` or class probabilities `[B, ..., K]`.
   */
  kind: HeadKind;
  target: tf.Tensor;
  prediction: tf.Tensor;
  /** `w_i` in `rho * sum_i w_i L_i`; default 1. */
  weight?: number;
  /** Per-example weights for this head only, float32 `[B]`; default none. */
  exampleWeights?: tf.Tensor1D;
}

export interface MultiTaskLossInput {
  /** The noise that made `z_t`. */
  eps: tf.Tensor;
  /** The U-Net's noise prediction `epsilon_theta(z_t, t)`. */
  epsHat: tf.Tensor;
  heads?: readonly HeadLossTerm[];
  /** Weight of the decoder terms; the paper uses 0.1. */
  rho?: number;
  /**
   * Per-example weights of the noise term, float32 `[B]` (timestep weighting such as Min-SNR,
   * which is derived for the noise objective; a head takes its own `exampleWeights`).
   */
  exampleWeights?: tf.Tensor1D;
}

export interface MultiTaskLoss {
  /** `noise + rho * sum_i w_i L_i`: the scalar to minimise. */
  total: tf.Scalar;
  /** The (weighted) noise term. */
  noise: tf.Scalar;
  /** Each head's `L_i` by name, before `rho` and `w_i`, so logs compare across settings. */
  terms: Record<string, tf.Scalar>;
}

/**
 * MT-Diffusion's training loss (MATH.md 4, paper eq. 6):
 * `L = || eps - epsilon_theta ||^2 + rho * sum_i w_i L_i`, with `L_i` the MSE of a Gaussian head
 * or the softmax cross-entropy of a categorical head. Every term is a per-example mean over
 * elements (positions), then a mean over the batch.
 *
 * All returned scalars are new tensors owned by the caller. Inside `optimizer.minimize` only
 * `total` survives its tidy; to log the terms, use `tf.variableGrads` and dispose them yourself.
 */
export function multiTaskLoss(input: MultiTaskLossInput): MultiTaskLoss {
  const where = 'multiTaskLoss';
  if (input === null || typeof input !== 'object') fail(where, 'input', 'an object { eps, epsHat, heads?, rho? }', input);
  const { eps, epsHat, heads = [], rho = 0.1 } = input;
  checkNoisePair(where, eps, epsHat);
  checkNonNegative(where, 'rho', rho);
  const batch = eps.shape[0]!;
  const noiseWeights =
    input.exampleWeights === undefined
      ? undefined
      : checkExampleWeights(where, 'exampleWeights', input.exampleWeights, batch);
  if (!Array.isArray(heads)) fail(where, 'heads', 'an array of head terms', heads);
  const seen = new Set<string>();
  heads.forEach((h, i) => checkHeadTerm(where, `heads[${i}]`, h, batch, seen));

  return tf.tidy(() => {
    const noisePer = perExampleMse(eps, epsHat);
    const noise = weightedMean(noisePer, noiseWeights);
    const terms: Record<string, tf.Scalar> = {};
    let decoderSum: tf.Scalar | undefined;
    for (const h of heads) {
      const per =
        h.kind === 'gaussian' ? perExampleMse(h.target, h.prediction) : perExampleCrossEntropy(h.target, h.prediction);
      const term = weightedMean(per, h.exampleWeights);
      terms[h.name] = term;
      const weighted = tf.mul(term, h.weight ?? 1);
      decoderSum = decoderSum === undefined ? (weighted as tf.Scalar) : (tf.add(decoderSum, weighted) as tf.Scalar);
    }
    const total = decoderSum === undefined ? tf.clone(noise) : (tf.add(noise, tf.mul(decoderSum, rho)) as tf.Scalar);
    return { total, noise, terms };
  });
}

function checkHeadTerm(where: string, arg: string, h: unknown, batch: number, seen: Set<string>): void {
  if (h === null || typeof h !== 'object') fail(where, arg, 'an object { name, kind, target, prediction }', h);
  const term = h as Partial<HeadLossTerm>;
  if (typeof term.name !== 'string' || term.name === '') fail(where, `${arg}.name`, 'a non-empty string', term.name);
  if (seen.has(term.name)) fail(where, `${arg}.name`, 'unique among the heads', term.name);
  seen.add(term.name);
  if (term.kind !== 'gaussian' && term.kind !== 'categorical') {
    fail(where, `${arg}.kind`, '"gaussian" or "categorical"', term.kind);
  }
  if (term.weight !== undefined) checkNonNegative(where, `${arg}.weight`, term.weight);
  const pred = checkTensor(where, `${arg}.prediction`, term.prediction);
  const target = checkTensor(where, `${arg}.target`, term.target);
  checkFloat(where, `${arg}.prediction`, pred);
  if (pred.rank < 1 || pred.shape[0] !== batch) {
    fail(where, `${arg}.prediction`, `a tensor with batch ${batch} (the batch of eps)`, pred);
  }
  if (term.kind === 'gaussian') {
    checkFloat(where, `${arg}.target`, target);
    if (!sameShape(target.shape, pred.shape)) {
      fail(where, `${arg}.target`, `a float32 tensor of the prediction's shape [${pred.shape.join(', ')}]`, target);
    }
  } else {
    if (pred.rank < 2) fail(where, `${arg}.prediction`, 'logits of rank >= 2 [B, ..., K]', pred);
    const idShape = pred.shape.slice(0, -1);
    const okIds = target.dtype === 'int32' && sameShape(target.shape, idShape);
    const okProbs = target.dtype === 'float32' && sameShape(target.shape, pred.shape);
    if (!okIds && !okProbs) {
      fail(
        where,
        `${arg}.target`,
        `int32 class ids [${idShape.join(', ')}] or float32 probabilities [${pred.shape.join(', ')}]`,
        target,
      );
    }
  }
  if (term.exampleWeights !== undefined) checkExampleWeights(where, `${arg}.exampleWeights`, term.exampleWeights, batch);
}
