import * as tf from '@tensorflow/tfjs';
import { typeFail } from '@mtd/errors';

/**
 * An encoder `E_i` maps a modality's data into the diffusion space: `e_i = E_i(x_i)` has the
 * shape of `z` (MATH.md 2, 5). Encoders are fixed while the forward process is defined; whether
 * training may still send gradients into one is the encoder's own business (`frozenEncoder`
 * sends none).
 */
export interface Encoder {
  /** For reports and error messages. */
  name?: string;
  /** `x -> e`, shaped like `z` (`[B, ...]`). The caller owns the result. */
  encode(x: tf.Tensor): tf.Tensor;
}

/**
 * MATH.md 5.1: for a modality that already lives in the diffusion space (a masked image, a
 * source image). Returns its input itself, not a copy, so it costs nothing; don't dispose the
 * result separately from the input.
 */
export const identityEncoder: Encoder = Object.freeze({
  name: 'identity',
  encode(x: tf.Tensor): tf.Tensor {
    if (!(x instanceof tf.Tensor)) typeFail('identityEncoder.encode', 'x', 'a tf.Tensor', x);
    return x;
  },
});

/**
 * MATH.md 5.2: a fixed network (e.g. a pretrained label -> image-shape map) wrapped so that no
 * gradient flows into it: neither to its input nor to any variable it closes over. The forward
 * pass runs inside `tf.customGrad`, whose forward function tfjs runs with the gradient tape
 * off, and whose gradient is zero. Intermediate tensors of `fn` are disposed.
 */
export function frozenEncoder(fn: (x: tf.Tensor) => tf.Tensor, name?: string): Encoder {
  if (typeof fn !== 'function') typeFail('frozenEncoder', 'fn', 'a function (x: tf.Tensor) => tf.Tensor', fn);
  const label = name ?? (fn.name || 'frozen');
  const where = `frozenEncoder(${label}).encode`;
  const frozen = tf.customGrad((...inputs: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const x = inputs[0] as tf.Tensor;
    const value = fn(x);
    if (!(value instanceof tf.Tensor)) typeFail(where, 'fn(x)', 'a tf.Tensor', value);
    // tfjs hands back the very tensor `fn` returned; when that is the input (or any tensor made
    // outside), disposing the encoding would dispose it too. A clone shares the data, not the handle.
    return { value: tf.clone(value), gradFunc: () => tf.zerosLike(x) };
  }) as (x: tf.Tensor) => tf.Tensor;
  return Object.freeze({
    name: label,
    encode(x: tf.Tensor): tf.Tensor {
      if (!(x instanceof tf.Tensor)) typeFail(where, 'x', 'a tf.Tensor', x);
      return frozen(x);
    },
  });
}
