import type * as tf from '@tensorflow/tfjs';

/** Just what the WGSL kernels need of tfjs's WebGPUBackend (its types are not exported). */
export interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: Array<{ type: string; data: number[] }>): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/** `out[i] = sum_s partial[s, i]`: the split-K partial tiles added up. */
class SplitSumProgram {
  variableNames = ['partial'];
  outputShape: number[];
  shaderKey = 'mtdSplitSum';
  dispatchLayout: { x: number[] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;
  uniforms = 'splits : i32,';

  constructor(length: number) {
    this.outputShape = [length];
    this.dispatchLayout = { x: [0] };
    this.dispatch = [Math.ceil(length / 64), 1, 1];
  }

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
