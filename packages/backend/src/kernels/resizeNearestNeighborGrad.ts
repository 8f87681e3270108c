import * as tf from '@tensorflow/tfjs';

/**
 * The gradient of `tf.image.resizeNearestNeighbor`: every output pixel hands its `dy` back to the
 * one input pixel it copied. tfjs's own kernels get this wrong in two ways (measured here):
 *
 * - cpu reads `dy` with the *input's* batch stride, so every batch index after the first gets the
 *   wrong gradient (relative error ~0.7; the loss still falls, so nothing looks broken);
 * - cpu, wasm and webgpu all ignore `halfPixelCenters`, so with it set the gradient lands on the
 *   wrong pixels whenever the scale is not an integer upsampling factor.
 *
 * The source index below is copied from tfjs's cpu *forward* kernel, so the gradient is the exact
 * adjoint of the forward op it differentiates.
 */

export interface ResizeNearestAttrs {
  alignCorners: boolean;
  halfPixelCenters: boolean;
}

/**
 * For each of `outSize` output rows (or columns), the input row it copies, as tfjs's cpu
 * `ResizeNearestNeighbor` computes it.
 */
export function nearestSourceIndices(inSize: number, outSize: number, attrs: ResizeNearestAttrs): Int32Array {
  const { alignCorners, halfPixelCenters } = attrs;
  const effectiveIn = alignCorners && outSize > 1 ? inSize - 1 : inSize;
  const effectiveOut = alignCorners && outSize > 1 ? outSize - 1 : outSize;
  const ratio = effectiveIn / effectiveOut;
  const src = new Int32Array(outSize);
  for (let r = 0; r < outSize; r++) {
    const frac = halfPixelCenters ? ratio * (r + 0.5) : ratio * r;
    let s = Math.min(inSize - 1, alignCorners ? Math.round(frac) : Math.floor(frac));
    if (halfPixelCenters) s = Math.max(0, s);
    src[r] = s;
  }
  return src;
}

/** The adjoint on plain arrays (NHWC), one pass over `dy`. Used by the cpu kernel. */
export function resizeNearestGradArrays(
  dy: ArrayLike<number>,
  dyShape: readonly [number, number, number, number],
  imageShape: readonly [number, number, number, number],
  attrs: ResizeNearestAttrs,
): Float32Array {
  const [batch, inH, inW, depth] = imageShape;
  const [, outH, outW] = dyShape;
  const rows = nearestSourceIndices(inH, outH, attrs);
  const cols = nearestSourceIndices(inW, outW, attrs);
  const dx = new Float32Array(batch * inH * inW * depth);
  let k = 0;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < outH; r++) {
      const rowBase = (b * inH + rows[r]!) * inW;
      for (let c = 0; c < outW; c++) {
        const base = (rowBase + cols[c]!) * depth;
        for (let d = 0; d < depth; d++) dx[base + d] = dx[base + d]! + dy[k++]!;
      }
    }
  }
  return dx;
}

/** A 0/1 matrix `[inSize, outSize]` with a one at `(source(r), r)`. */
function selectionMatrix(inSize: number, outSize: number, attrs: ResizeNearestAttrs): tf.Tensor2D {
  const src = nearestSourceIndices(inSize, outSize, attrs);
  const m = new Float32Array(inSize * outSize);
  for (let r = 0; r < outSize; r++) m[src[r]! * outSize + r] = 1;
  return tf.tensor2d(m, [inSize, outSize]);
}

/**
 * The same adjoint with ops (for GPU/wasm backends, where a JS loop would mean a download):
 * `dx[b, :, :, d] = Rows · dy[b, :, :, d] · Colsᵀ` with the 0/1 selection matrices, as two matMuls.
 * Exact, since each sum adds dy values times exactly one.
 */
export function resizeNearestGradViaMatMul(
  dy: tf.Tensor4D,
  imageShape: readonly [number, number, number, number],
  attrs: ResizeNearestAttrs,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [batch, inH, inW, depth] = imageShape;
    const [, outH, outW] = dy.shape;
    const rows = selectionMatrix(inH, outH, attrs);
    const cols = selectionMatrix(inW, outW, attrs);
    const byRow = tf.transpose(dy, [1, 0, 2, 3]).reshape([outH, batch * outW * depth]);
    const summedRows = tf.matMul(rows, byRow).reshape([inH, batch, outW, depth]);
    const byCol = tf.transpose(summedRows, [2, 1, 0, 3]).reshape([outW, batch * inH * depth]);
    const summed = tf.matMul(cols, byCol).reshape([inW, batch, inH, depth]);
    return tf.transpose(summed, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}
