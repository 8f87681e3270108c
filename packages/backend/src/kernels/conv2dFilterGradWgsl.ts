import * as tf from '@tensorflow/tfjs';
import { filterGradientSplits, type Conv2DBackpropFilterArgs } from './conv2dBackprop.js';
import { sumSplits } from './splitSum.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * The conv2d filter gradient as one WGSL program for tfjs's WebGPU backend: an implicit GEMM.
 *
 *   dW[(i, j, ci), co] = sum over m = (n, oy, ox) of x[n, oy*sh + i - top, ox*sw + j - left, ci] * dy[m, co]
 *
 * The im2col form (`conv2dBackpropFilterViaMatMul`) stores the patch matrix (600 MB for refUNet's
 * 32x32x64 layer at batch 256) and runs about 10 kernels; this reads the patches straight from x
 * into workgroup memory, one 32x32 output tile per workgroup, and splits the long reduction over
 * `m` across workgroups (split-K: partial tiles, then one summing program). Two dispatches.
 *
 * NHWC, float32, dilation 1 (what tfjs's conv2d gradient passes); NCHW goes through transposes.
 */

/** Output tile edge: 8x8 threads, each accumulating a 4x4 block. */
const TILE = 32;
/** The reduction tiles of 32 rows; `partial[s, r, co]` for split `s`. */
class FilterGradProgram {
  variableNames = ['x', 'dy'];
  outputShape: number[];
  shaderKey = 'mtdConv2DFilterGrad';
  dispatchLayout = { x: [2], y: [1], z: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [8, 8, 1];
  uniforms =
    'rows : i32, rowsPerSplit : i32, tilesPerSplit : i32, outW : i32, outHW : i32, strideH : i32, strideW : i32, top : i32, left : i32, kw : i32, inC : i32, outC : i32, cols : i32, inH : i32, inW : i32,';

  constructor(splits: number, cols: number, outC: number) {
    this.outputShape = [splits, cols, outC];
    this.dispatch = [Math.ceil(outC / TILE), Math.ceil(cols / TILE), splits];
  }

  getUserCode(): string {
    return `
      var<workgroup> tileA : array<array<f32, ${TILE}>, ${TILE}>;
      var<workgroup> tileB : array<array<f32, ${TILE}>, ${TILE}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let thread = ty * 8 + tx;
        let coBase = i32(workgroupId.x) * ${TILE};
        let rBase = i32(workgroupId.y) * ${TILE};
        let split = i32(workgroupId.z);
        let mStart = split * uniforms.rowsPerSplit;
        let mEnd = min(mStart + uniforms.rowsPerSplit, uniforms.rows);
        var acc : array<array<f32, 4>, 4>;
        // The trip count comes from a uniform: workgroupBarrier needs uniform control flow.
        for (var t = 0; t < uniforms.tilesPerSplit; t = t + 1) {
          let m0 = mStart + t * ${TILE};
          // 64 threads load two 32x32 tiles: consecutive threads read consecutive channels.
          for (var e = 0; e < ${(TILE * TILE) / 64}; e = e + 1) {
            let flat = thread + e * 64;
            let k = flat / ${TILE};
            let c = flat % ${TILE};
            let m = m0 + k;
            var a = 0.0;
            let r = rBase + c;
            if (m < mEnd && r < uniforms.cols) {
              let ci = r % uniforms.inC;
              let tap = r / uniforms.inC;
              let n = m / uniforms.outHW;
              let rest = m % uniforms.outHW;
              let iy = (rest / uniforms.outW) * uniforms.strideH + tap / uniforms.kw - uniforms.top;
              let ix = (rest % uniforms.outW) * uniforms.strideW + tap % uniforms.kw - uniforms.left;
              if (iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
                a = x[((n * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + ci];
              }
            }
            tileA[k][c] = a;
            var b = 0.0;
            let co = coBase + c;
            if (m < mEnd && co < uniforms.outC) {
              b = dy[m * uniforms.outC + co];
            }
            tileB[k][c] = b;
          }
          workgroupBarrier();
          for (var k = 0; k < ${TILE}; k = k + 1) {
            var av : array<f32, 4>;
            var bv : array<f32, 4>;
            for (var i = 0; i < 4; i = i + 1) {
              av[i] = tileA[k][ty * 4 + i];
              bv[i] = tileB[k][tx * 4 + i];
            }
            for (var i = 0; i < 4; i = i + 1) {
              for (var j = 0; j < 4; j = j + 1) {
                acc[i][j] = acc[i][j] + av[i] * bv[j];
              }
            }
          }
          workgroupBarrier();
        }
        for (var i = 0; i < 4; i = i + 1) {
          let r = rBase + ty * 4 + i;
          for (var j = 0; j < 4; j = j + 1) {
            let co = coBase + tx * 4 + j;
            if (r < uniforms.cols && co < uniforms.outC) {
              result[(split * uniforms.cols + r) * uniforms.outC + co] = acc[i][j];
            }
          }
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
    const cols = kh * kw * inC;
    const splits = filterGradientSplits(rows, cols, outC);
    const rowsPerSplit = Math.ceil(rows / splits / TILE) * TILE;
    const used = Math.ceil(rows / rowsPerSplit);
    const backend = tf.backend() as unknown as WebgpuBackendLike;
    // One uniform per value, in the order of FilterGradProgram.uniforms.
    const values = [rows, rowsPerSplit, rowsPerSplit / TILE, outW, outH * outW, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, kw, inC, outC, cols, inH, inW];
    const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
    const partial = backend.runWebGPUProgram(new FilterGradProgram(used, cols, outC), [x, dy], 'float32', uniforms);
    const out = tf.engine().makeTensorFromTensorInfo(sumSplits(backend, partial, used, cols * outC));
    return tf.reshape(out, [kh, kw, inC, outC]) as tf.Tensor4D;
  });
}
