import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mtd/random';
import type { NamedVariable } from './variables.js';

/** A dense layer `x W + b`, `W` stored `[in, out]`; `b` absent for a projection without bias. */
export interface Dense {
  readonly w: tf.Variable;
  readonly b?: tf.Variable;
}

/**
 * A dense layer with PyTorch's default init, `U(-1/sqrt(in), 1/sqrt(in))` for weight and bias,
 * drawn from `rng.fork(name)` so a value depends only on the seed and the layer's name;
 * `zero: true` starts it at exactly zero (ADM's `zero_module`). Registers the variables under
 * `name.weight` and `name.bias`.
 */
export function dense(
  rng: Rng,
  out: NamedVariable[],
  name: string,
  inDim: number,
  outDim: number,
  options: { zero?: boolean; bias?: boolean } = {},
): Dense {
  const { zero = false, bias = true } = options;
  const stream = rng.fork(name);
  const bound = 1 / Math.sqrt(inDim);
  const draw = (n: number) => (zero ? new Float32Array(n) : stream.fillUniform(new Float32Array(n), -bound, bound));
  const w = tf.tidy(() => tf.variable(tf.tensor2d(draw(inDim * outDim), [inDim, outDim]), true));
  out.push({ name: `${name}.weight`, variable: w });
  if (!bias) return { w };
  const b = tf.tidy(() => tf.variable(tf.tensor1d(draw(outDim)), true));
  out.push({ name: `${name}.bias`, variable: b });
  return { w, b };
}

export function applyDense(x: tf.Tensor, layer: Dense): tf.Tensor2D {
  const y: tf.Tensor2D = tf.matMul(x as tf.Tensor2D, layer.w as tf.Tensor2D);
  return layer.b === undefined ? y : (tf.add(y, layer.b) as tf.Tensor2D);
}

export function silu(x: tf.Tensor): tf.Tensor {
  return tf.mul(x, tf.sigmoid(x));
}

/**
 * guided-diffusion's sinusoidal timestep embedding `[cos(t f_i), sin(t f_i)]`,
 * `f_i = 10000^(-i / half)`, for timesteps `t` (int32 or float32 `[B]`); `[B, dim]` (dim even).
 */
export function timestepEmbedding(t: tf.Tensor1D, dim: number): tf.Tensor2D {
  return tf.tidy(() => {
    const half = dim / 2;
    const freqs = tf.tensor2d(
      Float32Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half)),
      [1, half],
    );
    const args = tf.mul(tf.reshape(tf.cast(t, 'float32'), [-1, 1]), freqs);
    return tf.concat([tf.cos(args), tf.sin(args)], 1) as tf.Tensor2D;
  });
}
