import * as tf from '@tensorflow/tfjs';

/**
 * webgpu: the built-in AddN shader binds every input as a storage buffer, and WebGPU allows 8 per
 * shader stage unless the device asked for more: past that the pipeline fails validation and the
 * "sum" is garbage (a U-Net's gradient norm adds 100+ terms). Larger sums go through the built-in
 * in chunks, left to right.
 */
export function addNDelegating(builtin: tf.KernelConfig | undefined): tf.KernelFunc {
  return (args) => {
    const inputs = Object.values(args.inputs) as tf.Tensor[];
    const limits = (args.backend as { device?: { limits?: { maxStorageBuffersPerShaderStage?: number } } }).device?.limits;
    // One binding is the output.
    const most = Math.max(2, (limits?.maxStorageBuffersPerShaderStage ?? 8) - 1);
    if (inputs.length <= most && builtin !== undefined) return builtin.kernelFunc(args);
    return tf.tidy(() => {
      let total = tf.addN(inputs.slice(0, most));
      for (let i = most; i < inputs.length; i += most - 1) total = tf.addN([total, ...inputs.slice(i, i + most - 1)]);
      return total;
    });
  };
}
