import * as tf from '@tensorflow/tfjs';
import { checkInt, fail } from './checks.js';
import { groupNorm } from './group-norm.js';
import { linear } from './linear.js';
import type { Dense, Norm } from './param-store.js';

/**
 * The variables of one attention block, made with `ParamStore`: `norm` (`groupNorm(c)`), `qkv`
 * (`conv1d(c, 3c)`), `projOut` (`conv1d(c, c)`, zero-initialised in ADM) and, for
 * cross-attention, `encoderKv` (`conv1d(contextDim, 2c)`).
 */
export interface AttentionParams {
  norm: Norm;
  qkv: Dense;
  projOut: Dense;
  encoderKv?: Dense;
}

/** `[B, L, heads * width]` -> `[B * heads, L, width]`, head-major like ADM's legacy reshape. */
function splitHeads(x: tf.Tensor, heads: number): tf.Tensor3D {
  const [b, l, c] = x.shape as [number, number, number];
  // One head: the transpose only moves a unit axis, the same memory order; tfjs would still run
  // a transpose program (and another in the gradient).
  if (heads === 1) return tf.reshape(x, [b, l, c]);
  return tf.reshape(tf.transpose(tf.reshape(x, [b, l, heads, c / heads]), [0, 2, 1, 3]), [b * heads, l, c / heads]);
}

/** The inverse of `splitHeads`: `[B * heads, L, width]` -> `[B, L, heads * width]`. */
function mergeHeads(x: tf.Tensor, b: number, heads: number): tf.Tensor3D {
  const [, l, width] = x.shape as [number, number, number];
  if (heads === 1) return tf.reshape(x, [b, l, width]);
  return tf.reshape(tf.transpose(tf.reshape(x, [b, heads, l, width]), [0, 2, 1, 3]), [b, l, heads * width]);
}

/**
 * ADM's AttentionBlock (with GLIDE's `encoder_kv`): GroupNorm, a 1x1 projection to q, k, v, softmax
 * attention per head with scale `1 / sqrt(width)`, an output projection, and a residual
 * connection: `x + proj_out(attend(GN(x)))` on NHWC `x` `[B, H, W, C]`.
 *
 * Channel order of `qkv` is ADM's "legacy" order: per head `[q, k, v]`, each `width` channels.
 * With a context `[B, L, D]`, its projections `[k, v]` per head are prepended to the keys and
 * values, so every position attends to itself and the context. A context is used only when
 * `p.encoderKv` exists (a self-attention block ignores it).
 */
export function attention(x: tf.Tensor4D, p: AttentionParams, heads: number, groups: number, context?: tf.Tensor3D): tf.Tensor4D {
  const where = 'attention';
  if (!(x instanceof tf.Tensor) || x.rank !== 4) fail(where, 'x', 'a tensor [B, H, W, C]', x);
  const [b, h, w, c] = x.shape;
  checkInt(where, 'heads', heads, 1);
  if (c % heads !== 0) fail(where, 'heads', `a divisor of the ${c} channels of x`, heads);
  if (p?.qkv?.weight.shape[1] !== 3 * c) fail(where, 'p.qkv.weight', `a tensor [${c}, ${3 * c}]`, p?.qkv?.weight);
  if (p.projOut?.weight.shape[1] !== c) fail(where, 'p.projOut.weight', `a tensor [${c}, ${c}]`, p.projOut?.weight);
  const useContext = context !== undefined && p.encoderKv !== undefined;
  if (useContext) {
    if (!(context instanceof tf.Tensor) || context.rank !== 3 || context.shape[0] !== b) fail(where, 'context', `a tensor [${b}, L, D]`, context);
    if (p.encoderKv!.weight.shape[1] !== 2 * c) fail(where, 'p.encoderKv.weight', `a tensor [D, ${2 * c}]`, p.encoderKv!.weight);
  }
  return tf.tidy(() => {
    const width = c / heads;
    const flat = tf.reshape(groupNorm(x, p.norm, groups), [b, h * w, c]);
    const qkv = tf.reshape(linear(flat, p.qkv), [b, h * w, heads, 3 * width]);
    const [q, k, v] = tf.split(qkv, 3, 3).map((t) => splitHeads(tf.reshape(t, [b, h * w, c]), heads)) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    let keys = k;
    let values = v;
    if (useContext) {
      const l = context!.shape[1];
      const kv = tf.reshape(linear(context!, p.encoderKv!), [b, l, heads, 2 * width]);
      const [ek, ev] = tf.split(kv, 2, 3).map((t) => splitHeads(tf.reshape(t, [b, l, c]), heads)) as [tf.Tensor3D, tf.Tensor3D];
      keys = tf.concat([ek, k], 1);
      values = tf.concat([ev, v], 1);
    }
    const weights = tf.softmax(tf.mul(tf.matMul(q, keys, false, true), 1 / Math.sqrt(width)), -1);
    const attended = tf.matMul(weights, values);
    const merged = mergeHeads(attended, b, heads);
    return tf.add(x, tf.reshape(linear(merged, p.projOut), [b, h, w, c]));
  });
}
