import * as tf from '@tensorflow/tfjs';
import { fail } from './checks.js';

export interface SiluOptions {
  /**
   * Backpropagate with the closed-form gradient `sigmoid(x) (1 + x (1 - sigmoid(x)))` from the
   * saved sigmoid (5 kernels) instead of differentiating `x * sigmoid(x)` op by op (about 12):
   * what a GPU backend pays for per kernel. The forward value is the same bit for bit. Default: on
   * for webgpu, off elsewhere (as `groupNorm`'s `analyticGradient`).
   */
  analyticGradient?: boolean;
  /**
   * With the closed-form gradient, run the forward and the gradient as the backend's fused SiLU
   * kernels (`MtdSilu`, `MtdSiluGrad`: one dispatch each instead of 2 and 5). Default: when the
   * current backend has them registered (`@mtd/backend`'s `selectBackend` registers them for
   * webgpu unless given `{ webgpu: { silu: 'tfjs' } }`).
   */
  fused?: boolean;
}

/**
 * The fused SiLU kernels' names and contract (implemented by `@mtd/backend` for webgpu):
 * `MtdSilu` takes `{ x }` and returns `x * sigmoid(x)`; `MtdSiluGrad` takes `{ dy, x }` and returns
 * `dy * s (1 + x (1 - s))`, `s = sigmoid(x)`.
 */
export const SILU_KERNEL = 'MtdSilu';
export const SILU_GRAD_KERNEL = 'MtdSiluGrad';

/**
 * SiLU (swish) `x * sigmoid(x)`, ADM's activation. Written from two ops rather than a fused
 * kernel so its gradient exists on every tfjs backend.
 */
export function silu(x: tf.Tensor, options: SiluOptions = {}): tf.Tensor {
  const analytic = options.analyticGradient ?? tf.getBackend() === 'webgpu';
  if (typeof analytic !== 'boolean') fail('silu', 'options.analyticGradient', 'a boolean', analytic);
  if (analytic) {
    const fused = options.fused ?? tf.getKernel(SILU_KERNEL, tf.getBackend()) !== undefined;
    if (typeof fused !== 'boolean') fail('silu', 'options.fused', 'a boolean', fused);
    return fused ? siluFused(x) : siluAnalytic(x);
  }
  return tf.tidy(() => tf.mul(x, tf.sigmoid(x)));
}

const siluAnalytic = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  const s = tf.sigmoid(x);
  save([x, s]);
  return {
    value: tf.mul(x, s),
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
      const [sx, ss] = saved as [tf.Tensor, tf.Tensor];
      return [tf.mul(dy as tf.Tensor, tf.mul(ss, tf.add(1, tf.mul(sx, tf.sub(1, ss)))))];
    },
  };
}) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** SiLU through the backend's fused kernels, with the gradient kernel as its gradient. */
const siluFused = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const [x, save] = args as [tf.Tensor, tf.GradSaveFunc];
  save([x]);
  return {
    value: tf.engine().runKernel(SILU_KERNEL, { x }) as tf.Tensor,
    gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => [tf.engine().runKernel(SILU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0]! }) as tf.Tensor],
  };
}) as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;
