import * as tf from '@tensorflow/tfjs';
import { tileOuterProducts, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * The forward conv2d as one WGSL program for tfjs's WebGPU backend: an implicit GEMM over
 * m = (n, oy, ox) and k = (i, j, ci),
 *
 *   y[m, co] = sum over k of x[n, oy*sh + i - top, ox*sw + j - left, ci] * w[k, co],
 *
 * in 64x64 (m, co) tiles, 16 values of k per step, vec4 loads, with each tile row's position
 * decoded once per workgroup. The same shape as the filter gradient's kernel
 * (`conv2dFilterGradWgsl.ts`), which beat tfjs's conv on an H200; it also serves the stride-1
 * input gradient, which `conv2dBackpropInputViaConv` computes as a forward conv.
 *
 * It takes NHWC float32 convs with dilation 1, input channels a multiple of 16 (one filter tap per
 * step) and output channels a multiple of 4; `conv2dWgslGeometry` says which, and the registered
 * kernel hands the others (an RGB input conv, NCHW, dilation) to tfjs's own.
 */

/** Output tile edge (m and co): 16x16 threads, each accumulating a 4x4 block. */
const TILE = 64;
/** Values of k per step; input channels must be a multiple of it. */
const STEP = 16;
/** Workgroups per dispatch dimension (WebGPU's default limit). */
const MAX_WORKGROUPS = 65535;

/**
 * With `flipped`, `w` is read as the spatially flipped, in/out-swapped filter of a forward conv
 * (`w'[i, j, c, o] = w[kh-1-i, kw-1-j, o, c]`): the stride-1 input gradient without materialising
 * that filter (tfjs would run a Reverse and a Transpose for it, two dispatches per conv).
 */
class Conv2DProgram {
  variableNames = ['x', 'w'];
  variableComponents: number[];
  outputComponent = 4;
  outputShape: number[];
  shaderKey: string;
  dispatchLayout = { x: [3], y: [0, 1, 2] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [16, 16, 1];
  uniforms =
    'rows : i32, steps : i32, outW : i32, outHW : i32, strideH : i32, strideW : i32, top : i32, left : i32, kw : i32, inC : i32, outC : i32, inH : i32, inW : i32, taps : i32,';
  private readonly flipped: boolean;
  private readonly bias: boolean;

  /** `bias`: a third input `[outC]` added to every output row (FusedConv2D's linear form). */
  constructor(outShape: number[], rows: number, outC: number, flipped = false, bias = false) {
    this.outputShape = outShape;
    this.dispatch = [Math.ceil(outC / TILE), Math.ceil(rows / TILE), 1];
    this.flipped = flipped;
    this.bias = bias;
    this.variableComponents = [4, flipped ? 1 : 4];
    if (bias) {
      this.variableNames = ['x', 'w', 'bias'];
      this.variableComponents.push(4);
    }
    this.shaderKey = `mtdConv2D_${flipped}${bias ? '_bias' : ''}`;
  }

  getUserCode(): string {
    return `
      // tileX[k * 16 + s] holds rows 4s..4s+3 of the tile at k; tileW[k * 16 + c], channels 4c..4c+3.
      var<workgroup> tileX : array<vec4<f32>, ${STEP * 16}>;
      var<workgroup> tileW : array<vec4<f32>, ${STEP * 16}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let thread = ty * 16 + tx;
        let mBase = i32(workgroupId.y) * ${TILE};
        let coBase = i32(workgroupId.x) * ${TILE};
        // Loading x: thread reads tile row r, values 4q..4q+3 of the step's 16 channels.
        let r = thread / 4;
        let q = thread % 4;
        let m = mBase + r;
        let n = m / uniforms.outHW;
        let rest = m - n * uniforms.outHW;
        let oy = rest / uniforms.outW;
        let iy0 = oy * uniforms.strideH - uniforms.top;
        let ix0 = (rest - oy * uniforms.outW) * uniforms.strideW - uniforms.left;
        // Loading w: thread reads row wk of the step, channels 4wc..4wc+3.
        let wk = thread / 16;
        let coLoad = coBase + (thread % 16) * 4;
        var acc0 = vec4<f32>(0.0);
        var acc1 = vec4<f32>(0.0);
        var acc2 = vec4<f32>(0.0);
        var acc3 = vec4<f32>(0.0);
        // The trip count comes from a uniform: workgroupBarrier needs uniform control flow.
        for (var s = 0; s < uniforms.steps; s = s + 1) {
          let k0 = s * ${STEP};
          let tap = k0 / uniforms.inC;
          let ci = k0 - tap * uniforms.inC + q * 4;
          let iy = iy0 + tap / uniforms.kw;
          let ix = ix0 + tap % uniforms.kw;
          var a = vec4<f32>(0.0);
          if (m < uniforms.rows && iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
            a = x[(((n * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + ci) / 4];
          }
          let slot = r / 4;
          let lane = r % 4;
          tileX[(q * 4) * 16 + slot][lane] = a.x;
          tileX[(q * 4 + 1) * 16 + slot][lane] = a.y;
          tileX[(q * 4 + 2) * 16 + slot][lane] = a.z;
          tileX[(q * 4 + 3) * 16 + slot][lane] = a.w;
          var b = vec4<f32>(0.0);
          if (coLoad < uniforms.outC) {
            ${
              this.flipped
                ? `// Row k = (tap, c) of the flipped filter: w[taps-1-tap, o, c] for 4 consecutive o.
            let tapW = (k0 + wk) / uniforms.inC;
            let base = ((uniforms.taps - 1 - tapW) * uniforms.outC + coLoad) * uniforms.inC + (k0 + wk - tapW * uniforms.inC);
            b = vec4<f32>(w[base], w[base + uniforms.inC], w[base + 2 * uniforms.inC], w[base + 3 * uniforms.inC]);`
                : `b = w[((k0 + wk) * uniforms.outC + coLoad) / 4];`
            }
          }
          tileW[thread] = b;
          workgroupBarrier();
          // Computing, thread (tx, ty) owns rows 4ty..4ty+3 and channels 4tx..4tx+3 of the tile.
          ${tileOuterProducts('tileX', 'tileW', STEP)}
          workgroupBarrier();
        }
        let co = coBase + tx * 4;
        let row = mBase + ty * 4;
        if (co < uniforms.outC) {${
          this.bias
            ? `
          let b4 = bias[co / 4];
          acc0 = acc0 + b4;
          acc1 = acc1 + b4;
          acc2 = acc2 + b4;
          acc3 = acc3 + b4;`
            : ''
        }
          if (row < uniforms.rows) { result[(row * uniforms.outC + co) / 4] = acc0; }
          if (row + 1 < uniforms.rows) { result[((row + 1) * uniforms.outC + co) / 4] = acc1; }
          if (row + 2 < uniforms.rows) { result[((row + 2) * uniforms.outC + co) / 4] = acc2; }
          if (row + 3 < uniforms.rows) { result[((row + 3) * uniforms.outC + co) / 4] = acc3; }
        }
      }
    `;
  }
}

/** tfjs's `Conv2D` attributes. */
export interface Conv2DAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

type Conv2DInfo = ReturnType<typeof tf.backend_util.computeConv2DInfo>;

/**
 * The conv's geometry if `conv2dWgsl` takes it (see the file's comment), else undefined (then
 * tfjs's kernel does).
 */
export function conv2dWgslGeometry(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Conv2DAttrs): Conv2DInfo | undefined {
  const dilations = attrs.dilations ?? 1;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  const [inC, outC] = [filter.shape[2]!, filter.shape[3]!];
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || dh !== 1 || dw !== 1) return undefined;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  if (inC % STEP !== 0 || outC % 4 !== 0 || x.shape[3] !== inC) return undefined;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return Math.ceil((info.batchSize * info.outHeight * info.outWidth) / TILE) <= MAX_WORKGROUPS ? info : undefined;
}

/**
 * `Conv2D` by the WGSL implicit GEMM above, for a conv `conv2dWgslGeometry` accepts (pass its
 * result), on tfjs's WebGPU backend; with `bias` (float32 `[outC]`), plus the bias. Returns the
 * output's tensor info (a kernel's result).
 */
export function conv2dWgsl(backend: WebgpuBackendLike, x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Conv2DAttrs, geometry?: Conv2DInfo, bias?: tf.TensorInfo): tf.TensorInfo {
  const info = geometry ?? conv2dWgslGeometry(x, filter, attrs);
  if (info === undefined) {
    throw new RangeError(
      `conv2dWgsl: needs NHWC float32, dilation 1, input channels a multiple of ${STEP} and output channels a multiple of 4; got x [${x.shape.join(', ')}], filter [${filter.shape.join(', ')}]`,
    );
  }
  const [, kw, inC, outC] = filter.shape as [number, number, number, number];
  const [n, inH, inW] = x.shape as [number, number, number, number];
  const rows = n * info.outHeight * info.outWidth;
  // One uniform per value, in the order of Conv2DProgram.uniforms.
  const values = [rows, (info.filterHeight * kw * inC) / STEP, info.outWidth, info.outHeight * info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, kw, inC, outC, inH, inW, info.filterHeight * kw];
  const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
  const outShape = [n, info.outHeight, info.outWidth, outC];
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== outC)) {
    throw new RangeError(`conv2dWgsl: bias must be float32 [${outC}], got ${bias.dtype} [${bias.shape.join(', ')}]`);
  }
  const inputs = bias === undefined ? [x, filter] : [x, filter, bias];
  return backend.runWebGPUProgram(new Conv2DProgram(outShape, rows, outC, false, bias !== undefined), inputs, 'float32', uniforms);
}

/**
 * The stride-1 input gradient `dx` of a forward conv (`x [N, H, W, Ci]`, `filter [kh, kw, Ci, Co]`)
 * as the WGSL GEMM over `dy` with the flipped filter read in place, when it applies: NHWC float32,
 * stride and dilation 1, Co a multiple of 16, Ci of 4, padding that needs no cropping. Otherwise
 * undefined (the caller computes it another way).
 */
export function conv2dBackpropInputWgsl(
  backend: WebgpuBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: readonly number[],
  attrs: Conv2DAttrs,
): tf.TensorInfo | undefined {
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || dy.dtype !== 'float32' || filter.dtype !== 'float32' || dy.shape.length !== 4) return undefined;
  const [kh, kw, inC, outC] = filter.shape as [number, number, number, number];
  if (outC % STEP !== 0 || inC % 4 !== 0 || dy.shape[3] !== outC) return undefined;
  const info = tf.backend_util.computeConv2DInfo(inputShape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  if (info.strideHeight !== 1 || info.strideWidth !== 1) return undefined;
  const [n, h, w] = inputShape as [number, number, number, number];
  const [, oh, ow] = dy.shape as [number, number, number, number];
  // The "full" correlation's padding (see conv2dBackpropInputViaConv); the far sides must not crop.
  const top = kh - 1 - info.padInfo.top;
  const left = kw - 1 - info.padInfo.left;
  if (top < 0 || left < 0 || h + kh - 1 - oh - top < 0 || w + kw - 1 - ow - left < 0) return undefined;
  const rows = n * h * w;
  if (Math.ceil(rows / TILE) > MAX_WORKGROUPS) return undefined;
  // Uniforms as Conv2DProgram's, for the conv of dy (Co channels) into dx (Ci channels).
  const values = [rows, (kh * kw * outC) / STEP, w, h * w, 1, 1, top, left, kw, outC, inC, oh, ow, kh * kw];
  const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
  return backend.runWebGPUProgram(new Conv2DProgram([n, h, w, inC], rows, inC, true), [dy, filter], 'float32', uniforms);
}

let enabled = false;

/** Whether the WGSL conv is on (`WebgpuOptions.conv2d`): the input gradient follows it. */
export function conv2dWgslEnabled(): boolean {
  return enabled;
}

/** Whether webgpu's registered `Conv2D` uses `conv2dWgsl` (see `WebgpuOptions.conv2d`). */
export function setConv2dWgsl(on: boolean): void {
  enabled = on;
}

/**
 * A `FusedConv2D` kernel for webgpu: a linear conv plus a bias `[outC]` (what `tf.fused.conv2d`
 * with a bias runs, e.g. `@mtd/nn`'s conv2d on webgpu) as one `conv2dWgsl` dispatch when the conv
 * is one it takes (and the WGSL conv is on); activations, PReLU weights, other bias shapes and
 * other convs go to tfjs's kernel.
 */
export function fusedConv2dDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, tf.TensorInfo | undefined>;
    const attrs = args.attrs as unknown as Conv2DAttrs & { activation?: string };
    const outC = filter!.shape[3];
    const plainBias = bias === undefined || (bias.dtype === 'float32' && bias.shape.length === 1 && bias.shape[0] === outC);
    const linear = (attrs.activation ?? 'linear') === 'linear' && preluActivationWeights === undefined;
    const geometry = enabled && linear && plainBias ? conv2dWgslGeometry(x!, filter!, attrs) : undefined;
    if (geometry !== undefined) return conv2dWgsl(args.backend as unknown as WebgpuBackendLike, x!, filter!, attrs, geometry, bias);
    if (builtin === undefined) throw new Error('fusedConv2dDelegating: no built-in FusedConv2D kernel to delegate to');
    return builtin.kernelFunc(args);
  };
}

/** A `Conv2D` kernel for webgpu: the convs `conv2dWgsl` takes go to it (when on), others to tfjs's. */
export function conv2dDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
    const attrs = args.attrs as unknown as Conv2DAttrs;
    const geometry = enabled ? conv2dWgslGeometry(x, filter, attrs) : undefined;
    if (geometry !== undefined) return conv2dWgsl(args.backend as unknown as WebgpuBackendLike, x, filter, attrs, geometry);
    if (builtin === undefined) throw new Error('conv2dDelegating: no built-in Conv2D kernel to delegate to');
    return builtin.kernelFunc(args);
  };
}
