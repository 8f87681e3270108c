import * as tf from '@tensorflow/tfjs';
import type { Conv2DBackpropFilterArgs } from './conv2dBackprop.js';
import { sumSplits } from './splitSum.js';
import { tileOuterProducts, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * The conv2d filter gradient as one WGSL program for tfjs's WebGPU backend: an implicit GEMM per
 * filter tap. For a tap (i, j) the gradient is a plain GEMM over m = (n, oy, ox):
 *
 *   dW[i, j, ci, co] = sum over m of x[n, oy*sh + i - top, ox*sw + j - left, ci] * dy[m, co]
 *
 * Both operands are rows of m, contiguous along their channels, so a workgroup's 64x64 (ci, co)
 * tile of one tap reads 16 rows of 64 channels of each per step as vec4 loads, with the row's
 * position decoded once per row (not per element). The im2col form
 * (`conv2dBackpropFilterViaMatMul`) stores the patch matrix (600 MB for refUNet's 32x32x64 layer
 * at batch 256) and runs about 10 kernels; this runs two: partial tiles, each over one slab of m
 * (split-K: the output is small and the reduction long), then one program that adds the slabs.
 *
 * NHWC, float32, dilation 1 (what tfjs's conv2d gradient passes); NCHW goes through transposes.
 * Channel counts that are not multiples of 4 are read a scalar at a time.
 */

/** Output tile edge (ci and co): 16x16 threads, each accumulating a 4x4 block. */
const TILE = 64;
/** Rows of m a workgroup reads per step: one per thread row. */
const STEP = 16;
/** Workgroups the split aims at: several per multiprocessor of a large GPU (132 on an H100). */
const TARGET_WORKGROUPS = 1024;
/** The fewest rows a slab keeps, so the partial tiles and their sum stay small beside the GEMM. */
const MIN_ROWS_PER_SPLIT = 1024;

/**
 * How many slabs the reduction over `rows` is cut into (at least 1) for `tiles` output tiles:
 * about TARGET_WORKGROUPS workgroups in all, MIN_ROWS_PER_SPLIT rows a slab at least.
 */
export function wgslFilterGradientSplits(rows: number, tiles: number): number {
  return Math.max(1, Math.min(Math.ceil(TARGET_WORKGROUPS / tiles), Math.floor(rows / MIN_ROWS_PER_SPLIT), 65535));
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
  workgroupSize: [number, number, number] = [16, 16, 1];
  uniforms =
    'rows : i32, rowsPerSplit : i32, stepsPerSplit : i32, outW : i32, outHW : i32, strideH : i32, strideW : i32, top : i32, left : i32, kw : i32, inC : i32, outC : i32, inH : i32, inW : i32, taps : i32,';
  private readonly vecX: boolean;
  private readonly vecDy: boolean;

  constructor(splits: number, taps: number, inC: number, outC: number) {
    this.vecX = inC % 4 === 0;
    this.vecDy = outC % 4 === 0;
    this.variableComponents = [this.vecX ? 4 : 1, this.vecDy ? 4 : 1];
    this.outputComponent = this.vecDy ? 4 : 1;
    this.outputShape = [splits, taps * inC, outC];
    this.dispatch = [Math.ceil(outC / TILE), taps * Math.ceil(inC / TILE), splits];
    this.shaderKey = `mtdConv2DFilterGrad_${this.vecX}_${this.vecDy}`;
  }

  getUserCode(): string {
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
    return `
      var<workgroup> tileX : array<vec4<f32>, ${STEP * 16}>;
      var<workgroup> tileDy : array<vec4<f32>, ${STEP * 16}>;

      fn loadX(offset : i32, ci : i32) -> vec4<f32> { ${loadX} }
      fn loadDy(offset : i32, co : i32) -> vec4<f32> { ${loadDy} }
      fn store(offset : i32, co : i32, v : vec4<f32>) { ${store} }

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let ciTiles = (uniforms.inC + ${TILE - 1}) / ${TILE};
        let tap = i32(workgroupId.y) / ciTiles;
        let ciBase = (i32(workgroupId.y) % ciTiles) * ${TILE};
        let coBase = i32(workgroupId.x) * ${TILE};
        let ki = tap / uniforms.kw;
        let kj = tap % uniforms.kw;
        let split = i32(workgroupId.z);
        let mStart = split * uniforms.rowsPerSplit;
        let mEnd = min(mStart + uniforms.rowsPerSplit, uniforms.rows);
        // Loading, thread (tx, ty) reads row ty of the step, channels 4tx..4tx+3 of x and of dy.
        let ciLoad = ciBase + tx * 4;
        let coLoad = coBase + tx * 4;
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        // The trip count comes from a uniform: workgroupBarrier needs uniform control flow.
        for (var t = 0; t < uniforms.stepsPerSplit; t = t + 1) {
          let m = mStart + t * ${STEP} + ty;
          var a = vec4<f32>(0.0);
          var b = vec4<f32>(0.0);
          if (m < mEnd) {
            let n = m / uniforms.outHW;
            let rest = m - n * uniforms.outHW;
            let oy = rest / uniforms.outW;
            let ox = rest - oy * uniforms.outW;
            let iy = oy * uniforms.strideH + ki - uniforms.top;
            let ix = ox * uniforms.strideW + kj - uniforms.left;
            if (ciLoad < uniforms.inC && iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
              a = loadX(((n * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + ciLoad, ciLoad);
            }
            if (coLoad < uniforms.outC) {
              b = loadDy(m * uniforms.outC + coLoad, coLoad);
            }
          }
          tileX[ty * 16 + tx] = a;
          tileDy[ty * 16 + tx] = b;
          workgroupBarrier();
          // Computing, thread (tx, ty) owns ci = 4ty..4ty+3 and co = 4tx..4tx+3 of the tile.
          ${tileOuterProducts('tileX', 'tileDy', STEP)}
          workgroupBarrier();
        }
        let co = coBase + tx * 4;
        if (co < uniforms.outC) {
          let ci = ciBase + ty * 4;
          let row = (split * uniforms.taps + tap) * uniforms.inC + ci;
          if (ci < uniforms.inC) { store(row * uniforms.outC + co, co, acc0); }
          if (ci + 1 < uniforms.inC) { store((row + 1) * uniforms.outC + co, co, acc1); }
          if (ci + 2 < uniforms.inC) { store((row + 2) * uniforms.outC + co, co, acc2); }
          if (ci + 3 < uniforms.inC) { store((row + 3) * uniforms.outC + co, co, acc3); }
        }
      }
    `;
  }
}

/**
 * `Conv2DBackpropFilter` by the WGSL implicit GEMM above, on the current backend, which must be
 * tfjs's WebGPU backend. NCHW inputs are transposed to NHWC first.
 */
export function conv2dBackpropFilterWgsl(args: Conv2DBackpropFilterArgs): tf.Tensor4D {
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
    const rows = n * outH * outW;
    const taps = kh * kw;
    const tiles = taps * Math.ceil(inC / TILE) * Math.ceil(outC / TILE);
    const splits = wgslFilterGradientSplits(rows, tiles);
    const rowsPerSplit = Math.ceil(rows / splits / STEP) * STEP;
    const used = Math.ceil(rows / rowsPerSplit);
    const backend = tf.backend() as unknown as WebgpuBackendLike;
    // One uniform per value, in the order of FilterGradProgram.uniforms.
    const values = [rows, rowsPerSplit, rowsPerSplit / STEP, outW, outH * outW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, kw, inC, outC, inH, inW, taps];
    const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
    const partial = backend.runWebGPUProgram(new FilterGradProgram(used, taps, inC, outC), [x, dy], 'float32', uniforms);
    const out = tf.engine().makeTensorFromTensorInfo(sumSplits(backend, partial, used, taps * inC * outC));
    return tf.reshape(out, [kh, kw, inC, outC]) as tf.Tensor4D;
  });
}
