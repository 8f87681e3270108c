import * as tf from '@tensorflow/tfjs';

/**
 * `out[s, ...] = sum over i with segmentIds[i] = s of x[i, ...]`, ids outside `[0, numSegments)`
 * dropped (TensorFlow's semantics), as `oneHot(ids)ᵀ · x`.
 *
 * wasm has no `UnsortedSegmentSum` kernel, and it is the gradient of `tf.gather` (an embedding
 * lookup, e.g. class conditioning), so without it such a model cannot train on wasm. `oneHot`
 * already maps an out-of-range id to an all-zero row, which is exactly the dropping rule.
 * `segmentIds` may have any rank r <= rank(x); it indexes x's first r axes.
 */
export function unsortedSegmentSumViaMatMul(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  return tf.tidy(() => {
    const idRank = segmentIds.rank;
    const lead = segmentIds.size;
    const rest = x.shape.slice(idRank);
    const restSize = rest.reduce((a, b) => a * b, 1);
    const ids = segmentIds.reshape([lead]).toInt();
    // oneHot's int32 default then a cast: wasm's OneHot ignores dtype 'float32' and writes int32
    // bits into a float tensor (1 reads as 1.4e-45).
    const selector = tf.cast(tf.oneHot(ids, numSegments), 'float32');
    const values = x.reshape([lead, restSize]).toFloat();
    const summed = tf.matMul(selector, values, true, false);
    const out = summed.reshape([numSegments, ...rest]);
    return x.dtype === 'int32' ? tf.round(out).toInt() : out;
  });
}
