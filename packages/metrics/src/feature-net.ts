import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import type { SafeTensor } from '@mtd/io';
import { conv3x3, matMul, maxPool2x2 } from './ops.js';

/**
 * The project's feature network: a small CNN classifier for 28x28 grey images in [-1, 1],
 *
 *   conv3x3(1 -> 32) ReLU, maxpool 2   -> 14x14x32
 *   conv3x3(32 -> 64) ReLU, maxpool 2  -> 7x7x64      ("spatial" map, for sFID)
 *   dense(3136 -> 64)                  -> 64          ("features", for FID / KID / precision-recall)
 *   ReLU, dense(64 -> 10)              -> 10 logits   (for the Inception-style score)
 *
 * sized so the float32 weights stay under 1 MB (the 3136 x 64 dense layer is 90% of them) and an
 * epoch of Fashion-MNIST trains in minutes on the wasm backend. Plain tfjs ops over tf.Variables
 * (no tfjs-layers); the convolutions are im2col + matMul (`ops.ts`).
 */
export const FEATURE_NET_ARCH = 'mtd-fmnist-cnn-v2';

/** Input height and width. */
export const FEATURE_NET_INPUT = 28;
export const FEATURE_NET_CLASSES = 10;
/** Width of the penultimate layer (the FID features). */
export const FEATURE_NET_FEATURES = 64;
/**
 * sFID keeps the first `SFID_CHANNELS` channels of the 7x7x64 map (7 * 7 * 8 = 392 numbers per
 * image), as Nash et al. 2021 keep the first 7 channels of Inception's mixed_6/conv map: enough
 * spatial detail, and a covariance small enough for the matrix square root.
 */
export const SFID_CHANNELS = 8;
export const SPATIAL_FEATURES = 7 * 7 * SFID_CHANNELS;

const C1 = 32;
const C2 = 64;
const FLAT = 7 * 7 * C2;

/** Parameter names and shapes, in file order. */
export const FEATURE_NET_SHAPES: Readonly<Record<string, readonly number[]>> = Object.freeze({
  'conv1.weight': [9, C1],
  'conv1.bias': [C1],
  'conv2.weight': [9 * C1, C2],
  'conv2.bias': [C2],
  'fc1.weight': [FLAT, FEATURE_NET_FEATURES],
  'fc1.bias': [FEATURE_NET_FEATURES],
  'fc2.weight': [FEATURE_NET_FEATURES, FEATURE_NET_CLASSES],
  'fc2.bias': [FEATURE_NET_CLASSES],
});

export type FeatureNetParams = Readonly<Record<keyof typeof FEATURE_NET_SHAPES & string, tf.Tensor>>;

export interface FeatureNetOutputs {
  /** `[B, 10]` class logits. */
  logits: tf.Tensor2D;
  /** `[B, 64]` penultimate activations, before the ReLU (see `fmnistFeatures`). */
  features: tf.Tensor2D;
  /** `[B, 392]`: the first `SFID_CHANNELS` channels of the 7x7 map, flattened HWC. */
  spatial: tf.Tensor2D;
}

/**
 * He-normal weights and zero biases as tf.Variables, drawn from `@mtd/random` so the same seed
 * gives the same network on every backend.
 */
export function initFeatureNet(seed: number): Record<string, tf.Variable> {
  const rng = createRng(seed);
  const out: Record<string, tf.Variable> = {};
  for (const [name, shape] of Object.entries(FEATURE_NET_SHAPES)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(size);
    if (name.endsWith('.weight')) rng.fork(name).fillNormal(values, 0, Math.sqrt(2 / shape[0]!));
    out[name] = tf.variable(tf.tensor(values, [...shape]), true);
  }
  return out;
}

/**
 * Forward pass on `[B, 28, 28, 1]` images in [-1, 1]. Returns all three heads; callers tidy what
 * they do not keep.
 */
export function featureNetForward(params: FeatureNetParams, images: tf.Tensor4D): FeatureNetOutputs {
  return tf.tidy(() => {
    const p = params as Record<string, tf.Tensor>;
    const b = images.shape[0];
    const h1 = maxPool2x2(
      tf.relu(tf.add(conv3x3(images, p['conv1.weight'] as tf.Tensor2D, { inputGradient: false }), p['conv1.bias']!)) as tf.Tensor4D,
    );
    const h2 = maxPool2x2(tf.relu(tf.add(conv3x3(h1, p['conv2.weight'] as tf.Tensor2D), p['conv2.bias']!)) as tf.Tensor4D);
    const flat = tf.reshape(h2, [b, FLAT]) as tf.Tensor2D;
    const features = tf.add(matMul(flat, p['fc1.weight'] as tf.Tensor2D), p['fc1.bias']!) as tf.Tensor2D;
    const logits = tf.add(matMul(tf.relu(features), p['fc2.weight'] as tf.Tensor2D), p['fc2.bias']!) as tf.Tensor2D;
    const spatial = tf.reshape(tf.slice(h2, [0, 0, 0, 0], [b, 7, 7, SFID_CHANNELS]), [b, SPATIAL_FEATURES]) as tf.Tensor2D;
    return { logits, features, spatial };
  });
}

/** The parameters as safetensors entries (float32), for `saveSafetensors`. */
export async function featureNetToSafetensors(params: FeatureNetParams): Promise<Record<string, SafeTensor>> {
  const out: Record<string, SafeTensor> = {};
  for (const name of Object.keys(FEATURE_NET_SHAPES)) {
    const t = (params as Record<string, tf.Tensor>)[name];
    if (t === undefined) throw new RangeError(`featureNetToSafetensors: params must have "${name}", got none`);
    out[name] = { dtype: 'F32', shape: [...t.shape], data: Float32Array.from(await t.data()) };
  }
  return out;
}

/**
 * Parameters from safetensors entries, checked against the architecture: a file from another
 * network fails here with the offending name and shape, not later with a shape error inside a matMul.
 */
export function featureNetFromSafetensors(tensors: Record<string, SafeTensor>, source: string): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, shape] of Object.entries(FEATURE_NET_SHAPES)) {
    const t = tensors[name];
    if (t === undefined) throw new RangeError(`featureNet: ${source} must hold "${name}", got no such tensor`);
    if (t.dtype !== 'F32' || t.shape.length !== shape.length || t.shape.some((s, i) => s !== shape[i])) {
      throw new RangeError(
        `featureNet: "${name}" in ${source} must be F32 [${shape.join(', ')}], got ${t.dtype} [${t.shape.join(', ')}]`,
      );
    }
  }
  for (const [name, shape] of Object.entries(FEATURE_NET_SHAPES)) {
    out[name] = tf.tensor(tensors[name]!.data as Float32Array, [...shape], 'float32');
  }
  return out;
}

export interface FeatureScales {
  /** Multiplier of the `features` head. */
  readonly features: number;
  /** Multiplier of the `spatial` head. */
  readonly spatial: number;
}

/**
 * The constants that bring each head to unit average variance on calibration images:
 * `1 / sqrt(mean_j Var(h_j))` over the head's dimensions `j`, in float64. One global factor per
 * head, so distances keep their geometry (FID scales by the factor squared, precision/recall do
 * not change) while KID's cubic kernel `(x.y / d + 1)^3`, which assumes coordinates of order 1,
 * stays in a sensible range. The training script stores them in the weights' metadata.
 */
export async function featureScales(params: FeatureNetParams, batches: Iterable<tf.Tensor4D>): Promise<FeatureScales> {
  const acc = { features: new Welford(FEATURE_NET_FEATURES), spatial: new Welford(SPATIAL_FEATURES) };
  for (const images of batches) {
    const out = featureNetForward(params, images);
    const [f, s] = await Promise.all([out.features.data(), out.spatial.data()]);
    tf.dispose([out.features, out.logits, out.spatial]);
    acc.features.add(f as Float32Array);
    acc.spatial.add(s as Float32Array);
  }
  return { features: 1 / Math.sqrt(acc.features.meanVariance()), spatial: 1 / Math.sqrt(acc.spatial.meanVariance()) };
}

/** Running per-dimension mean and variance (Welford), rows of `d` values at a time. */
class Welford {
  private n = 0;
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  constructor(private readonly d: number) {
    this.mean = new Float64Array(d);
    this.m2 = new Float64Array(d);
  }
  add(rows: Float32Array): void {
    for (let base = 0; base < rows.length; base += this.d) {
      this.n++;
      for (let j = 0; j < this.d; j++) {
        const x = rows[base + j]!;
        const delta = x - this.mean[j]!;
        this.mean[j]! += delta / this.n;
        this.m2[j]! += delta * (x - this.mean[j]!);
      }
    }
  }
  /** Mean over dimensions of the unbiased per-dimension variance. */
  meanVariance(): number {
    if (this.n < 2) throw new RangeError(`featureScales: batches must hold at least 2 images, got ${this.n}`);
    let s = 0;
    for (let j = 0; j < this.d; j++) s += this.m2[j]! / (this.n - 1);
    const v = s / this.d;
    if (!(v > 0)) throw new RangeError('featureScales: the features must vary over the calibration images, got zero variance');
    return v;
  }
}
