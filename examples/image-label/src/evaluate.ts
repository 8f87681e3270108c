import * as tf from '@tensorflow/tfjs';
import { classificationAccuracy } from '@mtd/metrics';
import type { Rng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';

/** Top-1 / top-5 accuracy of row-major class scores `[n, K]` against class ids (ties go to the lower class, as argmax). */
export function accuracyOf(scores: Float32Array, labels: ArrayLike<number>, classes: number): { top1: number; top5: number } {
  const where = 'accuracyOf';
  if (!Number.isInteger(classes) || classes < 5) throw new RangeError(`${where}: classes must be an integer >= 5 (top-5), got ${String(classes)}`);
  if (scores.length !== labels.length * classes) throw new RangeError(`${where}: scores must hold labels.length * classes = ${labels.length * classes} values, got ${scores.length}`);
  const rows = Array.from({ length: labels.length }, (_, i) => scores.subarray(i * classes, (i + 1) * classes));
  const { top1, top5 } = classificationAccuracy(rows, labels);
  return { top1, top5 };
}

/** `argmax` of each row of `[n, K]` scores (ties to the lower index). */
export function argmaxRows(scores: Float32Array | Float64Array, classes: number): Int32Array {
  if (!Number.isInteger(classes) || classes < 1 || scores.length % classes !== 0) {
    throw new RangeError(`argmaxRows: scores must hold a whole number of rows of ${String(classes)} classes, got ${scores.length} values`);
  }
  const n = scores.length / classes;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let k = 1; k < classes; k++) if (scores[i * classes + k]! > scores[i * classes + best]!) best = k;
    out[i] = best;
  }
  return out;
}

/** How many of `labels` fall in each class `0..K-1`. */
export function classHistogram(labels: ArrayLike<number>, classes: number): number[] {
  const out = new Array<number>(classes).fill(0);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new RangeError(`classHistogram: labels[${i}] must be a class index in 0..${classes - 1}, got ${String(y)}`);
    out[y]! += 1;
  }
  return out;
}

/** Fraction of positions where `a` and `b` hold the same class (generated label vs the feature net's reading of the generated image). */
export function agreement(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError(`agreement: a and b must be non-empty and of equal length, got ${a.length} and ${b.length}`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same / a.length;
}

/**
 * Class probabilities `[n, K]` (softmax of `logits`) of `n` grey images `[n, size, size, 1]`, in
 * batches. `logits` gets a batch tensor it must not dispose and returns a new `[B, K]` tensor.
 */
export async function softmaxOf(logits: (images: tf.Tensor4D) => tf.Tensor2D, images: Float32Array, n: number, size: number, batchSize: number): Promise<Float32Array> {
  const where = 'softmaxOf';
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${where}: batchSize must be an integer >= 1, got ${String(batchSize)}`);
  const P = size * size;
  if (images.length < n * P) throw new RangeError(`${where}: images must hold n * size * size = ${n * P} values, got ${images.length}`);
  let out: Float32Array | undefined;
  for (let first = 0; first < n; first += batchSize) {
    const B = Math.min(batchSize, n - first);
    const probs = tf.tidy(() => tf.softmax(logits(tf.tensor4d(images.subarray(first * P, (first + B) * P), [B, size, size, 1]))));
    try {
      const K = probs.shape[1]!;
      out ??= new Float32Array(n * K);
      out.set((await probs.data()) as Float32Array, first * K);
    } finally {
      probs.dispose();
    }
  }
  return out!;
}

/**
 * A forward sample of clean images without any modality term, `z_t = sqrt(alphaBar_t) x +
 * sqrt(1 - alphaBar_t) eps` (what a label head sees at `t` when the label is the unknown), with
 * `eps` from `rng`. `t = 0` returns a copy of `x`.
 */
export function noisyImages(images: Float32Array, t: number, schedule: Schedule, rng: Rng): Float32Array {
  if (!Number.isInteger(t) || t < 0 || t > schedule.T) throw new RangeError(`noisyImages: t must be an integer in 0..${schedule.T}, got ${String(t)}`);
  if (t === 0) return images.slice();
  const ab = schedule.alphaBars[t - 1]!;
  const eps = rng.fillNormal(new Float64Array(images.length));
  return Float32Array.from(images, (x, i) => Math.sqrt(ab) * x + Math.sqrt(1 - ab) * eps[i]!);
}

/**
 * Root-mean-square size of each class's encoding `e_k = E(onehot(k))` (for the U-Net label encoder,
 * `unet(zeros, t = 0, k)`): with `lambda_t` this is how strongly the label enters `z_t`.
 */
export async function encodingRms(modality: Modality): Promise<number[]> {
  if (modality.kind !== 'categorical') throw new RangeError(`encodingRms: modality must be categorical, got ${modality.kind}`);
  const K = modality.classes;
  const e = tf.tidy(() => tf.sqrt(tf.mean(tf.square(tf.reshape(modality.encoder.encode(tf.eye(K)), [K, -1])), 1)));
  try {
    return Array.from((await e.data()) as Float32Array);
  } finally {
    e.dispose();
  }
}
