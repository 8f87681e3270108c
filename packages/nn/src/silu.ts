import * as tf from '@tensorflow/tfjs';

/**
 * SiLU (swish) `x * sigmoid(x)`, ADM's activation. Written from two ops rather than a fused
 * kernel so its gradient exists on every tfjs backend.
 */
export function silu(x: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}
