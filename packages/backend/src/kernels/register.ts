import * as tf from '@tensorflow/tfjs';
import {
  conv2dBackpropFilterViaConv,
  conv2dBackpropFilterViaMatMul,
  conv2dBackpropInputViaConv,
  type Conv2DBackpropFilterArgs,
  type Conv2DBackpropInputArgs,
} from './conv2dBackprop.js';
import { resizeNearestGradArrays, resizeNearestGradViaMatMul, type ResizeNearestAttrs } from './resizeNearestNeighborGrad.js';
import { unsortedSegmentSumViaMatMul } from './unsortedSegmentSum.js';
import { addNDelegating } from './addN.js';
import { conv2dBackpropFilterWgsl } from './conv2dFilterGradWgsl.js';
import { leadingSumDelegating } from './leadingSumWgsl.js';
import { batchMatMulDelegating } from './matMulWgsl.js';
import { conv2dBackpropInputWgsl, conv2dDelegating, conv2dWgslEnabled, fusedConv2dDelegating } from './conv2dWgsl.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * Which kernels each backend gets, and why (the measurements are in PLATFORM.md):
 *
 * | backend | kernel | why |
 * |---|---|---|
 * | wasm | Conv2DBackpropFilter | missing: any conv net fails to train |
 * | wasm | Conv2DBackpropInput | built-in is a scalar loop, 3-20x slower than the conv form |
 * | wasm | UnsortedSegmentSum | missing: it is the gradient of tf.gather (embeddings) |
 * | wasm | OneHot | built-in writes int32 bits into float32 outputs (1 reads as 1.4e-45) |
 * | wasm, webgpu | ResizeNearestNeighborGrad | built-in ignores halfPixelCenters |
 * | cpu | ResizeNearestNeighborGrad | built-in wrong for batch > 1 and for halfPixelCenters |
 * | cpu | Conv2DBackpropFilter | built-in runs at 0.01 GFLOP/s; the conv form 35-65x faster |
 * | webgpu | AddN | built-in fails WebGPU validation past 7 inputs (8 storage buffers per stage) |
 * | webgpu | Conv2DBackpropFilter | built-in is 80% of a U-Net step's GPU time (159 ms for one 32x32x64 layer on an H200, issue 7's profile); the WGSL implicit GEMM takes 0.84 ms for it at batch 256 (im2col + split-K matMul 6 ms) |
 * | webgpu | Sum | with `webgpu.reductions: 'wgsl'` (default): leading-axes sums without tfjs's transpose and with more than one workgroup per output (a refUNet step 16% faster on an H200) |
 * | webgpu | Conv2D | with `webgpu.conv2d: 'wgsl'` (default): an implicit GEMM in 64x64 tiles, 1.4x tfjs's conv in a refUNet step on an H200 (43 -> 30 ms of GPU time at batch 256); other convs delegate to tfjs's |
 * | webgpu | FusedConv2D | the same GEMM with the bias added in its epilogue (a linear conv with a `[outC]` bias: one dispatch instead of a conv and an add); others delegate to tfjs's |
 * | webgpu | Conv2DBackpropInput | built-in took 2.5x the forward conv's GPU time in a refUNet step (H100, BENCHMARKS.md); stride 1 as a forward conv runs at the conv's speed |
 * | webgpu | BatchMatMul | with `webgpu.matMul: 'wgsl'` (default): a long-K `a^T b` with a small result (a dense layer's weight gradient) by the split-K filter-gradient GEMM; the built-in runs it on one workgroup per 32x32 output tile (not yet timed on a GPU); others delegate to tfjs's |
 *
 * wasm and cpu use `conv2dBackpropFilterViaConv`; the im2col form (`conv2dBackpropFilterViaMatMul`)
 * measured 2-30x slower on both (bench/convGrads.ts). webgpu uses a WGSL implicit GEMM
 * (`conv2dFilterGradWgsl.ts`: 4-8x faster than the im2col form on an H200, BENCHMARKS.md); the
 * im2col form stays as `webgpu.filterGradient: 'im2col'`.
 * cpu keeps its own Conv2DBackpropInput: 1.7-9x faster than the conv form there.
 */

type KernelArgs = Parameters<tf.KernelFunc>[0];
type Shape4 = [number, number, number, number];

function tensor(args: KernelArgs, name: string): tf.Tensor {
  const t = args.inputs[name];
  if (t === undefined) throw new Error(`kernel input '${name}' is missing`);
  // The engine hands registered kernels the op's own Tensor objects.
  return t as tf.Tensor;
}

/** A Conv2DBackpropFilter kernel computed by `impl` (one of the ops-based forms). */
function filterGradient(impl: (args: Conv2DBackpropFilterArgs) => tf.Tensor4D): tf.KernelFunc {
  return (args) => {
    const a = args.attrs as unknown as Omit<Conv2DBackpropFilterArgs, 'x' | 'dy'>;
    return impl({
      x: tensor(args, 'x') as tf.Tensor4D,
      dy: tensor(args, 'dy') as tf.Tensor4D,
      filterShape: a.filterShape,
      strides: a.strides,
      pad: a.pad,
      dataFormat: a.dataFormat,
      dimRoundingMode: a.dimRoundingMode,
    });
  };
}

/** wasm and cpu: as a convolution (see the table above). */
const conv2dBackpropFilter = filterGradient(conv2dBackpropFilterViaConv);

/** How webgpu computes the filter gradient: see `WebgpuOptions.filterGradient`. */
export type WebgpuFilterGradient = 'im2col' | 'wgsl';
let webgpuFilterGradient: WebgpuFilterGradient = 'wgsl';

/** Chooses webgpu's filter-gradient form from now on (read at every call of the kernel). */
export function setWebgpuFilterGradient(form: WebgpuFilterGradient): void {
  webgpuFilterGradient = form;
}

const conv2dBackpropFilterWebgpu = filterGradient((args) =>
  webgpuFilterGradient === 'wgsl' ? conv2dBackpropFilterWgsl(args) : conv2dBackpropFilterViaMatMul(args),
);

/** A Conv2DBackpropInput kernel as a forward conv; `convPads`: the conv pads dy itself. */
function inputGradient(convPads: boolean): tf.KernelFunc {
  return (args) => {
    const a = args.attrs as unknown as Omit<Conv2DBackpropInputArgs, 'dy' | 'filter'>;
    const input: Conv2DBackpropInputArgs = {
      dy: tensor(args, 'dy') as tf.Tensor4D,
      filter: tensor(args, 'filter') as tf.Tensor4D,
      inputShape: a.inputShape,
      strides: a.strides,
      pad: a.pad,
      dataFormat: a.dataFormat,
      dimRoundingMode: a.dimRoundingMode,
    };
    return conv2dBackpropInputViaConv(input, { convPads });
  };
}

/** wasm: with a separate pad (the committed wasm runs' sums, bit for bit). */
const conv2dBackpropInput = inputGradient(false);

/**
 * webgpu: stride 1 as a conv-padded forward conv (2.3x faster than the built-in on refUNet's
 * 32x32x64 layer at batch 256 on an H100); strided, the built-in (1.5 ms against 1.8: the zero
 * insertion costs more than it saves).
 */
function inputGradientWebgpu(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  const viaConv = inputGradient(true);
  return (args) => {
    const { strides, inputShape } = args.attrs as unknown as { strides: number | [number, number]; inputShape: number[] };
    const [sh, sw] = typeof strides === 'number' ? [strides, strides] : strides;
    if ((sh > 1 || sw > 1) && builtin !== undefined) return builtin.kernelFunc(args);
    // With the WGSL conv on: the same GEMM reading the flipped filter in place (no Reverse and
    // Transpose dispatches), where it applies, in its own tiling (`gemmTiles.inputGradient`).
    if (conv2dWgslEnabled()) {
      const { dy, filter } = args.inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
      const dx = conv2dBackpropInputWgsl(args.backend as unknown as WebgpuBackendLike, dy, filter, inputShape, args.attrs as unknown as Parameters<typeof conv2dBackpropInputWgsl>[4]);
      if (dx !== undefined) return dx;
    }
    return viaConv(args);
  };
}

const unsortedSegmentSum: tf.KernelFunc = (args) => {
  const { numSegments } = args.attrs as unknown as { numSegments: number };
  return unsortedSegmentSumViaMatMul(tensor(args, 'x'), tensor(args, 'segmentIds'), numSegments);
};

function resizeAttrs(args: KernelArgs): ResizeNearestAttrs {
  const a = args.attrs as { alignCorners?: boolean; halfPixelCenters?: boolean };
  return { alignCorners: a.alignCorners === true, halfPixelCenters: a.halfPixelCenters === true };
}

/** cpu: a direct loop over dy (its data already lives in JS memory). */
const resizeNearestGradCpu: tf.KernelFunc = (args) => {
  const backend = args.backend as unknown as {
    readSync(dataId: object): ArrayLike<number>;
    makeTensorInfo(shape: number[], dtype: tf.DataType, values: Float32Array): tf.TensorInfo;
  };
  const images = args.inputs.images!;
  const dy = args.inputs.dy!;
  const dx = resizeNearestGradArrays(
    backend.readSync(dy.dataId),
    dy.shape as Shape4,
    images.shape as Shape4,
    resizeAttrs(args),
  );
  return backend.makeTensorInfo(images.shape, 'float32', dx);
};

/** wasm/webgpu: the built-in kernel is right without halfPixelCenters and faster; else matMuls. */
function resizeNearestGradDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const attrs = resizeAttrs(args);
    if (!attrs.halfPixelCenters && builtin !== undefined) return builtin.kernelFunc(args);
    return resizeNearestGradViaMatMul(tensor(args, 'dy') as tf.Tensor4D, tensor(args, 'images').shape as Shape4, attrs);
  };
}

/**
 * wasm: the built-in always writes int32, whatever `dtype` says, and truncates fractional
 * on/off values; so only int32 goes to it, and other dtypes are `off + (on - off) * oneHot`.
 */
function oneHotDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const { dtype, depth, onValue, offValue } = args.attrs as unknown as {
      dtype: tf.DataType;
      depth: number;
      onValue: number;
      offValue: number;
    };
    if (dtype === 'int32' && builtin !== undefined) return builtin.kernelFunc(args);
    return tf.tidy(() => {
      const ones = tf.cast(tf.oneHot(tensor(args, 'indices') as tf.Tensor1D, depth), 'float32');
      const scaled = tf.add(tf.mul(ones, onValue - offValue), offValue);
      return dtype === 'float32' ? scaled : tf.cast(scaled, dtype);
    });
  };
}

interface Replacement {
  kernelName: string;
  /** Builds the kernel, given the built-in it replaces (if any). */
  make: (builtin: tf.KernelConfig | undefined) => tf.KernelFunc;
  /** Keep the built-in's setup/dispose hooks: a delegating kernel still calls into it. */
  delegates?: boolean;
}

const REPLACEMENTS: Record<string, readonly Replacement[]> = {
  wasm: [
    { kernelName: tf.Conv2DBackpropFilter, make: () => conv2dBackpropFilter },
    { kernelName: tf.Conv2DBackpropInput, make: () => conv2dBackpropInput },
    { kernelName: tf.UnsortedSegmentSum, make: () => unsortedSegmentSum },
    { kernelName: tf.OneHot, make: oneHotDelegating, delegates: true },
    { kernelName: tf.ResizeNearestNeighborGrad, make: resizeNearestGradDelegating, delegates: true },
  ],
  webgpu: [
    { kernelName: tf.ResizeNearestNeighborGrad, make: resizeNearestGradDelegating, delegates: true },
    { kernelName: tf.Conv2DBackpropFilter, make: () => conv2dBackpropFilterWebgpu },
    { kernelName: tf.Conv2DBackpropInput, make: inputGradientWebgpu, delegates: true },
    { kernelName: tf.AddN, make: addNDelegating, delegates: true },
    { kernelName: tf.Sum, make: leadingSumDelegating, delegates: true },
    { kernelName: tf.Conv2D, make: conv2dDelegating, delegates: true },
    { kernelName: tf.FusedConv2D, make: fusedConv2dDelegating, delegates: true },
    { kernelName: tf.BatchMatMul, make: batchMatMulDelegating, delegates: true },
  ],
  cpu: [
    { kernelName: tf.ResizeNearestNeighborGrad, make: () => resizeNearestGradCpu },
    { kernelName: tf.Conv2DBackpropFilter, make: () => conv2dBackpropFilter },
  ],
};

/** What was registered before we replaced it, so `unregisterTrainingKernels` can restore it. */
const originals = new Map<string, tf.KernelConfig | undefined>();

/** The kernel names `registerTrainingKernels(backendName)` replaces or adds. */
export function trainingKernelNames(backendName: string): string[] {
  return (REPLACEMENTS[backendName] ?? []).map((r) => r.kernelName);
}

/**
 * Registers, for `backendName`, the kernels training needs that tfjs lacks or gets wrong (see the
 * table above). Idempotent; does nothing for a backend with no replacements (e.g. 'tensorflow').
 * `selectBackend` calls it; call it yourself only if you switch backends with `tf.setBackend`.
 */
export function registerTrainingKernels(backendName: string): void {
  if (typeof backendName !== 'string' || backendName.length === 0) {
    throw new TypeError(`registerTrainingKernels: backendName must be a non-empty string, got ${String(backendName)}`);
  }
  for (const { kernelName, make, delegates } of REPLACEMENTS[backendName] ?? []) {
    const key = `${backendName}/${kernelName}`;
    if (originals.has(key)) continue;
    const builtin = tf.getKernel(kernelName, backendName);
    originals.set(key, builtin);
    // unregister first: registerKernel over an existing kernel works but logs a warning.
    if (builtin !== undefined) tf.unregisterKernel(kernelName, backendName);
    const config: tf.KernelConfig = { kernelName, backendName, kernelFunc: make(builtin) };
    // wasm runs each kernel's setupFunc when the backend initialises; a delegating kernel
    // registered before that must carry the built-in's, or the built-in is never wired up.
    if (delegates && builtin?.setupFunc) config.setupFunc = builtin.setupFunc;
    if (delegates && builtin?.disposeFunc) config.disposeFunc = builtin.disposeFunc;
    tf.registerKernel(config);
  }
}

/** Puts tfjs's own kernels back (for comparisons in tests). */
export function unregisterTrainingKernels(backendName: string): void {
  for (const { kernelName } of REPLACEMENTS[backendName] ?? []) {
    const key = `${backendName}/${kernelName}`;
    if (!originals.has(key)) continue;
    const builtin = originals.get(key);
    originals.delete(key);
    tf.unregisterKernel(kernelName, backendName);
    if (builtin !== undefined) tf.registerKernel(builtin);
  }
}
