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

/** `[B, L, heads * width]` -> `[B * heads, L, width]`, head-major like ADM's legacy reshape. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, l, c] = x.shape as [number, number, number];
  return tf.reshape(tf.transpose(tf.reshape(x, [b, l, heads, c / heads]), [0, 2, 1, 3]), [b * heads, l, c / heads]);
}

export interface AttentionParams {
  norm: Norm;
  qkv: Dense;
  projOut: Dense;
  encoderKv?: Dense;
}

/**
 * ADM's AttentionBlock (with GLIDE's `encoder_kv`): GroupNorm, a 1x1 projection to q, k, v, softmax
 * attention per head, a zero-initialised output projection, and a residual connection.
 *
 * Channel order of `qkv` is ADM's "legacy" order: per head `[q, k, v]`, each `width` channels.
 * With a context `[B, L, D]`, its projections `[k, v]` per head are prepended to the keys and
 * values, so every position attends to itself and the context.
 */
export function attention(x: tf.Tensor4D, p: AttentionParams, heads: number, groups: number, context?: tf.Tensor3D): tf.Tensor4D {
  const [b, h, w, c] = x.shape;
  const width = c / heads;
  const flat = tf.reshape(groupNorm(x, p.norm, groups), [b, h * w, c]);
  const qkv = tf.reshape(linear(flat, p.qkv), [b, h * w, heads, 3 * width]);
  const [q, k, v] = tf.split(qkv, 3, 3).map((t) => splitHeads(tf.reshape(t, [b, h * w, c]), heads)) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  let keys = k;
  let values = v;
  if (context !== undefined && p.encoderKv !== undefined) {
    const l = context.shape[1];
    const kv = tf.reshape(linear(context, p.encoderKv), [b, l, heads, 2 * width]);
    const [ek, ev] = tf.split(kv, 2, 3).map((t) => splitHeads(tf.reshape(t, [b, l, c]), heads)) as [tf.Tensor3D, tf.Tensor3D];
    keys = tf.concat([ek, k], 1);
    values = tf.concat([ev, v], 1);
  }
  const weights = tf.softmax(tf.mul(tf.matMul(q, keys, false, true), 1 / Math.sqrt(width)), -1);
  const attended = tf.matMul(weights, values);
  const merged = tf.reshape(tf.transpose(tf.reshape(attended, [b, heads, h * w, width]), [0, 2, 1, 3]), [b, h * w, c]);
  return tf.add(x, tf.reshape(linear(merged, p.projOut), [b, h, w, c]));
}
