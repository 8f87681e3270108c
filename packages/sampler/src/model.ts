import * as tf from '@tensorflow/tfjs';
import { isWeightSchedule, type Encoder, type WeightSchedule } from '@mtd/aggregation';
import { rangeFail, shapeText, typeFail } from '@mtd/errors';
import { gotShape, listNames, sameShape } from './errors.js';

/**
 * The model interface and the modality descriptions every sampler (and the trainer) shares.
 *
 * The interface is deliberately narrow: one synchronous call that maps `(z_t, t, known)` to the
 * noise estimate and one estimate per head (MATH.md 3). Any backbone fits behind it: a U-Net with
 * heads, an analytic oracle, a wrapper that drops the condition for classifier-free guidance.
 */

/** What the model is given at one reverse step. */
export interface ModelInput {
  /** The noisy state `z_t`, float32 `[B, ...shape]`. */
  readonly zt: tf.Tensor;
  /**
   * Original 1-based timesteps, int32 `[B]`. With a respaced schedule these are the ORIGINAL
   * timesteps the respaced steps stand for (`respace(...).timesteps`), the ones the model was
   * trained on, never the respaced indices.
   */
  readonly t: tf.Tensor1D;
  /**
   * The modalities known for this call, by name, in canonical form (see `modalityInput`):
   * gaussian modalities as given by the user, categorical ones as float32 probabilities `[B, K]`
   * (one-hot for known labels). A modality that is not known is `undefined` or absent; treat
   * both alike. For classifier-free guidance the sampler calls the model a second time with the
   * guided modalities set to `undefined`: that is the "null condition". A model without a
   * conditioning path ignores this record (the modalities still reach it through `A_t` in `z_t`).
   */
  readonly known: Readonly<Record<string, tf.Tensor | undefined>>;
}

/** What the model returns. */
export interface ModelOutput {
  /** `epsilon_theta(z_t, t)`, float32, shaped exactly like `zt`. */
  readonly eps: tf.Tensor;
  /**
   * One estimate per modality head, by modality name (MATH.md 3): for a gaussian modality the
   * estimate `xHat_i` of its data (whatever shape its encoder takes), for a categorical modality
   * unnormalised logits `[B, K]`. A head is needed for every modality that is not known; heads of
   * known modalities may be left out, and heads that name no modality of the run are ignored.
   */
  readonly heads: Readonly<Record<string, tf.Tensor>>;
}

/**
 * A reverse model. It must be synchronous (tfjs kernels are; only reads are async) and must
 * not dispose its inputs. The sampler runs each call inside `tf.tidy`, so intermediate tensors
 * the model makes are cleaned up for it, and it never disposes tensors the model keeps itself.
 * For the sampler's batch-size independence the model must treat examples independently
 * (no batch statistics; batch-norm in inference mode is fine).
 */
export type DiffusionModel = (input: ModelInput) => ModelOutput;

interface ModalityBase {
  /** Unique name; the key in `known`, in the model's `heads` and in the results. */
  readonly name: string;
  /** `E_i`: maps the modality's canonical form to the diffusion space (`[B, ...shape]`). */
  readonly encoder: Encoder;
  /** `w_{t,i}`, the modality's aggregation weight schedule (MATH.md 2). */
  readonly weight: WeightSchedule;
}

/** A continuous modality with a Gaussian decoder (MSE head): an image, a representation. */
export interface GaussianModality extends ModalityBase {
  readonly kind: 'gaussian';
}

/**
 * A discrete modality with a categorical decoder (cross-entropy head): a class label.
 *
 * Its encoder always receives probabilities, float32 `[B, K]`: one-hot rows for a known label,
 * `softmax(logits)` of the head for an estimated one. With a linear encoder (an embedding matrix
 * `e_k`, e.g. `frozenEncoder(p => tf.matMul(p, table))`) an estimated label is thus encoded as its
 * posterior expectation `sum_k p(k | z_t) e_k`, which makes the sampler's mean the exact mixture
 * of the per-class reverse means (the aggregates enter the mean linearly).
 */
export interface CategoricalModality extends ModalityBase {
  readonly kind: 'categorical';
  /** Number of classes `K`. */
  readonly classes: number;
}

export type Modality = GaussianModality | CategoricalModality;

/** Validates a modality list: unique names, known kinds, encoders and weight schedules. */
export function checkModalities(where: string, modalities: unknown): readonly Modality[] {
  if (!Array.isArray(modalities)) typeFail(where, 'modalities', 'an array of Modality', modalities);
  const seen = new Set<string>();
  modalities.forEach((m: unknown, i) => {
    const arg = `modalities[${i}]`;
    if (m === null || typeof m !== 'object') typeFail(where, arg, 'a Modality object', m);
    const { name, encoder, weight } = m as Partial<CategoricalModality>;
    const kind: unknown = (m as { kind?: unknown }).kind;
    if (typeof name !== 'string' || name.length === 0) typeFail(where, `${arg}.name`, 'a non-empty string', name);
    if (seen.has(name)) rangeFail(where, `${arg}.name`, 'unique among the modalities', name);
    seen.add(name);
    if (kind !== 'gaussian' && kind !== 'categorical') rangeFail(where, `${arg}.kind`, `'gaussian' or 'categorical'`, kind);
    if (kind === 'categorical') {
      const K = (m as { classes?: unknown }).classes;
      if (typeof K !== 'number' || !Number.isInteger(K) || K < 1) {
        rangeFail(where, `${arg}.classes`, 'an integer >= 1 (the number of classes)', K);
      }
    }
    if (!encoder || typeof encoder !== 'object' || typeof encoder.encode !== 'function') {
      typeFail(where, `${arg}.encoder`, 'an Encoder { encode(x) } from @mtd/aggregation', encoder);
    }
    if (!isWeightSchedule(weight)) {
      typeFail(where, `${arg}.weight`, 'a WeightSchedule (constantWeight, sqrtAlphaBarWeight, ...)', weight);
    }
  });
  return modalities as readonly Modality[];
}

/**
 * Throws unless every key of `record` names a modality. Used for `known`, `guidance.modalities`
 * and the model's heads, so a typo fails loudly instead of being ignored.
 */
export function checkNames(where: string, arg: string, names: Iterable<string>, modalities: readonly Modality[]): void {
  const valid = modalities.map((m) => m.name);
  for (const name of names) {
    if (!valid.includes(name)) rangeFail(where, arg, `a modality name (one of ${listNames(valid)})`, name);
  }
}

/**
 * The canonical form of a known value, the one the encoder and the model receive. Owned by the
 * caller (always a new tensor handle, so disposing it never frees the user's tensor).
 *
 * - gaussian: the tensor as given (float32, batch first), cloned;
 * - categorical: class ids (int32 `[B]`, each in `0..K-1`) become one-hot float32 `[B, K]`;
 *   float32 `[B, K]` rows are taken as probabilities (each row >= 0, summing to 1 within 1e-3).
 *
 * Value checks read the data back, so on webgpu prefer the async `checkModalityValues` first.
 */
export function modalityInput(modality: Modality, value: tf.Tensor, batch: number, where = 'modalityInput'): tf.Tensor {
  const arg = `known.${modality.name}`;
  if (!(value instanceof tf.Tensor)) typeFail(where, arg, 'a tf.Tensor', value);
  if (value.rank < 1 || value.shape[0] !== batch) {
    rangeFail(where, `${arg}.shape`, `a shape with the batch size ${batch} first`, gotShape(value.shape));
  }
  if (modality.kind === 'gaussian') {
    if (value.dtype !== 'float32') typeFail(where, arg, 'a float32 tensor', value);
    return tf.clone(value);
  }
  const K = modality.classes;
  if (value.dtype === 'int32') {
    if (value.rank !== 1) rangeFail(where, `${arg}.shape`, `[${batch}] (class ids) or [${batch}, ${K}] (probabilities)`, gotShape(value.shape));
    return tf.tidy(() => tf.cast(tf.oneHot(value as tf.Tensor1D, K), 'float32'));
  }
  if (value.dtype !== 'float32') typeFail(where, arg, 'int32 class ids or float32 probabilities', value);
  if (!sameShape(value.shape, [batch, K])) {
    rangeFail(where, `${arg}.shape`, `[${batch}] (class ids) or [${batch}, ${K}] (probabilities)`, gotShape(value.shape));
  }
  return tf.clone(value);
}

/** Async value checks of a known value (class ids in range, probability rows). */
export async function checkModalityValues(modality: Modality, value: tf.Tensor, where: string): Promise<void> {
  if (modality.kind !== 'categorical') return;
  const arg = `known.${modality.name}`;
  const K = modality.classes;
  const data = await value.data();
  if (value.dtype === 'int32') {
    data.forEach((v, b) => {
      if (!(v >= 0 && v < K)) rangeFail(where, `${arg}[${b}]`, `a class id in 0..${K - 1}`, v);
    });
    return;
  }
  for (let b = 0; b * K < data.length; b++) {
    let sum = 0;
    for (let k = 0; k < K; k++) {
      const p = data[b * K + k]!;
      if (!(p >= 0)) rangeFail(where, `${arg}[${b}][${k}]`, 'a probability >= 0', p);
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-3) rangeFail(where, `${arg}[${b}] (a row of probabilities)`, 'summing to 1', sum);
  }
}

/**
 * What the encoder of `modality` receives for a head's estimate: the estimate itself for a
 * gaussian modality, `softmax(logits)` for a categorical one. Owned by the caller.
 */
export function estimateInput(modality: Modality, head: tf.Tensor, batch: number, where = 'estimateInput'): tf.Tensor {
  const arg = `model output heads.${modality.name}`;
  if (!(head instanceof tf.Tensor)) typeFail(where, arg, 'a tf.Tensor', head);
  if (head.dtype !== 'float32') typeFail(where, arg, 'a float32 tensor', head);
  if (modality.kind === 'gaussian') {
    if (head.rank < 1 || head.shape[0] !== batch) {
      rangeFail(where, `${arg}.shape`, `a shape with the batch size ${batch} first`, gotShape(head.shape));
    }
    return tf.clone(head);
  }
  if (!sameShape(head.shape, [batch, modality.classes])) {
    rangeFail(where, `${arg}.shape`, `[${batch}, ${modality.classes}] (logits)`, gotShape(head.shape));
  }
  return tf.softmax(head as tf.Tensor2D);
}

/**
 * `e_i = E_i(input)` for a canonical input, checked to have the shape of `z`. Owned by the
 * caller: an encoder that returns its input (the identity) gets a new handle, so the encoding can
 * be disposed on its own.
 */
export function encodeModality(modality: Modality, input: tf.Tensor, zShape: readonly number[], where = 'encodeModality'): tf.Tensor {
  const e = modality.encoder.encode(input);
  const arg = `the encoding of '${modality.name}'`;
  if (!(e instanceof tf.Tensor)) typeFail(where, arg, 'a tf.Tensor', e);
  if (e.dtype !== 'float32') typeFail(where, arg, 'a float32 tensor', e);
  if (!sameShape(e.shape, zShape)) rangeFail(where, `${arg}.shape`, `${shapeText(zShape)} (the shape of z)`, gotShape(e.shape));
  return e === input ? tf.clone(e) : e;
}
