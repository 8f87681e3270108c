import * as tf from '@tensorflow/tfjs';

/** Just what the WGSL kernels need of tfjs's WebGPUBackend (its types are not exported). */
export interface WebgpuBackendLike {
  runWebGPUProgram(program: object, inputs: tf.TensorInfo[], outputDtype: tf.DataType, uniforms?: Array<{ type: string; data: number[] }>): tf.TensorInfo;
  disposeData(dataId: object): void;
}

/**
 * The frame of a one-thread-per-output-element WGSL program for tfjs's WebGPU backend: a flat
 * output of `length` elements, 64 threads a workgroup, `main(index)` guarded by `uniforms.size`.
 */
export abstract class FlatProgram {
  abstract variableNames: string[];
  abstract shaderKey: string;
  abstract uniforms: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  size = true;

  constructor(length: number) {
    this.outputShape = [length];
    this.dispatch = [Math.ceil(length / 64), 1, 1];
  }

  abstract getUserCode(): string;
}

/** Registers (`true`) or removes (`false`) a family of our webgpu kernels, idempotently. */
export function setKernelsRegistered(configs: readonly tf.KernelConfig[], on: boolean): void {
  for (const config of configs) {
    const present = tf.getKernel(config.kernelName, config.backendName) !== undefined;
    if (on && !present) tf.registerKernel(config);
    if (!on && present) tf.unregisterKernel(config.kernelName, config.backendName);
  }
}
