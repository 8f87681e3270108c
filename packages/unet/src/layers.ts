import * as tf from '@tensorflow/tfjs';

/**
 * 2x nearest-neighbour upsampling from reshape + concat. tfjs's resizeNearestNeighbor has a
 * wrong cpu gradient for batch > 1, and a rank-6 broadcastTo fails on webgpu; concat's gradient
 * is a slice, right on every backend.
 */
export function upsample2x(x: tf.Tensor4D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const cols = tf.reshape(x, [b, h, w, 1, c]);
  const wide = tf.reshape(tf.concat([cols, cols], 3), [b, h, 1, 2 * w, c]);
  return tf.reshape(tf.concat([wide, wide], 2), [b, 2 * h, 2 * w, c]);
}

/**
 * Sinusoidal timestep embedding `[cos(t f_i), sin(t f_i)]` with `f_i = 10000^(-i / half)`, as in
 * guided-diffusion's `timestep_embedding` (odd `dim` gets a zero last column). `t = 0` is valid.
 */
export function timestepEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  const half = Math.floor(dim / 2);
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = Math.exp((-Math.log(10000) * i) / half);
  const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), tf.tensor2d(freqs, [1, half]));
  const parts = [tf.cos(args), tf.sin(args)];
  if (dim % 2 === 1) parts.push(tf.zeros([t.shape[0], 1]));
  return tf.concat(parts, 1) as tf.Tensor2D;
}
