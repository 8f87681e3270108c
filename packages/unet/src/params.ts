import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mtd/random';
import type { SafeTensor } from '@mtd/io';
import { shapeText } from './checks.js';

/**
 * How a variable is laid out in tfjs and in the PyTorch-style file.
 *
 * - `conv2d`: tfjs HWIO `[kh, kw, in, out]`  <->  PyTorch OIHW `[out, in, kh, kw]`
 * - `conv1d`: tfjs `[in, out]` (used with matMul) <->  PyTorch Conv1d `[out, in, 1]`
 *   (ADM's attention `qkv`/`proj_out` are 1x1 Conv1d layers)
 * - `linear`: tfjs `[in, out]`  <->  PyTorch Linear `[out, in]`
 * - `plain`:  same in both (biases, GroupNorm affine, embedding tables `[n, d]`)
 */
export type Layout = 'conv2d' | 'conv1d' | 'linear' | 'plain';

export interface Param {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly layout: Layout;
}

/** The file (PyTorch) shape of a variable with tfjs shape `shape`. */
export function torchShape(layout: Layout, shape: readonly number[]): number[] {
  switch (layout) {
    case 'conv2d':
      return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
    case 'conv1d':
      return [shape[1]!, shape[0]!, 1];
    case 'linear':
      return [shape[1]!, shape[0]!];
    case 'plain':
      return [...shape];
  }
}

/** Permutes plain data from tfjs layout to PyTorch layout (exact: only moves values). */
export function toTorchLayout(layout: Layout, shape: readonly number[], data: Float32Array): Float32Array {
  if (layout === 'plain') return data.slice();
  const out = new Float32Array(data.length);
  if (layout === 'conv2d') {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++) out[((o * ci + i) * kh + y) * kw + x] = data[((y * kw + x) * ci + i) * co + o]!;
    return out;
  }
  const [ci, co] = shape as [number, number];
  for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[o * ci + i] = data[i * co + o]!;
  return out;
}

/** Inverse of `toTorchLayout`; `shape` is the tfjs shape. */
export function fromTorchLayout(layout: Layout, shape: readonly number[], data: Float32Array): Float32Array {
  if (layout === 'plain') return data.slice();
  const out = new Float32Array(data.length);
  if (layout === 'conv2d') {
    const [kh, kw, ci, co] = shape as [number, number, number, number];
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < ci; i++)
          for (let o = 0; o < co; o++) out[((y * kw + x) * ci + i) * co + o] = data[((o * ci + i) * kh + y) * kw + x]!;
    return out;
  }
  const [ci, co] = shape as [number, number];
  for (let i = 0; i < ci; i++) for (let o = 0; o < co; o++) out[i * co + o] = data[o * ci + i]!;
  return out;
}

export interface Conv {
  weight: tf.Variable;
  bias: tf.Variable;
}
export interface Dense {
  weight: tf.Variable;
  bias: tf.Variable;
}
export interface Norm {
  gamma: tf.Variable;
  beta: tf.Variable;
}

/**
 * Creates named, seeded variables. Each variable draws from `rng.fork(name)`, so its initial
 * value depends only on the seed and its name: adding a layer never changes the others.
 *
 * Initialisation follows PyTorch's defaults, which ADM keeps: conv and linear weights and biases
 * uniform in `+-1/sqrt(fan_in)` (kaiming_uniform with a = sqrt(5)), GroupNorm scale 1 and shift
 * 0, embeddings N(0, 1); `zero` layers (ADM's `zero_module`) start at exactly 0.
 */
export class ParamStore {
  readonly params: Param[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly rng: Rng) {}

  private add(name: string, layout: Layout, shape: number[], fill: (out: Float32Array, rng: Rng) => void): tf.Variable {
    if (this.names.has(name)) throw new Error(`ParamStore: duplicate parameter name ${name}`);
    this.names.add(name);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    fill(data, this.rng.fork(name));
    const variable = tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true));
    this.params.push({ name, variable, layout });
    return variable;
  }

  private uniform(bound: number): (out: Float32Array, rng: Rng) => void {
    return (out, rng) => void rng.fillUniform(out, -bound, bound);
  }

  conv2d(name: string, k: number, cin: number, cout: number, zero = false): Conv {
    const fill = zero ? () => {} : this.uniform(1 / Math.sqrt(cin * k * k));
    return {
      weight: this.add(`${name}.weight`, 'conv2d', [k, k, cin, cout], fill),
      bias: this.add(`${name}.bias`, 'plain', [cout], fill),
    };
  }

  /** A 1x1 Conv1d in the file, a matMul weight here (ADM's attention projections). */
  conv1d(name: string, cin: number, cout: number, zero = false): Dense {
    const fill = zero ? () => {} : this.uniform(1 / Math.sqrt(cin));
    return {
      weight: this.add(`${name}.weight`, 'conv1d', [cin, cout], fill),
      bias: this.add(`${name}.bias`, 'plain', [cout], fill),
    };
  }

  linear(name: string, cin: number, cout: number, zero = false): Dense {
    const fill = zero ? () => {} : this.uniform(1 / Math.sqrt(cin));
    return {
      weight: this.add(`${name}.weight`, 'linear', [cin, cout], fill),
      bias: this.add(`${name}.bias`, 'plain', [cout], fill),
    };
  }

  groupNorm(name: string, channels: number): Norm {
    return {
      gamma: this.add(`${name}.weight`, 'plain', [channels], (out) => void out.fill(1)),
      beta: this.add(`${name}.bias`, 'plain', [channels], () => {}),
    };
  }

  embedding(name: string, rows: number, dim: number): tf.Variable {
    return this.add(`${name}.weight`, 'plain', [rows, dim], (out, rng) => void rng.fillNormal(out));
  }
}

/** Reads every parameter back (async, so it works on webgpu) into PyTorch-layout safetensors. */
export async function paramsToSafeTensors(params: readonly Param[]): Promise<Record<string, SafeTensor>> {
  const out: Record<string, SafeTensor> = {};
  for (const p of params) {
    const data = (await p.variable.data()) as Float32Array;
    out[p.name] = { dtype: 'F32', shape: torchShape(p.layout, p.variable.shape), data: toTorchLayout(p.layout, p.variable.shape, data) };
  }
  return out;
}

/**
 * Checks every name, shape and dtype first and only then assigns, so a bad file leaves the
 * model untouched. The rules are PyTorch's `load_state_dict(strict=True)`: no missing and no
 * unexpected names. F64 tensors are accepted and rounded to float32.
 */
export function assignFromSafeTensors(where: string, params: readonly Param[], tensors: Record<string, SafeTensor>): void {
  const expected = new Map(params.map((p) => [p.name, p]));
  const missing = params.filter((p) => !(p.name in tensors)).map((p) => p.name);
  const unexpected = Object.keys(tensors).filter((n) => !expected.has(n));
  if (missing.length > 0 || unexpected.length > 0) {
    const list = (names: string[]) => (names.length === 0 ? 'none' : names.slice(0, 5).map((n) => `"${n}"`).join(', ') + (names.length > 5 ? ` and ${names.length - 5} more` : ''));
    throw new RangeError(
      `${where}: tensor names do not match this model: expected ${list(missing)} (missing from the file), found ${list(unexpected)} (not in the model)`,
    );
  }
  for (const p of params) {
    const t = tensors[p.name]!;
    const want = torchShape(p.layout, p.variable.shape);
    if (t.shape.length !== want.length || t.shape.some((d, i) => d !== want[i])) {
      throw new RangeError(`${where}: tensor "${p.name}" must have shape ${shapeText(want)} (PyTorch layout), found ${shapeText(t.shape)}`);
    }
    if (t.dtype !== 'F32' && t.dtype !== 'F64') {
      throw new RangeError(`${where}: tensor "${p.name}" must have dtype F32 (or F64), found ${t.dtype}`);
    }
  }
  tf.tidy(() => {
    for (const p of params) {
      const t = tensors[p.name]!;
      const f32 = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as Float64Array);
      p.variable.assign(tf.tensor(fromTorchLayout(p.layout, p.variable.shape, f32), p.variable.shape, 'float32'));
    }
  });
}
