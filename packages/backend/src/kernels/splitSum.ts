import type * as tf from '@tensorflow/tfjs';
import { FlatProgram, type WebgpuBackendLike } from './wgslProgram.js';

/** `out[i] = sum_s partial[s, i]`: the split-K partial results added up. */
class SplitSumProgram extends FlatProgram {
  variableNames = ['partial'];
  shaderKey = 'mtdSplitSum';
  uniforms = 'splits : i32,';

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          var total = 0.0;
          for (var s = 0; s < uniforms.splits; s = s + 1) {
            total = total + partial[s * uniforms.size + index];
          }
          setOutputAtIndex(index, total);
        }
      }
    `;
  }
}

/**
 * `partial` is `[splits, length]` (split-K partial results): returns their sum over the splits as
 * a new `[length]` tensor info and disposes `partial`; with one split, `partial` itself.
 */
export function sumSplits(backend: WebgpuBackendLike, partial: tf.TensorInfo, splits: number, length: number): tf.TensorInfo {
  if (splits === 1) return partial;
  const summed = backend.runWebGPUProgram(new SplitSumProgram(length), [partial], 'float32', [{ type: 'int32', data: [splits] }]);
  backend.disposeData(partial.dataId);
  return summed;
}
