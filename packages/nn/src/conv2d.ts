import * as tf from '@tensorflow/tfjs';
import { checkInt, fail } from './checks.js';
import type { Conv } from './param-store.js';

/**
 * Convolution of NHWC `x` with PyTorch's symmetric zero padding `(k - 1) / 2`, plus the bias, as
 * one kernel (`tf.fused.conv2d`: on webgpu one dispatch of @mtd/backend's conv with the bias in
 * its epilogue instead of a conv and an add; the gradient is the unfused one's).
 * tfjs's 'same' pads a stride-2 conv only at the bottom/right, which would shift ADM's
 * downsampling by one pixel. Output size `floor((S + 2 pad - k) / stride) + 1`.
 */
export function conv2d(x: tf.Tensor4D, conv: Conv, stride = 1): tf.Tensor4D {
  const where = 'conv2d';
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(where, 'x', 'a tensor [B, H, W, C]', x);
  const w = conv?.weight;
  const k = w?.shape[0];
  if (w?.rank !== 4 || k === undefined || k % 2 !== 1 || w.shape[1] !== k || w.shape[2] !== x.shape[3]) {
    fail(where, 'conv.weight', `an odd square kernel [k, k, ${x.shape[3]}, out]`, w);
  }
  const cout = w.shape[3]!;
  if (conv.bias?.rank !== 1 || conv.bias.shape[0] !== cout) fail(where, 'conv.bias', `a tensor [${cout}]`, conv.bias);
  checkInt(where, 'stride', stride, 1);
  const pad = (k - 1) / 2;
  return tf.tidy(() => tf.fused.conv2d({ x, filter: w as tf.Tensor4D, strides: stride, pad: pad === 0 ? 'valid' : pad, bias: conv.bias }));
}
