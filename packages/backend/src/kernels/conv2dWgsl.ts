import * as tf from '@tensorflow/tfjs';
import {
  checkWorkgroupMemory,
  declareAccumulators,
  DEFAULT_CONV_TILING,
  DEFAULT_INPUT_GRADIENT_TILING,
  forEachAccumulator,
  gemmTilingName,
  stepLoop,
  tileOuterProducts,
  tilingThreads,
  type GemmTiling,
} from './gemmTiling.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * The forward conv2d as one WGSL program for tfjs's WebGPU backend: an implicit GEMM over
 * m = (n, oy, ox) and k = (i, j, ci),
 *
 *   y[m, co] = sum over k of x[n, oy*sh + i - top, ox*sw + j - left, ci] * w[k, co],
 *
 * in (m, co) tiles of the selected `GemmTiling` (`WebgpuOptions.gemmTiles.conv`; by default
 * 64x64, 8x8 per thread, 16 values of k per step, prefetching), vec4 loads, with each tile row's
 * position decoded once per workgroup. The same shape as the filter gradient's kernel
 * (`conv2dFilterGradWgsl.ts`), which beat tfjs's conv on an H200; it also serves the stride-1 input
 * gradient, which `conv2dBackpropInputViaConv` computes as a forward conv, under its own tiling
 * (`gemmTiles.inputGradient`; by default 128x64, 8x4 per thread, prefetching).
 *
 * It takes NHWC float32 convs with dilation 1, input channels a multiple of 16 (one filter tap per
 * step) and output channels a multiple of 4; `conv2dWgslGeometry` says which, and the registered
 * kernel hands the others (an RGB input conv, NCHW, dilation) to tfjs's own.
 */

/** The smallest step of k: input channels must be a multiple of it (one filter tap per step). */
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
  workgroupSize: [number, number, number];
  uniforms =
    'rows : i32, steps : i32, outW : i32, outHW : i32, strideH : i32, strideW : i32, top : i32, left : i32, kw : i32, inC : i32, outC : i32, inH : i32, inW : i32, taps : i32,';
  private readonly flipped: boolean;
  private readonly bias: boolean;
  private readonly tiling: GemmTiling;
  private readonly step: number;

  /**
   * `bias`: a third input `[outC]` added to every output row (FusedConv2D's linear form).
   * `step`: the tiling's step, or 16 where the input channels are not a multiple of it.
   */
  constructor(outShape: number[], rows: number, outC: number, flipped: boolean, bias: boolean, tiling: GemmTiling, step: number) {
    const { threadsM, threadsN } = tilingThreads(tiling);
    this.outputShape = outShape;
    this.workgroupSize = [threadsN, threadsM, 1];
    this.dispatch = [Math.ceil(outC / tiling.tileN), Math.ceil(rows / tiling.tileM), 1];
    this.flipped = flipped;
    this.bias = bias;
    this.tiling = tiling;
    this.step = step;
    this.variableComponents = [4, flipped ? 1 : 4];
    if (bias) {
      this.variableNames = ['x', 'w', 'bias'];
      this.variableComponents.push(4);
    }
    this.shaderKey = `mtdConv2D_${flipped}${bias ? '_bias' : ''}_${gemmTilingName(tiling)}_${step}`;
  }

  getUserCode(): string {
    const t = this.tiling;
    const step = this.step;
    const { threads } = tilingThreads(t);
    const rowsA = t.tileM / 4;
    const colsB = t.tileN / 4;
    // x: item l of a thread is tile row rA_l, channels 4q..4q+3 of the step (q fixed per thread).
    const quads = step / 4;
    const loadsA = (t.tileM * quads) / threads;
    const loadsB = (t.tileN * step) / 4 / threads;
    const range = (n: number) => Array.from({ length: n }, (_, l) => l);
    const decode = range(loadsA)
      .map(
        (l) => `let rA${l} = thread / ${quads} + ${(l * threads) / quads};
        let mA${l} = mBase + rA${l};
        let nA${l} = mA${l} / uniforms.outHW;
        let restA${l} = mA${l} - nA${l} * uniforms.outHW;
        let oyA${l} = restA${l} / uniforms.outW;
        let iy0A${l} = oyA${l} * uniforms.strideH - uniforms.top;
        let ix0A${l} = (restA${l} - oyA${l} * uniforms.outW) * uniforms.strideW - uniforms.left;
        var ra${l} = vec4<f32>(0.0);`,
      )
      .join('\n        ');
    // w: item l of a thread is step row kB_l, channels 4cB_l..4cB_l+3 of the tile.
    const declareB = range(loadsB)
      .map(
        (l) => `let kB${l} = (thread + ${l * threads}) / ${colsB};
        let coB${l} = coBase + ((thread + ${l * threads}) % ${colsB}) * 4;
        var rb${l} = vec4<f32>(0.0);`,
      )
      .join('\n        ');
    const load = (s: string) => `{
          let k0 = ${s} * ${step};
          let tap = k0 / uniforms.inC;
          let ci = k0 - tap * uniforms.inC + q * 4;
          let tapY = tap / uniforms.kw;
          let tapX = tap % uniforms.kw;
          ${range(loadsA)
            .map(
              (l) => `ra${l} = vec4<f32>(0.0);
          {
            let iy = iy0A${l} + tapY;
            let ix = ix0A${l} + tapX;
            if (mA${l} < uniforms.rows && iy >= 0 && iy < uniforms.inH && ix >= 0 && ix < uniforms.inW) {
              ra${l} = x[(((nA${l} * uniforms.inH + iy) * uniforms.inW + ix) * uniforms.inC + ci) / 4];
            }
          }`,
            )
            .join('\n          ')}
          ${range(loadsB)
            .map(
              (l) => `rb${l} = vec4<f32>(0.0);
          if (coB${l} < uniforms.outC) {
            ${
              this.flipped
                ? `// Row k = (tap, c) of the flipped filter: w[taps-1-tap, o, c] for 4 consecutive o.
            let tapW = (k0 + kB${l}) / uniforms.inC;
            let base = ((uniforms.taps - 1 - tapW) * uniforms.outC + coB${l}) * uniforms.inC + (k0 + kB${l} - tapW * uniforms.inC);
            rb${l} = vec4<f32>(w[base], w[base + uniforms.inC], w[base + 2 * uniforms.inC], w[base + 3 * uniforms.inC]);`
                : `rb${l} = w[((k0 + kB${l}) * uniforms.outC + coB${l}) / 4];`
            }
          }`,
            )
            .join('\n          ')}
        }`;
    // tileX[k * rowsA + r / 4][r % 4] holds tile row r at k: stored transposed, read as vec4 of rows.
    const store = [
      ...range(loadsA).map((l) =>
        ['x', 'y', 'z', 'w'].map((c, i) => `tileX[(q * 4 + ${i}) * ${rowsA} + rA${l} / 4][rA${l} % 4] = ra${l}.${c};`).join('\n          '),
      ),
      ...range(loadsB).map((l) => `tileW[thread + ${l * threads}] = rb${l};`),
    ].join('\n          ');
    const stores: string[] = [];
    forEachAccumulator(t, (v, row, colBlock) => {
      stores.push(`{
            let row = mBase + ${row};
            let co = coBase + ${colBlock} * 4;
            if (row < uniforms.rows && co < uniforms.outC) { result[(row * uniforms.outC + co) / 4] = ${this.bias ? `${v} + bias[co / 4]` : v}; }
          }`);
    });
    return `
      var<workgroup> tileX : array<vec4<f32>, ${step * rowsA}>;
      var<workgroup> tileW : array<vec4<f32>, ${step * colsB}>;

      fn main() {
        let tx = i32(localId.x);
        let ty = i32(localId.y);
        let thread = ty * ${t.tileN / t.colsPerThread} + tx;
        let mBase = i32(workgroupId.y) * ${t.tileM};
        let coBase = i32(workgroupId.x) * ${t.tileN};
        let q = thread % ${quads};
        ${decode}
        ${declareB}
        ${declareAccumulators(t)}
        ${stepLoop(t, 'uniforms.steps', load, store, tileOuterProducts(t, 'tileX', 'tileW', step))}
        ${stores.join('\n        ')}
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
export function conv2dWgslGeometry(x: tf.TensorInfo, filter: tf.TensorInfo, attrs: Conv2DAttrs, tiling: GemmTiling = convTiling): Conv2DInfo | undefined {
  const dilations = attrs.dilations ?? 1;
  const [dh, dw] = typeof dilations === 'number' ? [dilations, dilations] : dilations;
  const [inC, outC] = [filter.shape[2]!, filter.shape[3]!];
  if ((attrs.dataFormat ?? 'NHWC') !== 'NHWC' || dh !== 1 || dw !== 1) return undefined;
  if (x.dtype !== 'float32' || filter.dtype !== 'float32' || x.shape.length !== 4) return undefined;
  if (inC % STEP !== 0 || outC % 4 !== 0 || x.shape[3] !== inC) return undefined;
  const info = tf.backend_util.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number], attrs.strides, 1, attrs.pad, attrs.dimRoundingMode);
  return Math.ceil((info.batchSize * info.outHeight * info.outWidth) / tiling.tileM) <= MAX_WORKGROUPS ? info : undefined;
}

/**
 * `Conv2D` by the WGSL implicit GEMM above, for a conv `conv2dWgslGeometry` accepts (pass its
 * result), on tfjs's WebGPU backend; with `bias` (float32 `[outC]`), plus the bias. Returns the
 * output's tensor info (a kernel's result).
 */
export function conv2dWgsl(
  backend: WebgpuBackendLike,
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  attrs: Conv2DAttrs,
  geometry?: Conv2DInfo,
  bias?: tf.TensorInfo,
  tiling: GemmTiling = convTiling,
): tf.TensorInfo {
  const info = geometry ?? conv2dWgslGeometry(x, filter, attrs, tiling);
  if (info === undefined) {
    throw new RangeError(
      `conv2dWgsl: needs NHWC float32, dilation 1, input channels a multiple of ${STEP} and output channels a multiple of 4; got x [${x.shape.join(', ')}], filter [${filter.shape.join(', ')}]`,
    );
  }
  const [, kw, inC, outC] = filter.shape as [number, number, number, number];
  const [n, inH, inW] = x.shape as [number, number, number, number];
  const rows = n * info.outHeight * info.outWidth;
  // One uniform per value, in the order of Conv2DProgram.uniforms.
  const step = stepFor(tiling, inC);
  checkWorkgroupMemory(backend, tiling, step, 'conv2dWgsl');
  const values = [rows, (info.filterHeight * kw * inC) / step, info.outWidth, info.outHeight * info.outWidth, info.strideHeight, info.strideWidth, info.padInfo.top, info.padInfo.left, kw, inC, outC, inH, inW, info.filterHeight * kw];
  const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
  const outShape = [n, info.outHeight, info.outWidth, outC];
  if (bias !== undefined && (bias.dtype !== 'float32' || bias.shape.length !== 1 || bias.shape[0] !== outC)) {
    throw new RangeError(`conv2dWgsl: bias must be float32 [${outC}], got ${bias.dtype} [${bias.shape.join(', ')}]`);
  }
  const inputs = bias === undefined ? [x, filter] : [x, filter, bias];
  return backend.runWebGPUProgram(new Conv2DProgram(outShape, rows, outC, false, bias !== undefined, tiling, step), inputs, 'float32', uniforms);
}

/**
 * The stride-1 input gradient `dx` of a forward conv (`x [N, H, W, Ci]`, `filter [kh, kw, Ci, Co]`)
 * as the WGSL GEMM over `dy` with the flipped filter read in place, when it applies: NHWC float32,
 * stride and dilation 1, Co a multiple of 16, Ci of 4, padding that needs no cropping. Otherwise
 * undefined (the caller computes it another way). `tiling`: by default the input gradient's
 * (`WebgpuOptions.gemmTiles.inputGradient`), not the forward conv's.
 */
export function conv2dBackpropInputWgsl(
  backend: WebgpuBackendLike,
  dy: tf.TensorInfo,
  filter: tf.TensorInfo,
  inputShape: readonly number[],
  attrs: Conv2DAttrs,
  tiling: GemmTiling = inputGradTiling,
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
  if (Math.ceil(rows / tiling.tileM) > MAX_WORKGROUPS) return undefined;
  // Uniforms as Conv2DProgram's, for the conv of dy (Co channels) into dx (Ci channels).
  const step = stepFor(tiling, outC);
  checkWorkgroupMemory(backend, tiling, step, 'conv2dBackpropInputWgsl');
  const values = [rows, (kh * kw * outC) / step, w, h * w, 1, 1, top, left, kw, outC, inC, oh, ow, kh * kw];
  const uniforms = values.map((v) => ({ type: 'int32', data: [v] }));
  return backend.runWebGPUProgram(new Conv2DProgram([n, h, w, inC], rows, inC, true, false, tiling, step), [dy, filter], 'float32', uniforms);
}

let enabled = false;
let convTiling: GemmTiling = DEFAULT_CONV_TILING;
let inputGradTiling: GemmTiling = DEFAULT_INPUT_GRADIENT_TILING;

/** The tiling's step where the reduced channels allow it, else the smallest, 16. */
function stepFor(tiling: GemmTiling, channels: number): number {
  return channels % tiling.step === 0 ? tiling.step : STEP;
}

/** The tiling of the WGSL forward conv (`WebgpuOptions.gemmTiles.conv`). */
export function setConv2dWgslTiling(tiling: GemmTiling): void {
  convTiling = tiling;
}

/** The tiling of the WGSL stride-1 input gradient (`WebgpuOptions.gemmTiles.inputGradient`). */
export function setConv2dBackpropInputWgslTiling(tiling: GemmTiling): void {
  inputGradTiling = tiling;
}

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
