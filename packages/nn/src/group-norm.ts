import * as tf from '@tensorflow/tfjs';
import { checkInt, fail } from './checks.js';
import type { Norm } from './param-store.js';
import { silu } from './silu.js';

/** PyTorch's GroupNorm epsilon, so weights trained there behave the same here. */
const GROUP_NORM_EPS = 1e-5;

/**
 * GroupNorm over the last (channel) axis of `[B, ..., C]`: each example's channels are split
 * into `groups` groups, each normalised over its positions and channels with the biased variance,
 * then scaled and shifted per channel. The positions are flattened so the moments run on a
 * rank-4 `[B, P, G, C/G]` tensor on every backend.
 */
export function groupNorm(x: tf.Tensor, norm: Norm, groups: number, options: GroupNormOptions = {}): tf.Tensor {
  const where = 'groupNorm';
  checkGroupNormArgs(where, x, norm, groups);
  const shape = x.shape;
  const c = shape[shape.length - 1]!;
  const analytic = options.analyticGradient ?? tf.getBackend() === 'webgpu';
  if (typeof analytic !== 'boolean') fail(where, 'options.analyticGradient', 'a boolean', analytic);
  if (analytic) {
    const fused = options.fused ?? tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend()) !== undefined;
    if (typeof fused !== 'boolean') fail(where, 'options.fused', 'a boolean', fused);
    if (fused) return groupNormFused(groups)(x, norm.gamma, norm.beta);
    return groupNormAnalytic(shape, groups)(x, norm.gamma, norm.beta);
  }
  return tf.tidy(() => {
    const grouped = tf.reshape(x, [shape[0]!, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    const normed = tf.mul(tf.sub(grouped, mean), tf.rsqrt(tf.add(variance, GROUP_NORM_EPS)));
    return tf.add(tf.mul(tf.reshape(normed, shape), norm.gamma), norm.beta);
  });
}

function checkGroupNormArgs(where: string, x: tf.Tensor, norm: Norm, groups: number): void {
  if (!(x instanceof tf.Tensor) || x.rank < 2) fail(where, 'x', 'a tensor [B, ..., C]', x);
  const c = x.shape[x.shape.length - 1]!;
  checkInt(where, 'groups', groups, 1);
  if (c % groups !== 0) fail(where, 'groups', `a divisor of the ${c} channels of x`, groups);
  if (norm?.gamma?.shape.length !== 1 || norm.gamma.shape[0] !== c) fail(where, 'norm.gamma', `a tensor [${c}]`, norm?.gamma);
  if (norm.beta?.shape.length !== 1 || norm.beta.shape[0] !== c) fail(where, 'norm.beta', `a tensor [${c}]`, norm.beta);
}

export interface GroupNormOptions {
  /**
   * Backpropagate with the closed-form GroupNorm gradient instead of differentiating the forward
   * ops one by one: about a quarter of the kernels (autodiff through `tf.moments` runs ~70, many
   * of them Identity and Cast copies), which is what a GPU backend pays for per step. The forward
   * value is the same bit for bit; the gradient agrees to float32 rounding. Default: on for webgpu,
   * off elsewhere (so CPU runs reproduce earlier ones exactly).
   */
  analyticGradient?: boolean;
  /**
   * With the closed-form gradient, run the forward and the gradient as the backend's fused
   * GroupNorm kernels (`MtdGroupNorm`, `MtdGroupNormGrad`: a few dispatches instead of ~35).
   * Default: when the current backend has them registered (`@mtd/backend`'s `selectBackend`
   * registers them for webgpu unless given `{ webgpu: { groupNorm: 'tfjs' } }`).
   */
  fused?: boolean;
}

/**
 * The fused GroupNorm kernels' names and contract (implemented by `@mtd/backend` for webgpu):
 * `MtdGroupNorm` takes `{ x [B, ..., C], gamma [C], beta [C] }` and `{ groups, epsilon }` and
 * returns `[y, stats [B, G, 2]]` (each group's mean and 1/sqrt(biased variance + eps));
 * `MtdGroupNormGrad` takes `{ dy, x, gamma, stats }` and `{ groups }` and returns
 * `[dx, dgamma, dbeta]`.
 */
export const GROUP_NORM_KERNEL = 'MtdGroupNorm';
export const GROUP_NORM_GRAD_KERNEL = 'MtdGroupNormGrad';
/** `MtdGroupNorm`'s contract with `y` replaced by `y sigmoid(y)` (no gradient kernel). */
export const GROUP_NORM_SILU_KERNEL = 'MtdGroupNormSilu';

/**
 * `MtdGroupNormSilu`'s gradient: `{ dy, x, gamma, beta, stats }` (`dy` the gradient of the SiLU's
 * output) and `{ groups }` to `[dx, dgamma, dbeta]`, with `y` recomputed from `x` and the
 * statistics (neither `y` nor the gradient reaching it is stored).
 */
export const GROUP_NORM_SILU_GRAD_KERNEL = 'MtdGroupNormSiluGrad';

/**
 * `silu(groupNorm(x, norm, groups))`, ADM's `normalization` then activation. On a backend with
 * `MtdGroupNormSilu` registered (webgpu through `@mtd/backend`) it runs as that one kernel: the
 * activation applied in GroupNorm's own pass, one dispatch and one full write and read of the
 * activation fewer. Under a tape it does so only when the backend also has
 * `MtdGroupNormSiluGrad`, which backpropagates through both in GroupNorm's gradient passes;
 * otherwise it composes the two ops.
 */
export function groupNormSilu(x: tf.Tensor, norm: Norm, groups: number, options: GroupNormOptions = {}): tf.Tensor {
  const recording = (tf.engine().state as unknown as { gradientDepth: number }).gradientDepth > 0;
  const backend = tf.getBackend();
  const registered = (name: string) => tf.getKernel(name, backend) !== undefined;
  const fusable = options.fused !== false && registered(GROUP_NORM_SILU_KERNEL) && (!recording || (options.analyticGradient !== false && registered(GROUP_NORM_SILU_GRAD_KERNEL)));
  if (!fusable) return tf.tidy(() => silu(groupNorm(x, norm, groups, options)));
  // The same checks as groupNorm's (it throws before any kernel runs).
  checkGroupNormArgs('groupNormSilu', x, norm, groups);
  if (recording) return groupNormSiluFused(groups)(x, norm.gamma, norm.beta);
  return tf.tidy(() => (tf.engine().runKernel(GROUP_NORM_SILU_KERNEL, { x, gamma: norm.gamma, beta: norm.beta }, { groups, epsilon: GROUP_NORM_EPS }) as tf.Tensor[])[0]!);
}

/** GroupNorm + SiLU through the backend's fused kernels, with their gradient kernel as its gradient. */
function groupNormSiluFused(groups: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [z, stats] = tf.engine().runKernel(GROUP_NORM_SILU_KERNEL, { x, gamma, beta }, { groups, epsilon: GROUP_NORM_EPS }) as tf.Tensor[];
    save([x, gamma, beta, stats!]);
    return {
      value: z!,
      gradFunc: (dz: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sgamma, sbeta, sstats] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(GROUP_NORM_SILU_GRAD_KERNEL, { dy: dz as tf.Tensor, x: sx, gamma: sgamma, beta: sbeta, stats: sstats }, { groups }) as tf.Tensor[];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (x, gamma, beta) => f(x, gamma, beta);
}

/** GroupNorm through the backend's fused kernels, with their gradient kernel as its gradient. */
function groupNormFused(groups: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const [y, stats] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, { groups, epsilon: GROUP_NORM_EPS }) as tf.Tensor[];
    save([x, gamma, stats!]);
    return {
      value: y!,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const [sx, sgamma, sstats] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        return tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy: dy as tf.Tensor, x: sx, gamma: sgamma, stats: sstats }, { groups }) as tf.Tensor[];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (x, gamma, beta) => f(x, gamma, beta);
}

/**
 * GroupNorm with its gradient written out: with `xh = (x - mean) r`, `r = 1 / sqrt(var + eps)`
 * over each (example, group), and `y = gamma xh + beta`,
 *   dbeta = sum dy,  dgamma = sum dy xh,  dx = r (g - mean(g) - xh mean(g xh))  where g = dy gamma,
 * the means over the same (positions, channels-in-group) as the forward's.
 */
function groupNormAnalytic(shapeIn: readonly number[], groups: number): (x: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor) => tf.Tensor {
  const shape = [...shapeIn];
  const c = shape[shape.length - 1]!;
  const grouped = [shape[0]!, -1, groups, c / groups];
  const outer = shape.slice(0, -1).map((_, i) => i);
  const f = tf.customGrad(((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const [x, gamma, beta, save] = args as [tf.Tensor, tf.Tensor, tf.Tensor, tf.GradSaveFunc];
    const g = tf.reshape(x, grouped);
    const { mean, variance } = tf.moments(g, [1, 3], true);
    const r = tf.rsqrt(tf.add(variance, GROUP_NORM_EPS));
    const xh = tf.mul(tf.sub(g, mean), r);
    save([xh, r, gamma]);
    return {
      value: tf.add(tf.mul(tf.reshape(xh, shape), gamma), beta),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const d = dy as tf.Tensor;
        const [sxh, sr, sgamma] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const dbeta = tf.sum(d, outer);
        const dgamma = tf.sum(tf.mul(d, tf.reshape(sxh, shape)), outer);
        const dxh = tf.reshape(tf.mul(d, sgamma), grouped);
        const m1 = tf.mean(dxh, [1, 3], true);
        const m2 = tf.mean(tf.mul(dxh, sxh), [1, 3], true);
        const dx = tf.reshape(tf.mul(tf.sub(tf.sub(dxh, m1), tf.mul(sxh, m2)), sr), shape);
        return [dx, dgamma, dbeta];
      },
    };
  }) as Parameters<typeof tf.customGrad>[0]);
  return (x, gamma, beta) => f(x, gamma, beta);
}
