import * as tf from '@tensorflow/tfjs';
import { leadingSumWgsl } from './leadingSumWgsl.js';
import { SIGMOID } from './siluWgsl.js';
import { FlatProgram, setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * GroupNorm as WGSL programs for tfjs's WebGPU backend, registered as two kernels that
 * `@mtd/nn`'s `groupNorm` uses when the current backend has them (the names below are the
 * contract between the two packages):
 *
 * - `MtdGroupNorm`: inputs `{ x [B, ..., C], gamma [C], beta [C] }`, attrs `{ groups, epsilon }`;
 *   outputs `[y, stats]`, `stats [B, G, 2]` holding each (example, group)'s mean and 1/sqrt(var + eps)
 *   (biased variance, two passes over the data).
 * - `MtdGroupNormGrad`: inputs `{ dy, x, gamma, stats }`, attrs `{ groups }`; outputs
 *   `[dx, dgamma, dbeta]`: with `xh = (x - mean) r` and `g = dy gamma`,
 *   `dx = r (g - mean(g) - xh mean(g xh))`, `dgamma = sum dy xh`, `dbeta = sum dy`.
 *
 * tfjs's ops take ~15 dispatches for the forward (moments: transposes, reductions, elementwise)
 * and ~20 for the closed-form gradient; these take 2 and 4 (7 for groups of more than 256
 * channels: then dgamma and dbeta are leading sums of full-size tensors).
 */
export const GROUP_NORM_KERNEL = 'MtdGroupNorm';
export const GROUP_NORM_GRAD_KERNEL = 'MtdGroupNormGrad';
/** `MtdGroupNorm` with SiLU applied to `y` in the same pass: outputs `[z = y sigmoid(y), stats]`. */
export const GROUP_NORM_SILU_KERNEL = 'MtdGroupNormSilu';
/**
 * `MtdGroupNormSilu`'s gradient: inputs `{ dy, x, gamma, beta, stats }` (`dy` the gradient of
 * `z`), attrs `{ groups }`; outputs `[dx, dgamma, dbeta]`. The GroupNorm gradient of
 * `dy silu'(y)`, `silu'(y) = s (1 + y (1 - s))` with `s = sigmoid(y)`, `y` recomputed from `x`
 * and the statistics in each pass: neither `y` nor `dy silu'(y)` is stored.
 */
export const GROUP_NORM_SILU_GRAD_KERNEL = 'MtdGroupNormSiluGrad';

/**
 * WGSL: the gradient reaching GroupNorm's output `y = xh gamma + beta` through a SiLU, from the
 * SiLU's output gradient `dz` (the SiLU derivative `s (1 + y (1 - s))`, as siluWgsl.ts's gradient
 * program; MATH.md 3 names the GroupNorm-SiLU blocks, not their derivatives).
 */
const SILU_THROUGH = `
  ${SIGMOID}
  fn siluThrough(dz : f32, xh : f32, gammaC : f32, betaC : f32) -> f32 {
    let y = xh * gammaC + betaC;
    let s = sigmoidOf(y);
    return dz * (s * (1.0 + y * (1.0 - s)));
  }
`;

const THREADS = 256;

/** Shapes every program needs: rows = B x positions, and the channel split. */
interface Geometry {
  batch: number;
  positions: number;
  channels: number;
  groups: number;
  perGroup: number;
}

function geometry(shape: readonly number[], groups: number): Geometry {
  const channels = shape[shape.length - 1]!;
  const positions = shape.slice(1, -1).reduce((a, b) => a * b, 1);
  return { batch: shape[0]!, positions, channels, groups, perGroup: channels / groups };
}

function size(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function intUniforms(values: number[]): Array<{ type: string; data: number[] }> {
  return values.map((v) => ({ type: 'int32', data: [v] }));
}

/**
 * WGSL: thread `lane`'s elements of group (b, g), `count` = positions x perGroup of them, and the
 * sum over the workgroup of `threads` lanes (`partial` holds THREADS, a power of two: the lanes a
 * smaller workgroup lacks are zeroed, so the tree runs unchanged).
 */
const groupElement = (threads: number) => `
  fn groupElement(b : i32, g : i32, e : i32) -> i32 {
    let p = e / uniforms.perGroup;
    return (b * uniforms.positions + p) * uniforms.channels + g * uniforms.perGroup + e % uniforms.perGroup;
  }
  fn workgroupSum(lane : i32, value : f32) -> f32 {
    partial[lane] = value;
    ${threads < THREADS ? `if (lane < ${THREADS - threads}) { partial[${threads} + lane] = 0.0; }` : ''}
    workgroupBarrier();
    for (var stride = ${THREADS / 2}; stride > 0; stride = stride / 2) {
      if (lane < stride) {
        partial[lane] = partial[lane] + partial[lane + stride];
      }
      workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
  }
`;

const GROUP_UNIFORMS = 'positions : i32, channels : i32, groups : i32, perGroup : i32, count : i32, steps : i32, total : i32,';

/** Workgroups per dispatch dimension (WebGPU's default limit). */
const MAX_WORKGROUPS = 65535;

/**
 * The frame of a program with one workgroup per (example, group), in rows of 65,535 workgroups
 * when there are more; its `main` starts with `groupPrologue`.
 */
abstract class PerGroupProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  abstract uniforms: string;
  outputShape: number[];
  dispatchLayout = { x: [0], y: [1] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];

  /** `threads`: the workgroup's lanes, THREADS or fewer (see GradStatsProgram). */
  constructor(g: Geometry, threads = THREADS) {
    const total = g.batch * g.groups;
    this.workgroupSize = [threads, 1, 1];
    this.outputShape = [total, 2];
    this.dispatch = [Math.min(total, MAX_WORKGROUPS), Math.ceil(total / MAX_WORKGROUPS), 1];
  }

  abstract getUserCode(): string;
}

/** WGSL: the shared reduction scratch, helpers, and `main`'s opening: lane, group id, b, g, count. */
const groupPrologue = (threads: number) => `
  var<workgroup> partial : array<f32, ${THREADS}>;
  ${groupElement(threads)}
  fn main() {
    let lane = i32(localId.x);
    let id = i32(workgroupId.y) * ${MAX_WORKGROUPS} + i32(workgroupId.x);
    // Past the last group (the 2-D dispatch's remainder): no reads, no write; the barriers in
    // workgroupSum still run for the whole workgroup.
    let count = select(0, uniforms.count, id < uniforms.total);
    let b = id / uniforms.groups;
    let g = id % uniforms.groups;
`;

/** One workgroup per (example, group): mean, then 1/sqrt(biased variance + eps). */
class StatsProgram extends PerGroupProgram {
  variableNames = ['x'];
  shaderKey = 'mtdGroupNormStats';
  uniforms = `${GROUP_UNIFORMS} epsilon : f32,`;

  getUserCode(): string {
    return `
      ${groupPrologue(THREADS)}
        var s = 0.0;
        for (var k = 0; k < uniforms.steps; k = k + 1) {
          let e = lane + k * ${THREADS};
          if (e < count) { s = s + x[groupElement(b, g, e)]; }
        }
        let mean = workgroupSum(lane, s) / f32(uniforms.count);
        var q = 0.0;
        for (var k = 0; k < uniforms.steps; k = k + 1) {
          let e = lane + k * ${THREADS};
          if (e < count) {
            let d = x[groupElement(b, g, e)] - mean;
            q = q + d * d;
          }
        }
        let variance = workgroupSum(lane, q) / f32(uniforms.count);
        if (lane == 0 && id < uniforms.total) {
          result[id * 2] = mean;
          result[id * 2 + 1] = inverseSqrt(variance + uniforms.epsilon);
        }
      }
    `;
  }
}

/** WGSL: where element `index`'s (example, group) statistics start in `stats` ([B, G, 2]). */
const STATS_OFFSET = `
  fn statsOffset(index : i32) -> i32 {
    let b = index / (uniforms.positions * uniforms.channels);
    return (b * uniforms.groups + (index % uniforms.channels) / uniforms.perGroup) * 2;
  }
`;

/** y = (x - mean) r gamma + beta, elementwise; with `silu`, y sigmoid(y). */
class ApplyProgram extends FlatProgram {
  variableNames = ['x', 'stats', 'gamma', 'beta'];
  shaderKey: string;
  uniforms = 'positions : i32, channels : i32, groups : i32, perGroup : i32,';

  constructor(
    length: number,
    private readonly silu = false,
  ) {
    super(length);
    this.shaderKey = `mtdGroupNormApply${silu ? '_silu' : ''}`;
  }

  getUserCode(): string {
    return `
      ${STATS_OFFSET}
      ${this.silu ? SIGMOID : ''}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.channels;
          let s = statsOffset(index);
          let y = (x[index] - stats[s]) * stats[s + 1] * gamma[c] + beta[c];
          setOutputAtIndex(index, ${this.silu ? 'y * sigmoidOf(y)' : 'y'});
        }
      }
    `;
  }
}

/**
 * Per (example, group): sum of g = dy gamma and of g xh; in a row of `width` values. With
 * `channelSums` (when a group's channel count divides the workgroup, so each thread keeps one
 * channel), the row also holds that example's per-channel sums of dy and of dy xh (its share of
 * dbeta and dgamma): [s1, s2, dy sums (perGroup), dy xh sums (perGroup)].
 */
class GradStatsProgram extends PerGroupProgram {
  variableNames = ['dy', 'x', 'gamma', 'stats'];
  shaderKey: string;
  uniforms = GROUP_UNIFORMS;
  private readonly channelSums: boolean;
  private readonly silu: boolean;
  private readonly threads: number;

  /**
   * `silu`: `dy` is the gradient of `y sigmoid(y)`, taken through the SiLU here (a 5th input,
   * beta). `threads`: with `channelSums`, a multiple of the group's channel count (so each lane
   * keeps to one channel; `gradStatsThreads`).
   */
  constructor(g: Geometry, channelSums: boolean, silu = false, threads = THREADS) {
    super(g, threads);
    this.channelSums = channelSums;
    this.silu = silu;
    this.threads = threads;
    if (silu) this.variableNames = ['dy', 'x', 'gamma', 'stats', 'beta'];
    this.shaderKey = `mtdGroupNormGradStats_${channelSums}${silu ? '_silu' : ''}_${threads}`;
    this.outputShape = [g.batch * g.groups, sumsWidth(g, channelSums)];
  }

  getUserCode(): string {
    // Each lane's elements all lie in channel lane % perGroup (the workgroup's lane count is a
    // multiple of it): lane c < perGroup adds up lanes c, c + perGroup, ...
    const channelSum = `
      fn channelSum(lane : i32, value : f32) -> f32 {
        partial[lane] = value;
        workgroupBarrier();
        var total = 0.0;
        if (lane < uniforms.perGroup) {
          for (var j = lane; j < ${this.threads}; j = j + uniforms.perGroup) {
            total = total + partial[j];
          }
        }
        workgroupBarrier();
        return total;
      }`;
    return `
      ${this.channelSums ? channelSum : ''}
      ${this.silu ? SILU_THROUGH : ''}
      ${groupPrologue(this.threads)}
        let mean = select(0.0, stats[min(id, uniforms.total - 1) * 2], id < uniforms.total);
        let r = select(0.0, stats[min(id, uniforms.total - 1) * 2 + 1], id < uniforms.total);
        var s1 = 0.0;
        var s2 = 0.0;
        var d1 = 0.0;
        var d2 = 0.0;
        for (var k = 0; k < uniforms.steps; k = k + 1) {
          let e = lane + k * ${this.threads};
          if (e < count) {
            let i = groupElement(b, g, e);
            let ch = g * uniforms.perGroup + e % uniforms.perGroup;
            let xh = (x[i] - mean) * r;
            let dyv = ${this.silu ? 'siluThrough(dy[i], xh, gamma[ch], beta[ch])' : 'dy[i]'};
            let gy = dyv * gamma[ch];
            s1 = s1 + gy;
            s2 = s2 + gy * xh;
            d1 = d1 + dyv;
            d2 = d2 + dyv * xh;
          }
        }
        let t1 = workgroupSum(lane, s1);
        let t2 = workgroupSum(lane, s2);
        let row = id * ${sumsWidthWgsl(this.channelSums)};
        if (lane == 0 && id < uniforms.total) {
          result[row] = t1;
          result[row + 1] = t2;
        }
        ${
          this.channelSums
            ? `let c1 = channelSum(lane, d1);
        let c2 = channelSum(lane, d2);
        if (lane < uniforms.perGroup && id < uniforms.total) {
          result[row + 2 + lane] = c1;
          result[row + 2 + uniforms.perGroup + lane] = c2;
        }`
            : ''
        }
      }
    `;
  }
}

/** Values per row of GradStatsProgram's output. */
function sumsWidth(g: Geometry, channelSums: boolean): number {
  return channelSums ? 2 + 2 * g.perGroup : 2;
}

function sumsWidthWgsl(channelSums: boolean): string {
  return channelSums ? '(2 + 2 * uniforms.perGroup)' : '2';
}

/**
 * dbeta (`part` 0) or dgamma (`part` 1) from GradStatsProgram's per-example channel sums: one
 * workgroup per channel adds them over the batch.
 */
class ChannelSumProgram {
  variableNames = ['sums'];
  shaderKey = 'mtdGroupNormChannelSum';
  uniforms = 'batch : i32, groups : i32, perGroup : i32, part : i32,';
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];

  constructor(channels: number) {
    this.outputShape = [channels];
    this.dispatch = [channels, 1, 1];
  }

  getUserCode(): string {
    return `
      var<workgroup> partial : array<f32, 64>;
      // A flat layout: tfjs passes the global index, unused here (one workgroup per channel).
      fn main(index : i32) {
        let lane = i32(localId.x);
        let c = i32(workgroupId.x);
        let g = c / uniforms.perGroup;
        let width = 2 + 2 * uniforms.perGroup;
        let column = 2 + uniforms.part * uniforms.perGroup + c % uniforms.perGroup;
        var total = 0.0;
        for (var b = lane; b < uniforms.batch; b = b + 64) {
          total = total + sums[(b * uniforms.groups + g) * width + column];
        }
        partial[lane] = total;
        workgroupBarrier();
        for (var stride = 32; stride > 0; stride = stride / 2) {
          if (lane < stride) {
            partial[lane] = partial[lane] + partial[lane + stride];
          }
          workgroupBarrier();
        }
        if (lane == 0) {
          result[c] = partial[0];
        }
      }
    `;
  }
}

/** dx = r (g - s1 / n - xh s2 / n), elementwise. */
class InputGradProgram extends FlatProgram {
  variableNames = ['dy', 'x', 'gamma', 'stats', 'sums'];
  shaderKey: string;
  uniforms = 'positions : i32, channels : i32, groups : i32, perGroup : i32, count : i32, sumsWidth : i32,';

  /** `silu`: as GradStatsProgram's (a 6th input, beta). */
  constructor(
    length: number,
    private readonly silu = false,
  ) {
    super(length);
    if (silu) this.variableNames = ['dy', 'x', 'gamma', 'stats', 'sums', 'beta'];
    this.shaderKey = `mtdGroupNormInputGrad${silu ? '_silu' : ''}`;
  }

  getUserCode(): string {
    return `
      ${STATS_OFFSET}
      ${this.silu ? SILU_THROUGH : ''}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.channels;
          let s = statsOffset(index);
          let r = stats[s + 1];
          let xh = (x[index] - stats[s]) * r;
          let n = f32(uniforms.count);
          let t = (s / 2) * uniforms.sumsWidth;
          let dyv = ${this.silu ? 'siluThrough(dy[index], xh, gamma[c], beta[c])' : 'dy[index]'};
          setOutputAtIndex(index, r * (dyv * gamma[c] - sums[t] / n - xh * sums[t + 1] / n));
        }
      }
    `;
  }
}

/** dy xh, elementwise (its leading-axes sum is dgamma). */
class ScaledGradProgram extends FlatProgram {
  variableNames = ['dy', 'x', 'stats'];
  shaderKey = 'mtdGroupNormScaledGrad';
  uniforms = 'positions : i32, channels : i32, groups : i32, perGroup : i32,';

  getUserCode(): string {
    return `
      ${STATS_OFFSET}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let s = statsOffset(index);
          setOutputAtIndex(index, dy[index] * (x[index] - stats[s]) * stats[s + 1]);
        }
      }
    `;
  }
}

/** `dy silu'(y)`, elementwise: the SiLU gradient's input for the path without channel sums. */
class SiluThroughProgram extends FlatProgram {
  variableNames = ['dy', 'x', 'gamma', 'stats', 'beta'];
  shaderKey = 'mtdGroupNormSiluThrough';
  uniforms = 'positions : i32, channels : i32, groups : i32, perGroup : i32,';

  getUserCode(): string {
    return `
      ${STATS_OFFSET}
      ${SILU_THROUGH}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let c = index % uniforms.channels;
          let s = statsOffset(index);
          setOutputAtIndex(index, siluThrough(dy[index], (x[index] - stats[s]) * stats[s + 1], gamma[c], beta[c]));
        }
      }
    `;
  }
}

function check(x: tf.TensorInfo, groups: number, where: string): Geometry {
  if (x.dtype !== 'float32') throw new TypeError(`${where}: x must be float32, got ${x.dtype}`);
  if (x.shape.length < 2) throw new RangeError(`${where}: x must be [B, ..., C], got shape [${x.shape.join(', ')}]`);
  const c = x.shape[x.shape.length - 1]!;
  if (!Number.isInteger(groups) || groups < 1 || c % groups !== 0) {
    throw new RangeError(`${where}: attrs.groups must be a divisor of the ${c} channels, got ${groups}`);
  }
  return geometry(x.shape, groups);
}

function groupUniforms(g: Geometry, threads = THREADS): Array<{ type: string; data: number[] }> {
  const count = g.positions * g.perGroup;
  return intUniforms([g.positions, g.channels, g.groups, g.perGroup, count, Math.ceil(count / threads), g.batch * g.groups]);
}

/**
 * The gradient statistics' lanes: the most, up to THREADS, that are a multiple of a group's
 * channel count (so the per-example channel sums ride along: 256 for 8 or 16 channels a group,
 * 240 for 24), or undefined for groups of more than THREADS channels.
 */
export function gradStatsThreads(perGroup: number): number | undefined {
  return perGroup > THREADS ? undefined : THREADS - (THREADS % perGroup);
}

/** `MtdGroupNorm` (or, with `silu`, `MtdGroupNormSilu`): two dispatches, statistics then apply. */
const groupNormKernelOf =
  (silu: boolean): tf.KernelFunc =>
  (args) => {
    const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const { groups, epsilon } = args.attrs as unknown as { groups: number; epsilon: number };
    const g = check(x, groups, silu ? GROUP_NORM_SILU_KERNEL : GROUP_NORM_KERNEL);
    const backend = args.backend as unknown as WebgpuBackendLike;
    const stats = backend.runWebGPUProgram(new StatsProgram(g), [x], 'float32', [...groupUniforms(g), { type: 'float32', data: [epsilon] }]);
    const y = backend.runWebGPUProgram(new ApplyProgram(size(x.shape), silu), [x, stats, gamma, beta], 'float32', intUniforms([g.positions, g.channels, g.groups, g.perGroup]));
    return [
      { ...y, shape: x.shape },
      { ...stats, shape: [g.batch, g.groups, 2] },
    ];
  };

/** `MtdGroupNormGrad` (or, with `silu`, `MtdGroupNormSiluGrad`). */
const groupNormGradKernelOf =
  (silu: boolean): tf.KernelFunc =>
  (args) => {
    const { dy: dyIn, x, gamma, beta, stats } = args.inputs as Record<'dy' | 'x' | 'gamma' | 'beta' | 'stats', tf.TensorInfo>;
    const { groups } = args.attrs as unknown as { groups: number };
    const g = check(x, groups, silu ? GROUP_NORM_SILU_GRAD_KERNEL : GROUP_NORM_GRAD_KERNEL);
    if (silu && beta === undefined) throw new TypeError(`${GROUP_NORM_SILU_GRAD_KERNEL}: inputs.beta is required (y is recomputed from x)`);
    const backend = args.backend as unknown as WebgpuBackendLike;
    const applyUniforms = intUniforms([g.positions, g.channels, g.groups, g.perGroup]);
    // The per-example channel sums ride along when each thread keeps to one channel; otherwise
    // dgamma and dbeta are leading sums of full-size tensors, which need dy (through the SiLU)
    // stored: then it is, and the plain path runs on it.
    const threads = gradStatsThreads(g.perGroup);
    const channelSums = threads !== undefined;
    const through = silu && channelSums;
    const dy = silu && !channelSums ? backend.runWebGPUProgram(new SiluThroughProgram(size(x.shape)), [dyIn, x, gamma, stats, beta], 'float32', applyUniforms) : dyIn;
    const extra = through ? [beta] : [];
    const sums = backend.runWebGPUProgram(new GradStatsProgram(g, channelSums, through, threads), [dy, x, gamma, stats, ...extra], 'float32', groupUniforms(g, threads));
    const dx = backend.runWebGPUProgram(
      new InputGradProgram(size(x.shape), through),
      [dy, x, gamma, stats, sums, ...extra],
      'float32',
      intUniforms([g.positions, g.channels, g.groups, g.perGroup, g.positions * g.perGroup, sumsWidth(g, channelSums)]),
    );
    let dgamma: tf.TensorInfo;
    let dbeta: tf.TensorInfo;
    if (channelSums) {
      const part = (p: number) => backend.runWebGPUProgram(new ChannelSumProgram(g.channels), [sums], 'float32', intUniforms([g.batch, g.groups, g.perGroup, p]));
      dbeta = part(0);
      dgamma = part(1);
    } else {
      const scaled = backend.runWebGPUProgram(new ScaledGradProgram(size(x.shape)), [dy, x, stats], 'float32', applyUniforms);
      const rowsShape = [g.batch * g.positions, g.channels];
      dgamma = leadingSumWgsl(backend, { ...scaled, shape: rowsShape }, 1);
      backend.disposeData(scaled.dataId);
      dbeta = leadingSumWgsl(backend, { ...dy, shape: rowsShape }, 1);
    }
    backend.disposeData(sums.dataId);
    if (dy !== dyIn) backend.disposeData(dy.dataId);
    return [{ ...dx, shape: x.shape }, dgamma, dbeta];
  };

/** The kernels' configs for webgpu (registered by `setWebgpuGroupNorm`). */
const CONFIGS: tf.KernelConfig[] = [
  { kernelName: GROUP_NORM_KERNEL, backendName: 'webgpu', kernelFunc: groupNormKernelOf(false) },
  { kernelName: GROUP_NORM_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: groupNormGradKernelOf(false) },
];
const SILU_CONFIGS: tf.KernelConfig[] = [
  { kernelName: GROUP_NORM_SILU_KERNEL, backendName: 'webgpu', kernelFunc: groupNormKernelOf(true) },
  { kernelName: GROUP_NORM_SILU_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: groupNormGradKernelOf(true) },
];

/**
 * Registers (`true`) or removes (`false`) the fused GroupNorm kernels for webgpu; the GroupNorm +
 * SiLU pair only with `silu` as well.
 */
export function setWebgpuGroupNorm(on: boolean, silu = true): void {
  setKernelsRegistered(CONFIGS, on);
  setKernelsRegistered(SILU_CONFIGS, on && silu);
}
