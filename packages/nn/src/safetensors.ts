import * as tf from '@tensorflow/tfjs';
import type { SafeTensor } from '@mtd/io';
import { shapeText } from './checks.js';
import { fromTorchLayout, toTorchLayout, torchShape } from './layout.js';
import type { Param } from './param-store.js';

/**
 * Reads every parameter back (async, so it works on webgpu) into PyTorch-layout safetensors,
 * keyed by the parameter names. Pass the result to `@mtd/io`'s `encodeSafetensors` or
 * `saveSafetensors`.
 */
export async function paramsToSafeTensors(params: readonly Param[]): Promise<Record<string, SafeTensor>> {
  const out: Record<string, SafeTensor> = {};
  for (const p of params) {
    const data = (await p.variable.data()) as Float32Array;
    out[p.name] = { dtype: 'F32', shape: torchShape(p.layout, p.variable.shape), data: toTorchLayout(p.layout, p.variable.shape, data) };
  }
  return out;
}

/** `"a", "b", "c", "d", "e" and 3 more`: long name lists stay readable in an error. */
function nameList(names: readonly string[]): string {
  if (names.length === 0) return 'none';
  const shown = names.slice(0, 5).map((n) => `"${n}"`).join(', ');
  return names.length > 5 ? `${shown} and ${names.length - 5} more` : shown;
}

/**
 * Checks every name, shape and dtype first and only then assigns, so a bad file leaves the
 * model untouched. The rules are PyTorch's `load_state_dict(strict=True)`: no missing and no
 * unexpected names. F64 tensors are accepted and rounded to float32. `where` begins every
 * error message (the caller's method, e.g. `UNet.load(path)`).
 */
export function assignFromSafeTensors(where: string, params: readonly Param[], tensors: Record<string, SafeTensor>): void {
  const expected = new Map(params.map((p) => [p.name, p]));
  const missing = params.filter((p) => !(p.name in tensors)).map((p) => p.name);
  const unexpected = Object.keys(tensors).filter((n) => !expected.has(n));
  if (missing.length > 0 || unexpected.length > 0) {
    throw new RangeError(
      `${where}: tensor names do not match this model: expected ${nameList(missing)} (missing from the file), found ${nameList(unexpected)} (not in the model)`,
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
    // A hand-built record can disagree with itself; decoded files cannot.
    if (t.data.length !== p.variable.size) {
      throw new RangeError(`${where}: tensor "${p.name}" must have ${p.variable.size} values for shape ${shapeText(want)}, found ${t.data.length}`);
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
