import * as tf from '@tensorflow/tfjs';
import { FlatProgram, setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * SiLU as two WGSL programs for tfjs's WebGPU backend, registered as kernels that `@mtd/nn`'s
 * `silu` uses when the current backend has them (the names are the contract between the two
 * packages):
 *
 * - `MtdSilu`: input `{ x }`, output `x * sigmoid(x)`;
 * - `MtdSiluGrad`: inputs `{ dy, x }`, output `dy * s (1 + x (1 - s))` with `s = sigmoid(x)`.
 *
 * One dispatch each, where tfjs's ops take 2 forward and 5 for the closed-form gradient (each
 * reading and writing the whole tensor, and the sigmoid kept from the forward for the backward).
 */
export const SILU_KERNEL = 'MtdSilu';
export const SILU_GRAD_KERNEL = 'MtdSiluGrad';

// tfjs's own sigmoid expression, so the forward matches `x * tf.sigmoid(x)`.
export const SIGMOID = 'fn sigmoidOf(v : f32) -> f32 { return 1.0 / (1.0 + exp(-1.0 * v)); }';

/** SiLU (`x` in) or its gradient (`dy`, `x` in), one thread per element. */
class SiluProgram extends FlatProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = '';

  constructor(
    length: number,
    private readonly gradient: boolean,
  ) {
    super(length);
    this.variableNames = gradient ? ['dy', 'x'] : ['x'];
    this.shaderKey = gradient ? 'mtdSiluGrad' : 'mtdSilu';
  }

  getUserCode(): string {
    return `
      ${SIGMOID}
      fn main(index : i32) {
        if (index < uniforms.size) {
          let v = x[index];
          let s = sigmoidOf(v);
          setOutputAtIndex(index, ${this.gradient ? 'dy[index] * (s * (1.0 + v * (1.0 - s)))' : 'v * s'});
        }
      }
    `;
  }
}

function checkFloat(t: tf.TensorInfo, name: string, where: string): void {
  if (t.dtype !== 'float32') throw new TypeError(`${where}: ${name} must be float32, got ${t.dtype}`);
}

const siluKernel: tf.KernelFunc = (args) => {
  const { x } = args.inputs as { x: tf.TensorInfo };
  checkFloat(x, 'x', SILU_KERNEL);
  const size = tf.util.sizeFromShape(x.shape);
  const y = (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(new SiluProgram(size, false), [x], 'float32');
  return { ...y, shape: x.shape };
};

const siluGradKernel: tf.KernelFunc = (args) => {
  const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
  checkFloat(x, 'x', SILU_GRAD_KERNEL);
  checkFloat(dy, 'dy', SILU_GRAD_KERNEL);
  if (dy.shape.length !== x.shape.length || dy.shape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(`${SILU_GRAD_KERNEL}: dy must be shaped like x [${x.shape.join(', ')}], got [${dy.shape.join(', ')}]`);
  }
  const size = tf.util.sizeFromShape(x.shape);
  const dx = (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(new SiluProgram(size, true), [dy, x], 'float32');
  return { ...dx, shape: x.shape };
};

const CONFIGS: tf.KernelConfig[] = [
  { kernelName: SILU_KERNEL, backendName: 'webgpu', kernelFunc: siluKernel },
  { kernelName: SILU_GRAD_KERNEL, backendName: 'webgpu', kernelFunc: siluGradKernel },
];

/** Registers (`true`) or removes (`false`) the fused SiLU kernels for webgpu. */
export function setWebgpuSilu(on: boolean): void {
  setKernelsRegistered(CONFIGS, on);
}
