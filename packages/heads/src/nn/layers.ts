// Kept in step with @mtd/unet/src/layers.ts (heads must not depend on @mtd/unet).
import * as tf from '@tensorflow/tfjs';
import type { Conv, Dense, Norm } from './params.js';

/** PyTorch's GroupNorm epsilon, so weights trained there behave the same here. */
const GROUP_NORM_EPS = 1e-5;

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * GroupNorm over the last (channel) axis of `[B, ..., C]`. The positions are flattened so the
 * moments run on a rank-4 `[B, P, G, C/G]` tensor on every backend.
 */
export function groupNorm(x: tf.Tensor, norm: Norm, groups: number): tf.Tensor {
  const shape = x.shape;
  const c = shape[shape.length - 1]!;
  const grouped = tf.reshape(x, [shape[0]!, -1, groups, c / groups]);
  const { mean, variance } = tf.moments(grouped, [1, 3], true);
  const normed = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, GROUP_NORM_EPS)));
  return tf.add(tf.mul(tf.reshape(normed, shape), norm.gamma), norm.beta);
}

/**
 * Convolution with PyTorch's symmetric zero padding `(k - 1) / 2`. tfjs's 'same' pads a
 * stride-2 conv only at the bottom/right, which would shift ADM's downsampling by one pixel.
 */
export function conv2d(x: tf.Tensor4D, conv: Conv, stride = 1): tf.Tensor4D {
  const k = conv.weight.shape[0]!;
  const pad = (k - 1) / 2;
  return tf.add(tf.conv2d(x, conv.weight as tf.Tensor4D, stride, pad === 0 ? 'valid' : pad), conv.bias);
}

/** `x W + b` over the last axis of `[..., in]`. */
export function linear(x: tf.Tensor, dense: Dense): tf.Tensor {
  const shape = x.shape;
  const cin = shape[shape.length - 1]!;
  const flat = tf.reshape(x, [-1, cin]);
  const y = tf.add(tf.matMul(flat, dense.weight), dense.bias);
  return shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), dense.weight.shape[1]!]);
}
