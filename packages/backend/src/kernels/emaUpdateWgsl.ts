import * as tf from '@tensorflow/tfjs';
import { FlatProgram, setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * One EMA step over a flat vector as one WGSL program, registered for webgpu as `MtdEmaUpdate`,
 * which `@mtd/train`'s flat `Ema` uses when the current backend has it (the name and contract
 * are shared with `@mtd/train`'s `ema.ts`): inputs `{ shadow, values }` (float32 `[N]`),
 * optionally `guard` (bool scalar) and `coefficients` (float32 `[1]`: the decay, replacing the
 * attr, so a step graph can take it as a per-step input), attrs `{ decay }`; output `[N]`:
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
  private readonly given: boolean;

  constructor(n: number, guarded: boolean, given: boolean) {
    super(n);
    this.guarded = guarded;
    this.given = given;
    this.variableNames = ['shadow', 'values', ...(guarded ? ['guard'] : []), ...(given ? ['coefficients'] : [])];
    this.shaderKey = `mtdEmaUpdate_${guarded}_${given}`;
  }

  getUserCode(): string {
    const decay = this.given ? 'coefficients[0]' : 'uniforms.decay';
    const next = `${decay} * s + (1.0 - ${decay}) * values[index]`;
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
  const { shadow, values, guard, coefficients } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const { decay } = args.attrs as unknown as { decay: number };
  const n = shadow?.dtype === 'float32' && shadow.shape.length === 1 ? shadow.shape[0]! : -1;
  if (n < 0) throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.shadow must be float32 [N], got ${shadow === undefined ? 'none' : `${shadow.dtype} [${shadow.shape.join(', ')}]`}`);
  if (values === undefined || values.dtype !== 'float32' || values.shape.length !== 1 || values.shape[0] !== n) {
    throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.values must be float32 [${n}] like inputs.shadow, got ${values === undefined ? 'none' : `${values.dtype} [${values.shape.join(', ')}]`}`);
  }
  if (guard !== undefined && (guard.dtype !== 'bool' || guard.shape.length !== 0)) throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.guard must be a bool scalar when given`);
  if (coefficients !== undefined && (coefficients.dtype !== 'float32' || coefficients.shape.length !== 1 || coefficients.shape[0] !== 1)) {
    throw new RangeError(`${EMA_UPDATE_KERNEL}: inputs.coefficients must be float32 [1] (the decay) when given, got ${coefficients.dtype} [${coefficients.shape.join(', ')}]`);
  }
  if (coefficients === undefined && (!Number.isFinite(decay) || decay < 0 || decay > 1)) throw new RangeError(`${EMA_UPDATE_KERNEL}: attrs.decay must be in [0, 1], got ${String(decay)}`);
  const inputs = [shadow!, values, ...(guard === undefined ? [] : [guard]), ...(coefficients === undefined ? [] : [coefficients])];
  const program = new EmaUpdateProgram(n, guard !== undefined, coefficients !== undefined);
  return (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(program, inputs, 'float32', [{ type: 'float32', data: [coefficients === undefined ? decay : 0] }]);
};

const CONFIGS: tf.KernelConfig[] = [{ kernelName: EMA_UPDATE_KERNEL, backendName: 'webgpu', kernelFunc: emaUpdate }];

/** Registers (`true`) or removes (`false`) `MtdEmaUpdate` for webgpu. */
export function setWebgpuEmaUpdate(on: boolean): void {
  setKernelsRegistered(CONFIGS, on);
}
