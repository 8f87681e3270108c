import * as tf from '@tensorflow/tfjs';
import { sumSplits } from './splitSum.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * A sum over the leading axes of a tensor (`[M, C]` -> `[C]`) as WGSL programs for tfjs's WebGPU
 * backend. Bias gradients (`sum(dy, [0, 1, 2])` of an NHWC activation), GroupNorm's dgamma/dbeta
 * and the global gradient norm are all of this kind. tfjs transposes the input so the reduced axes
 * come last (a full copy) and then gives each output one workgroup: 64 workgroups summing 262,144
 * values each for a [256,32,32,64] activation; a whole-tensor sum runs on a single workgroup.
 * Here: no copy; each workgroup sums a slab of rows for up to 64 columns, reading rows
 * contiguously, and the slabs' partial sums are added by a second program (split-K).
 *
 * The same programs sum a run of middle axes (`[B, M, C]` -> `[B, C]`, one workgroup layer per
 * `B`): the gradient of a per-example broadcast, `sum(dy, [1, 2])` of the time embedding added to
 * every pixel, which tfjs also runs as a transpose of the whole activation and a reduction.
 */

/** Workgroup size; `cb` columns x (256 / cb) row lanes. */
const THREADS = 256;
/** Workgroups the split aims at. */
const TARGET_WORKGROUPS = 1024;
/** The fewest rows a slab keeps. */
const MIN_ROWS_PER_SPLIT = 256;

/** Columns per workgroup: a power of two up to 64, so a narrow tensor still fills the threads. */
function columnsPerWorkgroup(cols: number): number {
  return Math.min(64, 2 ** Math.ceil(Math.log2(Math.max(1, cols))));
}

class LeadingSumProgram {
  variableNames = ['x'];
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [1], y: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [THREADS, 1, 1];
  uniforms = 'rows : i32, cols : i32, rowsPerSplit : i32, stepsPerLane : i32,';
  private readonly cb: number;

  /**
   * `outer` independent sums (the `B` of `[B, M, C]`), one per workgroup layer z; `cb` columns a
   * workgroup (a power of two; fewer columns, more row lanes).
   */
  constructor(splits: number, cols: number, outer = 1, cb = columnsPerWorkgroup(cols)) {
    this.cb = cb;
    this.outputShape = [splits, outer * cols];
    this.dispatch = [Math.ceil(cols / this.cb), splits, outer];
    this.shaderKey = `mtdLeadingSum_${this.cb}`;
  }

  getUserCode(): string {
    const cb = this.cb;
    const lanes = THREADS / cb;
    return `
      var<workgroup> lanesum : array<f32, ${THREADS}>;

      fn main() {
        let t = i32(localId.x);
        let lane = t / ${cb};
        let col = i32(workgroupId.x) * ${cb} + t % ${cb};
        let split = i32(workgroupId.y);
        let outer = i32(workgroupId.z);
        let base = outer * uniforms.rows * uniforms.cols;
        let start = split * uniforms.rowsPerSplit;
        let end = min(start + uniforms.rowsPerSplit, uniforms.rows);
        var total = 0.0;
        // The trip count comes from a uniform: workgroupBarrier below needs uniform control flow.
        for (var k = 0; k < uniforms.stepsPerLane; k = k + 1) {
          let row = start + lane + k * ${lanes};
          if (row < end && col < uniforms.cols) {
            total = total + x[base + row * uniforms.cols + col];
          }
        }
        lanesum[t] = total;
        workgroupBarrier();
        for (var stride = ${lanes / 2}; stride > 0; stride = stride / 2) {
          if (lane < stride) {
            lanesum[t] = lanesum[t] + lanesum[t + stride * ${cb}];
          }
          workgroupBarrier();
        }
        if (lane == 0 && col < uniforms.cols) {
          result[(split * i32(numWorkgroups.z) + outer) * uniforms.cols + col] = lanesum[t];
        }
      }
    `;
  }
}

/** Column blocks of 64 per dispatch row: WebGPU's default limit of 65,535 workgroups. */
const MAX_COLUMNS = 65535 * 64;
/** Independent sums (workgroup layers): the same limit. */
const MAX_OUTER = 65535;

function fitsDispatch(cols: number): boolean {
  return cols <= MAX_COLUMNS;
}

/** Slabs up to which one thread per output adds the partial sums up (`sumSplits`). */
const SERIAL_SPLITS = 16;
/** Outputs from which there are threads enough for that anyway. */
const PARALLEL_OUTPUTS = 16384;

/**
 * Adds the slabs' partial sums `[splits, length]` and disposes them. One thread per output walking
 * every slab (`sumSplits`) is fine for few slabs or many outputs, but a bias gradient's 64 outputs
 * of 1,024 slabs (or the global norm's single one) left 64 threads (or 1) each reading 1,024 values
 * one after another: ~0.2 ms of a 0.23 ms sum on an H100. Then the slabs are summed like rows:
 * few columns a workgroup, many lanes over the slabs, a tree in workgroup memory.
 */
function addSplits(backend: WebgpuBackendLike, partial: tf.TensorInfo, splits: number, length: number): tf.TensorInfo {
  if (splits <= SERIAL_SPLITS || length >= PARALLEL_OUTPUTS) return sumSplits(backend, partial, splits, length);
  // About 16 workgroups or more, each with as many lanes as fit.
  const cb = Math.max(1, Math.min(64, 2 ** Math.floor(Math.log2(Math.max(1, length / 16)))));
  const lanes = THREADS / cb;
  const uniforms = [splits, length, splits, Math.ceil(splits / lanes)].map((v) => ({ type: 'int32', data: [v] }));
  const summed = backend.runWebGPUProgram(new LeadingSumProgram(1, length, 1, cb), [partial], 'float32', uniforms);
  backend.disposeData(partial.dataId);
  return { ...summed, shape: [length] };
}

/** How many slabs of rows: about TARGET_WORKGROUPS workgroups in all, 256 rows a slab at least. */
export function leadingSumSplits(rows: number, cols: number): number {
  const columnBlocks = Math.ceil(cols / columnsPerWorkgroup(cols));
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / columnBlocks), Math.floor(rows / MIN_ROWS_PER_SPLIT)));
}

/**
 * The sum of float32 `x` over its first `leading` axes, by the programs above, on tfjs's WebGPU
 * backend (`backend`). Returns a tensor info shaped like the remaining axes (`[]` when all are
 * summed); the caller owns it.
 */
export function leadingSumWgsl(backend: WebgpuBackendLike, x: tf.TensorInfo, leading: number): tf.TensorInfo {
  if (x.dtype !== 'float32') throw new TypeError(`leadingSumWgsl: x must be float32, got ${x.dtype}`);
  if (!Number.isInteger(leading) || leading < 1 || leading > x.shape.length) {
    throw new RangeError(`leadingSumWgsl: leading must be an integer in [1, ${x.shape.length}], got ${leading}`);
  }
  const rows = x.shape.slice(0, leading).reduce((a, b) => a * b, 1);
  const rest = x.shape.slice(leading);
  const cols = rest.reduce((a, b) => a * b, 1);
  if (!fitsDispatch(cols)) throw new RangeError(`leadingSumWgsl: at most ${MAX_COLUMNS} summed columns, got ${cols}`);
  const splits = leadingSumSplits(rows, cols);
  const rowsPerSplit = Math.ceil(rows / splits);
  const used = Math.ceil(rows / rowsPerSplit);
  const program = new LeadingSumProgram(used, cols);
  const lanes = THREADS / columnsPerWorkgroup(cols);
  const uniforms = [rows, cols, rowsPerSplit, Math.ceil(rowsPerSplit / lanes)].map((v) => ({ type: 'int32', data: [v] }));
  const partial = backend.runWebGPUProgram(program, [x], 'float32', uniforms);
  const summed = addSplits(backend, partial, used, cols);
  // Same data, the remaining axes' shape.
  return { ...summed, shape: rest };
}

/**
 * The sum of float32 `x` over its axes `from..to` (inclusive, `from >= 1`): `x` read as `[B, M, C]`
 * with `B` the axes before and `C` those after, one leading sum per `B`. Returns `x`'s shape
 * without the summed axes; the caller owns it.
 */
export function middleSumWgsl(backend: WebgpuBackendLike, x: tf.TensorInfo, from: number, to: number): tf.TensorInfo {
  if (x.dtype !== 'float32') throw new TypeError(`middleSumWgsl: x must be float32, got ${x.dtype}`);
  if (!Number.isInteger(from) || !Number.isInteger(to) || from < 1 || to < from || to >= x.shape.length) {
    throw new RangeError(`middleSumWgsl: from..to must be axes with 1 <= from <= to < ${x.shape.length}, got ${from}..${to}`);
  }
  const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const outer = product(x.shape.slice(0, from));
  const rows = product(x.shape.slice(from, to + 1));
  const cols = product(x.shape.slice(to + 1));
  if (!fitsDispatch(cols) || outer > MAX_OUTER) throw new RangeError(`middleSumWgsl: at most ${MAX_OUTER} sums of ${MAX_COLUMNS} columns, got ${outer} of ${cols}`);
  const splits = Math.max(1, Math.floor(leadingSumSplits(rows, cols) / outer));
  const rowsPerSplit = Math.ceil(rows / splits);
  const used = Math.ceil(rows / rowsPerSplit);
  const lanes = THREADS / columnsPerWorkgroup(cols);
  const uniforms = [rows, cols, rowsPerSplit, Math.ceil(rowsPerSplit / lanes)].map((v) => ({ type: 'int32', data: [v] }));
  const partial = backend.runWebGPUProgram(new LeadingSumProgram(used, cols, outer), [x], 'float32', uniforms);
  const summed = addSplits(backend, partial, used, outer * cols);
  return { ...summed, shape: [...x.shape.slice(0, from), ...x.shape.slice(to + 1)] };
}

/**
 * A `Sum` kernel for webgpu: leading-axes float32 sums of at least `MIN_ROWS_PER_SPLIT` rows go to
 * `leadingSumWgsl`, sums over one run of later axes (not the last alone, which tfjs reduces with
 * no transpose) to `middleSumWgsl`, anything else to tfjs's own kernel.
 */
export function leadingSumDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const { axis, keepDims } = args.attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((a, b) => a - b);
    const leading = axes.every((a, i) => a === i) ? axes.length : 0;
    const rows = x.shape.slice(0, leading).reduce((a, b) => a * b, 1);
    const cols = x.shape.slice(leading).reduce((a, b) => a * b, 1);
    const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
    if (builtin === undefined) throw new Error('leadingSumDelegating: no built-in Sum kernel to delegate to');
    if (!enabled || x.dtype !== 'float32' || axes.length === 0) return builtin.kernelFunc(args);
    const backend = args.backend as unknown as WebgpuBackendLike;
    if (leading > 0) {
      if (rows < MIN_ROWS_PER_SPLIT || !fitsDispatch(cols)) return builtin.kernelFunc(args);
      const out = leadingSumWgsl(backend, x, leading);
      return keepDims ? { ...out, shape: keptShape } : out;
    }
    const [from, to] = [axes[0]!, axes[axes.length - 1]!];
    const run = axes.every((a, i) => a === from + i);
    const outer = x.shape.slice(0, from).reduce((a, b) => a * b, 1);
    const after = x.shape.slice(to + 1).reduce((a, b) => a * b, 1);
    if (!run || to === x.shape.length - 1 || outer > MAX_OUTER || !fitsDispatch(after)) return builtin.kernelFunc(args);
    const out = middleSumWgsl(backend, x, from, to);
    return keepDims ? { ...out, shape: keptShape } : out;
  };
}

let enabled = false;

/** Whether webgpu's registered `Sum` uses `leadingSumWgsl` (see `WebgpuOptions.reductions`). */
export function setLeadingSumWgsl(on: boolean): void {
  enabled = on;
}
