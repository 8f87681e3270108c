import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import { flatConcat, type StateLayout } from './packing.js';

/**
 * The global gradient norm `sqrt(sum_i ||g_i||^2)` over every gradient, as a new scalar. Summed
 * in float32 on the device; the trainer reads it back together with the loss (one read per step).
 *
 * `layout` (default `'per-variable'`): `'per-variable'` sums each gradient's squares apart and
 * adds the sums (2 kernels per gradient); `'flat'` concatenates the gradients first and squares
 * and sums once (a fixed handful of kernels: 490 fewer per refUNet step on webgpu, whose cost is
 * per kernel). The same norm up to float32 summation order; the trainer follows Adam's layout.
 */
export function globalNorm(grads: readonly tf.Tensor[], options: { layout?: StateLayout } = {}): tf.Scalar {
  const layout = options.layout ?? 'per-variable';
  if (layout !== 'flat' && layout !== 'per-variable') rangeFail('globalNorm', 'options.layout', "'flat' or 'per-variable'", layout);
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
    if (layout === 'flat') return tf.sqrt(tf.sum(tf.square(flatConcat(grads)))) as tf.Scalar;
    return tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g))))) as tf.Scalar;
  });
}

/**
 * The factor gradients are multiplied by under global-norm clipping, as PyTorch's
 * `clip_grad_norm_`: `min(1, maxNorm / (norm + 1e-6))`. `maxNorm` undefined or infinite means no
 * clipping (factor 1).
 */
export function clipFactor(norm: number, maxNorm: number | undefined): number {
  if (maxNorm === undefined || maxNorm === Infinity) return 1;
  return Math.min(1, maxNorm / (norm + 1e-6));
}

/**
 * `clipFactor` on the device: `min(1, maxNorm / (norm + 1e-6))` from the norm tensor, as a new
 * float32 scalar, so a step can clip without reading the norm back first (on a GPU that read-back
 * stalls the step until its gradients are done). `maxNorm` undefined or infinite gives 1.
 */
export function clipScale(norm: tf.Scalar, maxNorm: number | undefined): tf.Scalar {
  if (maxNorm === undefined || maxNorm === Infinity) return tf.scalar(1);
  return tf.tidy(() => tf.minimum(tf.scalar(1), tf.div(tf.scalar(maxNorm), tf.add(norm, tf.scalar(1e-6)))) as tf.Scalar);
}
