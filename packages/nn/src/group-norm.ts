import * as tf from '@tensorflow/tfjs';
import { checkInt, fail } from './checks.js';
import type { Norm } from './param-store.js';

/** PyTorch's GroupNorm epsilon, so weights trained there behave the same here. */
const GROUP_NORM_EPS = 1e-5;

/**
 * GroupNorm over the last (channel) axis of `[B, ..., C]`: each example's channels are split
 * into `groups` groups, each normalised over its positions and channels with the biased variance,
 * then scaled and shifted per channel. The positions are flattened so the moments run on a
 * rank-4 `[B, P, G, C/G]` tensor on every backend.
 */
export function groupNorm(x: tf.Tensor, norm: Norm, groups: number): tf.Tensor {
  const where = 'groupNorm';
  if (!(x instanceof tf.Tensor) || x.rank < 2) fail(where, 'x', 'a tensor [B, ..., C]', x);
  const shape = x.shape;
  const c = shape[shape.length - 1]!;
  checkInt(where, 'groups', groups, 1);
  if (c % groups !== 0) fail(where, 'groups', `a divisor of the ${c} channels of x`, groups);
  if (norm?.gamma?.shape.length !== 1 || norm.gamma.shape[0] !== c) fail(where, 'norm.gamma', `a tensor [${c}]`, norm?.gamma);
  if (norm.beta?.shape.length !== 1 || norm.beta.shape[0] !== c) fail(where, 'norm.beta', `a tensor [${c}]`, norm.beta);
  return tf.tidy(() => {
    const grouped = tf.reshape(x, [shape[0]!, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const normed = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, GROUP_NORM_EPS)));
    return tf.add(tf.mul(tf.reshape(normed, shape), norm.gamma), norm.beta);
  });
}
