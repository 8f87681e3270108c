import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterArgs } from './conv2dBackprop.js';
import { sumSplits } from './splitSum.js';
import {
  checkWorkgroupMemory,
  declareAccumulators,
  DEFAULT_FILTER_GRADIENT_TILING,
  forEachAccumulator,
  gemmTilingName,
  stepLoop,
  tileOuterProducts,
  tilingThreads,
  type GemmTiling,
} from './gemmTiling.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * The conv2d filter gradient as one WGSL program for tfjs's WebGPU backend: an implicit GEMM per
 * filter tap. For a tap (i, j) the gradient is a plain GEMM over m = (n, oy, ox):
 *
 *   dW[i, j, ci, co] = sum over m of x[n, oy*sh + i - top, ox*sw + j - left, ci] * dy[m, co]
 *
 * Both operands are rows of m, contiguous along their channels, so a workgroup's (ci, co) tile of
 * one tap (the selected `GemmTiling`, `WebgpuOptions.gemmTiles.filterGradient`; by default 64x64,
 * 4x4 per thread, 16 rows a step, prefetching) reads a step's rows of m as vec4 loads, with each
 * row's position decoded once per row (not per element). The im2col form
 * (`conv2dBackpropFilterViaMatMul`) stores the patch matrix (600 MB for refUNet's 32x32x64 layer
 * at batch 256) and runs about 10 kernels; this runs two: partial tiles, each over one slab of m
 * (split-K: the output is small and the reduction long), then one program that adds the slabs.
 *
 * NHWC, float32, dilation 1 (what tfjs's conv2d gradient passes); NCHW goes through transposes.
 * Channel counts that are not multiples of 4 are read a scalar at a time.
 */

/** Workgroup threads the split aims at in all: 1,024 workgroups of 256 (several per multiprocessor of a large GPU; 132 on an H100). */
const TARGET_THREADS = 1024 * 256;
/** The fewest rows a slab keeps, so the partial tiles and their sum stay small beside the GEMM. */
const MIN_ROWS_PER_SPLIT = 1024;

/**
 * How many slabs the reduction over `rows` is cut into (at least 1) for `tiles` output tiles of
 * `threads` threads each: about TARGET_THREADS threads in all (1,024 workgroups of 256), at least
 * MIN_ROWS_PER_SPLIT rows a slab.
 */
export function wgslFilterGradientSplits(rows: number, tiles: number, threads = 256): number {
  const target = Math.ceil(TARGET_THREADS / threads);
  return Math.max(1, Math.min(Math.ceil(target / tiles), Math.floor(rows / MIN_ROWS_PER_SPLIT), 65535));
}

/** `result[s, tap * inC + ci, co]`: slab `s`'s part of the gradient. */
class FilterGradProgram {
  variableNames = ['x', 'dy'];
  variableComponents: [number, number];
  outputComponent: number;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number];
  uniforms =
    'rows : i32, rowsPerSplit : i32, stepsPerSplit : i32, outW : i32, outHW : i32, strideH : i32, strideW : i32, top : i32, left : i32, kw : i32, inC : i32, outC : i32, inH : i32, inW : i32, taps : i32,';
  private readonly vecX: boolean;
  private readonly vecDy: boolean;
  private readonly tiling: GemmTiling;

  constructor(splits: number, taps: number, inC: number, outC: number, tiling: GemmTiling) {
    const { threadsM, threadsN } = tilingThreads(tiling);
    this.vecX = inC % 4 === 0;
    this.vecDy = outC % 4 === 0;
    this.tiling = tiling;
    this.variableComponents = [this.vecX ? 4 : 1, this.vecDy ? 4 : 1];
    this.outputComponent = this.vecDy ? 4 : 1;
    this.outputShape = [splits, taps * inC, outC];
    this.workgroupSize = [threadsN, threadsM, 1];
    this.dispatch = [Math.ceil(outC / tiling.tileN), taps * Math.ceil(inC / tiling.tileM), splits];
    this.shaderKey = `mtdConv2DFilterGrad_${this.vecX}_${this.vecDy}_${gemmTilingName(tiling)}`;
  }

  getUserCode(): string {
    const t = this.tiling;
    const step = t.step;
    const { threads, threadsN } = tilingThreads(t);
    const rowsA = t.tileM / 4;
    const colsB = t.tileN / 4;
    const loadsA = (step * rowsA) / threads;
    const loadsB = (step * colsB) / threads;
    const range = (n: number) => Array.from({ length: n }, (_, l) => l);
    // Callers check the first channel (ci < inC, co < outC) and the position; the scalar forms
    // check the other three channels.
    const loadX = this.vecX
      ? `return x[offset / 4];`
      : `var v = vec4<f32>(0.0);
         for (var c = 0; c < 4; c = c + 1) { if (ci + c < uniforms.inC) { v[c] = x[offset + c]; } }
         return v;`;
    const loadDy = this.vecDy
      ? `return dy[offset / 4];`
      : `var v = vec4<f32>(0.0);
         for (var c = 0; c < 4; c = c + 1) { if (co + c < uniforms.outC) { v[c] = dy[offset + c]; } }
         return v;`;
    const store = this.vecDy
      ? `result[offset / 4] = v;`
      : `for (var c = 0; c < 4; c = c + 1) { if (co + c < uniforms.outC) { result[offset + c] = v[c]; } }`;
    // Item l of a thread: row kA_l of the step, channels ciA_l..ciA_l+3 of x (and kB_l, coB_l of
    // dy); the same each step, so worked out once.
    const declare = [
      ...range(loadsA).map(
        (l) => `let kA${l} = (thread + ${l * threads}) / ${rowsA};
        let ciA${l} = ciBase + ((thread + ${l * threads}) % ${rowsA}) * 4;
        var ra${l} = vec4<f32>(0.0);`,
      ),
      ...range(loadsB).map(
        (l) => `let kB${l} = (thread + ${l * threads}) / ${colsB};
        let coB${l} = coBase + ((thread + ${l * threads}) % ${colsB}) * 4;
        var rb${l} = vec4<f32>(0.0);`,
      ),
    ].join('\n        ');
    const load = (s: string) => `{
          let m0 = mStart + ${s} * ${step};
          ${range(loadsA)
            .map(
              (l) => `ra${l} = vec4<f32>(0.0);
          {
            let m = m0 + kA${l};
            if (m < mEnd) {
              let n = m / uniforms.outHW;
              let rest = m - n * uniforms.outHW;
              let oy = rest / uniforms.outW;
              let ox = rest - oy * uniforms.outW;
              let iy = oy * uniforms.strideH + ki - uniforms.top;
              let ix = ox * uniforms.strideW + kj - uniforms.left;
              if (ciA${l} < uniforms.inC && iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
                ra${l} = loadX(((n * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + ciA${l}, ciA${l});
              }
            }
          }`,
            )
            .join('\n          ')}
          ${range(loadsB)
            .map(
              (l) => `rb${l} = vec4<f32>(0.0);
          {
            let m = m0 + kB${l};
            if (m < mEnd && coB${l} < uniforms.outC) {
              rb${l} = loadDy(m * uniforms.outC + coB${l}, coB${l});
            }
          }`,
            )
            .join('\n          ')}
        }`;
    // tileX[k * rowsA + c] holds channels 4c..4c+3 of x at row k of the step (item ids are exactly
    // these indices); tileDy likewise.
    const storeTiles = [...range(loadsA).map((l) => `tileX[thread + ${l * threads}] = ra${l};`), ...range(loadsB).map((l) => `tileDy[thread + ${l * threads}] = rb${l};`)].join(
      '\n          ',
    );
    const stores: string[] = [];
    forEachAccumulator(t, (v, row, colBlock) => {
      stores.push(`{
          let ci = ciBase + ${row};
          let co = coBase + ${colBlock} * 4;
          if (ci < uniforms.inC && co < uniforms.outC) { store(((split * uniforms.taps + tap) * uniforms.inC + ci) * uniforms.outC + co, co, ${v}); }
        }`);
    });
    return `
      var<workgroup> tileX : array<vec4<f32>, ${step * rowsA}>;
      var<workgroup> tileDy : array<vec4<f32>, ${step * colsB}>;

      fn loadX(offset : i32, ci : i32) -> vec4<f32> { ${loadX} }
      fn loadDy(offset : i32, co : i32) -> vec4<f32> { ${loadDy} }
      fn store(offset : i32, co : i32, v : vec4<f32>) { ${store} }

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let thread = ty * ${threadsN} + tx;
        let ciTiles = (uniforms.inC + ${t.tileM - 1}) / ${t.tileM};
        let tap = i32(workgroupId.y) / ciTiles;
        let ciBase = (i32(workgroupId.y) % ciTiles) * ${t.tileM};
        let coBase = i32(workgroupId.x) * ${t.tileN};
        let ki = tap / uniforms.kw;
        let kj = tap % uniforms.kw;
        let split = i32(workgroupId.z);
        let mStart = split * uniforms.rowsPerSplit;
        let mEnd = min(mStart + uniforms.rowsPerSplit, uniforms.rows);
        ${declare}
        ${declareAccumulators(t)}
        ${stepLoop(t, 'uniforms.stepsPerSplit', load, storeTiles, tileOuterProducts(t, 'tileX', 'tileDy', step))}
        ${stores.join('\n        ')}
      }
    `;
  }
}

let filterGradTiling: GemmTiling = DEFAULT_FILTER_GRADIENT_TILING;

/** The tiling of the WGSL filter gradient and long-K matMul (`WebgpuOptions.gemmTiles.filterGradient`). */
export function setConv2dFilterGradWgslTiling(tiling: GemmTiling): void {
  filterGradTiling = tiling;
}

/**
 * `Conv2DBackpropFilter` by the WGSL implicit GEMM above, on the current backend, which must be
 * tfjs's WebGPU backend. NCHW inputs are transposed to NHWC first.
 */
export function conv2dBackpropFilterWgsl(args: Conv2DBackpropFilterArgs, tiling: GemmTiling = filterGradTiling): tf.Tensor4D {
  if (tf.getBackend() !== 'webgpu') {
    throw new Error(`conv2dBackpropFilterWgsl: needs the webgpu backend, the current one is '${tf.getBackend()}'`);
  }
  const dataFormat = args.dataFormat ?? 'NHWC';
  return tf.tidy(() => {
    const x = (dataFormat === 'NCHW' ? tf.transpose(args.x, [0, 2, 3, 1]) : args.x) as tf.Tensor4D;
    const dy = (dataFormat === 'NCHW' ? tf.transpose(args.dy, [0, 2, 3, 1]) : args.dy) as tf.Tensor4D;
    if (x.dtype !== 'float32' || dy.dtype !== 'float32') {
      throw new TypeError(`conv2dBackpropFilterWgsl: x and dy must be float32, got ${x.dtype} and ${dy.dtype}`);
    }
    const [kh, kw, inC, outC] = args.filterShape;
    const info = tf.backend_util.computeConv2DInfo(x.shape, args.filterShape, args.strides, 1, args.pad, args.dimRoundingMode, false, 'channelsLast');
    const [n, inH, inW] = x.shape;
    // dy's own size, not info's: tfjs's conv2d gradient drops dimRoundingMode, so trust the data.
    const [, outH, outW] = dy.shape;
    const backend = tf.backend() as unknown as WebgpuBackendLike;
    const geometry = { n, inH, inW, inC, outH, outW, outC, kh, kw, strideH: info.strideHeight, strideW: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left };
    const out = tf.engine().makeTensorFromTensorInfo(filterGradientWgslInfo(backend, x, dy, geometry, tiling));
    return tf.reshape(out, [kh, kw, inC, outC]) as tf.Tensor4D;
  });
}

/** An NHWC conv's sizes, strides and leading padding, as the filter-gradient GEMM reads them. */
export interface FilterGradientGeometry {
  n: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kh: number;
  kw: number;
  strideH: number;
  strideW: number;
  top: number;
  left: number;
}

/**
 * The filter gradient's programs on float32 NHWC `x` and `dy` tensor infos: returns the gradient
 * as a new flat `[kh * kw * inC * outC]` tensor info (a kernel's result). Also a long-K matMul
 * (`matMulWgsl.ts`): `a^T b` is the filter gradient of a 1x1 conv over a 1 x K image.
 */
export function filterGradientWgslInfo(backend: WebgpuBackendLike, x: tf.TensorInfo, dy: tf.TensorInfo, g: FilterGradientGeometry, tiling: GemmTiling = filterGradTiling): tf.TensorInfo {
  const rows = g.n * g.outH * g.outW;
  const taps = g.kh * g.kw;
  const tiles = taps * Math.ceil(g.inC / tiling.tileM) * Math.ceil(g.outC / tiling.tileN);
  const splits = wgslFilterGradientSplits(rows, tiles, tilingThreads(tiling).threads);
  const rowsPerSplit = Math.ceil(rows / splits / tiling.step) * tiling.step;
  const used = Math.ceil(rows / rowsPerSplit);
  checkWorkgroupMemory(backend, tiling, tiling.step, 'conv2dBackpropFilterWgsl');
  // One uniform per value, in the order of FilterGradProgram.uniforms.
  const values = [rows, rowsPerSplit, rowsPerSplit / tiling.step, g.outW, g.outH * g.outW, g.strideH, g.strideW, g.top, g.left, g.kw, g.inC, g.outC, g.inH, g.inW, taps];
  const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
  const partial = backend.runWebGPUProgram(new FilterGradProgram(used, taps, g.inC, g.outC, tiling), [x, dy], 'float32', uniforms);
  return sumSplits(backend, partial, used, taps * g.inC * g.outC);
}
