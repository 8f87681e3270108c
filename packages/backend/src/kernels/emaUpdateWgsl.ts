import * as tf from '@tensorflow/tfjs';
import { FlatProgram, setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * One EMA step over a flat vector as one WGSL program, registered for webgpu as `MtdEmaUpdate`,
 * which `@mtd/train`'s flat `Ema` uses when the current backend has it (the name and contract
 * are shared with `@mtd/train`'s `ema.ts`): inputs `{ shadow, values }` (float32 `[N]`) and
 * optionally `guard` (bool scalar), attrs `{ decay }`; output `[N]`:
 * `decay shadow + (1 - decay) values`, or `shadow` where `guard` is false (selected, so a NaN
 * value cannot leak through). The ops path runs 3 elementwise programs, and a Tile and a Select
 * when guarded.
 */
export const EMA_UPDATE_KERNEL = 'MtdEmaUpdate';

class EmaUpdateProgram extends FlatProgram {
  variableNames: string[];
  shaderKey: string;
  uniforms = 'decay : f32,';
  private readonly guarded: boolean;

  constructor(n: number, guarded: boolean) {
    super(n);
    this.guarded = guarded;
    this.variableNames = guarded ? ['shadow', 'values', 'guard'] : ['shadow', 'values'];
    this.shaderKey = `mtdEmaUpdate_${guarded}`;
  }

  getUserCode(): string {
    const next = 'uniforms.decay * s + (1.0 - uniforms.decay) * values[index]';
    return `
      fn main(index : i32) {
        if (index < uniforms.size) {
          let s = shadow[index];
          ${this.guarded ? `result[index] = select(s, ${next}, f32(guard[0]) != 0.0);` : `result[index] = ${next};`}
        }
      }
    `;
  }
}

const emaUpdate: tf.KernelFunc = (args) => {
  const { shadow, values, guard } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const { decay } = args.attrs as unknown as { decay: number };
  const n = shadow?.dtype === 'float32' && shadow.shape.length === 1 ? shadow.shape[0]! : -1;
  if (n < 0) throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.shadow must be float32 [N], got ${shadow === undefined ? 'none' : `${shadow.dtype} [${shadow.shape.join(', ')}]`}`);
  if (values === undefined || values.dtype !== 'float32' || values.shape.length !== 1 || values.shape[0] !== n) {
    throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.values must be float32 [${n}] like inputs.shadow, got ${values === undefined ? 'none' : `${values.dtype} [${values.shape.join(', ')}]`}`);
  }
  if (guard !== undefined && (guard.dtype !== 'bool' || guard.shape.length !== 0)) throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.guard must be a bool scalar when given`);
  if (!Number.isFinite(decay) || decay < 0 || decay > 1) throw new RangeError(`${EMA_UPDATE_KERNEL}: attrs.decay must be in [0, 1], got ${String(decay)}`);
  const inputs = [shadow!, values, ...(guard === undefined ? [] : [guard])];
  return (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(new EmaUpdateProgram(n, guard !== undefined), inputs, 'float32', [{ type: 'float32', data: [decay] }]);
};

const CONFIGS: tf.KernelConfig[] = [{ kernelName: EMA_UPDATE_KERNEL, backendName: 'webgpu', kernelFunc: emaUpdate }];

/** Registers (`true`) or removes (`false`) `MtdEmaUpdate` for webgpu. */
export function setWebgpuEmaUpdate(on: boolean): void {
  setKernelsRegistered(CONFIGS, on);
}
