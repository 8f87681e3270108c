import * as tf from '@tensorflow/tfjs';
import { setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * One Adam step over a flat parameter vector as one WGSL program, registered for webgpu as
 * `MtdAdamUpdate`, which `@mtd/train`'s flat `Adam` uses when the current backend has it (the
 * name and contract are shared with `@mtd/train`'s `adam.ts`):
 *
 * - inputs `{ p, m, v, g }` (float32 `[N]`: values, first and second moments, gradients),
 *   `scale` (float32 scalar, multiplies `g`: the clip factor), optionally `guard` (bool scalar) and
 *   `coefficients` (float32 `[3]`: `stepSize, invSqrtBc2, decay`, which then replace the attrs of
 *   those names, so a step graph (`StepGraph`) can take them as a per-step input);
 * - attrs `{ beta1, beta2, epsilon, stepSize, invSqrtBc2, decay }`;
 * - output float32 `[3N]`: `p'`, `m'`, `v'` one after the other: Adam with decoupled weight
 *   decay as `@mtd/train`'s ops path computes it (MATH.md does not cover the optimizer),
 *   `g' = scale g`, `m' = beta1 m + (1 - beta1) g'`, `v' = beta2 v + (1 - beta2) g'^2`,
 *   `p' = decay p - stepSize m' / (sqrt(v') invSqrtBc2 + epsilon)`; where `guard` is false, `p`,
 *   `m`, `v` unchanged (selected, so a NaN gradient cannot leak through).
 *
 * The ops path runs ~20 elementwise programs over the 6.5M refUNet parameters a step (and a Tile
 * of the guard per select); this is one, reading 4 vectors and writing 3.
 */
export const ADAM_UPDATE_KERNEL = 'MtdAdamUpdate';

class AdamUpdateProgram {
  variableNames: string[];
  shaderKey: string;
  outputShape: number[];
  dispatchLayout = { x: [0] };
  dispatch: [number, number, number];
  workgroupSize: [number, number, number] = [64, 1, 1];
  uniforms = 'n : i32, beta1 : f32, beta2 : f32, epsilon : f32, stepSize : f32, invSqrtBc2 : f32, decay : f32,';
  private readonly guarded: boolean;
  private readonly given: boolean;

  constructor(n: number, guarded: boolean, given: boolean) {
    this.outputShape = [3 * n];
    this.dispatch = [Math.ceil(n / 64), 1, 1];
    this.guarded = guarded;
    this.given = given;
    this.variableNames = ['p', 'm', 'v', 'g', 'scale', ...(guarded ? ['guard'] : []), ...(given ? ['coefficients'] : [])];
    this.shaderKey = `mtdAdamUpdate_${guarded}_${given}`;
  }

  getUserCode(): string {
    const [stepSize, invSqrtBc2, decay] = this.given ? ['coefficients[0]', 'coefficients[1]', 'coefficients[2]'] : ['uniforms.stepSize', 'uniforms.invSqrtBc2', 'uniforms.decay'];
    return `
      fn main(index : i32) {
        if (index < uniforms.n) {
          let p0 = p[index];
          let m0 = m[index];
          let v0 = v[index];
          let gs = g[index] * scale[0];
          let m1 = uniforms.beta1 * m0 + (1.0 - uniforms.beta1) * gs;
          let v1 = uniforms.beta2 * v0 + (1.0 - uniforms.beta2) * (gs * gs);
          let p1 = p0 * ${decay} - ${stepSize} * (m1 / (sqrt(v1) * ${invSqrtBc2} + uniforms.epsilon));
          ${
            this.guarded
              ? `let keep = f32(guard[0]) != 0.0;
          result[index] = select(p0, p1, keep);
          result[uniforms.n + index] = select(m0, m1, keep);
          result[2 * uniforms.n + index] = select(v0, v1, keep);`
              : `result[index] = p1;
          result[uniforms.n + index] = m1;
          result[2 * uniforms.n + index] = v1;`
          }
        }
      }
    `;
  }
}

/** The contract's attributes. */
export interface AdamUpdateAttrs {
  beta1: number;
  beta2: number;
  epsilon: number;
  stepSize: number;
  invSqrtBc2: number;
  decay: number;
}

const adamUpdate: tf.KernelFunc = (args) => {
  const { p, m, v, g, scale, guard, coefficients } = args.inputs as Record<string, tf.TensorInfo | undefined>;
  const a = args.attrs as unknown as AdamUpdateAttrs;
  const n = p?.shape.length === 1 ? p.shape[0]! : -1;
  for (const [name, t] of [['p', p], ['m', m], ['v', v], ['g', g]] as const) {
    if (t === undefined || t.dtype !== 'float32' || t.shape.length !== 1 || t.shape[0] !== n) {
      throw new RangeError(`${ADAM_UPDATE_KERNEL}: inputs.${name} must be float32 [${n}] like inputs.p, got ${t === undefined ? 'none' : `${t.dtype} [${t.shape.join(', ')}]`}`);
    }
  }
  if (scale === undefined || scale.dtype !== 'float32' || scale.shape.length !== 0) throw new RangeError(`${ADAM_UPDATE_KERNEL}: inputs.scale must be a float32 scalar`);
  if (guard !== undefined && (guard.dtype !== 'bool' || guard.shape.length !== 0)) throw new RangeError(`${ADAM_UPDATE_KERNEL}: inputs.guard must be a bool scalar when given`);
  if (coefficients !== undefined && (coefficients.dtype !== 'float32' || coefficients.shape.length !== 1 || coefficients.shape[0] !== 3)) {
    throw new RangeError(`${ADAM_UPDATE_KERNEL}: inputs.coefficients must be float32 [3] (stepSize, invSqrtBc2, decay) when given, got ${coefficients.dtype} [${coefficients.shape.join(', ')}]`);
  }
  // With the coefficients as an input their attrs are unused (0 stands in).
  const values = [a.beta1, a.beta2, a.epsilon, ...(coefficients === undefined ? [a.stepSize, a.invSqrtBc2, a.decay] : [0, 0, 0])];
  if (!values.every(Number.isFinite)) throw new RangeError(`${ADAM_UPDATE_KERNEL}: attrs must be finite numbers, got [${values.join(', ')}]`);
  const uniforms = [{ type: 'int32', data: [n] }, ...values.map((x) => ({ type: 'float32', data: [x] }))];
  const inputs = [p!, m!, v!, g!, scale, ...(guard === undefined ? [] : [guard]), ...(coefficients === undefined ? [] : [coefficients])];
  return (args.backend as unknown as WebgpuBackendLike).runWebGPUProgram(new AdamUpdateProgram(n, guard !== undefined, coefficients !== undefined), inputs, 'float32', uniforms);
};

const CONFIGS: tf.KernelConfig[] = [{ kernelName: ADAM_UPDATE_KERNEL, backendName: 'webgpu', kernelFunc: adamUpdate }];

/** Registers (`true`) or removes (`false`) `MtdAdamUpdate` for webgpu. */
export function setWebgpuAdamUpdate(on: boolean): void {
  setKernelsRegistered(CONFIGS, on);
}
