import * as tf from '@tensorflow/tfjs';
import { fail } from './checks.js';
import type { Dense } from './param-store.js';

/**
 * `x W + b` over the last axis of `[..., in]`, giving `[..., out]`. Leading axes are folded into
 * one so the product is a single rank-2 matMul, with the bias added in the same kernel
 * (`tf.fused.matMul`: one GPU dispatch, not two; its gradient is the unfused one's).
 */
export function linear(x: tf.Tensor, dense: Dense): tf.Tensor {
  const where = 'linear';
  if (!(x instanceof tf.Tensor) || x.rank < 1) fail(where, 'x', 'a tensor [..., in]', x);
  const shape = x.shape;
  const cin = shape[shape.length - 1]!;
  const w = dense?.weight;
  if (w?.rank !== 2 || w.shape[0] !== cin) fail(where, 'dense.weight', `a tensor [${cin}, out]`, w);
  const cout = w.shape[1]!;
  if (dense.bias?.rank !== 1 || dense.bias.shape[0] !== cout) fail(where, 'dense.bias', `a tensor [${cout}]`, dense.bias);
  return tf.tidy(() => {
    const y = tf.fused.matMul({ a: tf.reshape(x, [-1, cin]) as tf.Tensor2D, b: w as tf.Tensor2D, bias: dense.bias });
    return shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), cout]);
  });
}
