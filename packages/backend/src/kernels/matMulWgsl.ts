import * as tf from '@tensorflow/tfjs';
import { filterGradientWgslInfo } from './conv2dFilterGradWgsl.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

/**
 * `a^T b` for `a [K, M]`, `b [K, N]` with a long K and a small result: what a dense layer's weight
 * gradient is (`x^T dy` over every row of a batch; in refUNet the attention projections' at
 * K = B x 64 rows). tfjs's `BatchMatMul` gives such a product one workgroup per 32x32 output tile,
 * each walking all of K: 48 workgroups for a 128 x 384 result, most of an H200 idle. It is the
 * filter gradient of a 1x1 conv over a 1 x K image, so the WGSL filter-gradient GEMM, which cuts
 * K into slabs across ~1,024 workgroups and adds them, computes it.
 */

/** The shortest K this takes: below it tfjs's kernel has enough work per workgroup. */
export const LONG_K = 4096;

/** Whether `matMulTransposedAWgsl` takes this product (see the file's comment). */
export function isLongKTransposedA(a: tf.TensorInfo, b: tf.TensorInfo, transposeA: boolean, transposeB: boolean): boolean {
  if (!transposeA || transposeB || a.dtype !== 'float32' || b.dtype !== 'float32') return false;
  if (a.shape.length < 2 || b.shape.length < 2) return false;
  const batchA = a.shape.slice(0, -2).reduce((p, v) => p * v, 1);
  const batchB = b.shape.slice(0, -2).reduce((p, v) => p * v, 1);
  const k = a.shape[a.shape.length - 2]!;
  const m = a.shape[a.shape.length - 1]!;
  const n = b.shape[b.shape.length - 1]!;
  // Long against both sides of the result: otherwise there are enough output tiles already.
  return batchA === 1 && batchB === 1 && b.shape[b.shape.length - 2] === k && k >= LONG_K && k >= 8 * Math.max(m, n);
}

/** `a^T b` as `[1, M, N]` (or `[M, N]` for rank-2 inputs) for a product `isLongKTransposedA` takes. */
export function matMulTransposedAWgsl(backend: WebgpuBackendLike, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  const k = a.shape[a.shape.length - 2]!;
  const m = a.shape[a.shape.length - 1]!;
  const n = b.shape[b.shape.length - 1]!;
  const geometry = { n: 1, inH: 1, inW: k, inC: m, outH: 1, outW: k, outC: n, kh: 1, kw: 1, strideH: 1, strideW: 1, top: 0, left: 0 };
  const out = filterGradientWgslInfo(backend, a, b, geometry);
  return { ...out, shape: a.shape.length === 2 ? [m, n] : [...a.shape.slice(0, -2), m, n] };
}

let enabled = true;

/** Whether webgpu's registered `BatchMatMul` sends long-K products here (`WebgpuOptions.matMul`). */
export function setMatMulWgsl(on: boolean): void {
  enabled = on;
}

/** A `BatchMatMul` kernel for webgpu: long-K `a^T b` products to the split-K GEMM (when on), others to tfjs's. */
export function batchMatMulDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const { a, b } = args.inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = args.attrs as unknown as { transposeA: boolean; transposeB: boolean };
    if (enabled && isLongKTransposedA(a, b, transposeA, transposeB)) return matMulTransposedAWgsl(args.backend as unknown as WebgpuBackendLike, a, b);
    if (builtin === undefined) throw new Error('batchMatMulDelegating: no built-in BatchMatMul kernel to delegate to');
    return builtin.kernelFunc(args);
  };
}
