import * as tf from '@tensorflow/tfjs';

/**
 * The global gradient norm `sqrt(sum_i ||g_i||^2)` over every gradient, as a new scalar. Summed
 * in float32 on the device; the trainer reads it back together with the loss (one read per step).
 */
export function globalNorm(grads: readonly tf.Tensor[]): tf.Scalar {
  return tf.tidy(() => {
    if (grads.length === 0) return tf.scalar(0);
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
