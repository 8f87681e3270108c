import * as tf from '@tensorflow/tfjs';
import { loadSafetensors, saveSafetensors, type SafeTensor } from '@mtd/io';
import type { TrainableModel } from '@mtd/train';

/** Marks a weights-only file (no optimizer state, no RNG): what the examples ship. */
export const WEIGHTS_FORMAT = 'mtd-weights';

export interface WeightsFile {
  /** Tensors by model variable name. */
  tensors: Record<string, SafeTensor>;
  /** The run config the model was built from, and anything else the writer recorded. */
  metadata: Record<string, string>;
}

/**
 * Writes a model's weights alone (float32, by variable name) with `metadata`, atomically. A few
 * hundred KB for the CPU presets, against ~4x that for a trainer checkpoint (Adam moments, EMA).
 */
export async function saveWeights(path: string, tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Promise<void> {
  await saveSafetensors(path, tensors, { ...metadata, format: WEIGHTS_FORMAT });
}

/** Reads a weights-only file; says so when `path` is something else. */
export async function readWeights(path: string): Promise<WeightsFile> {
  const file = await loadSafetensors(path);
  if (file.metadata['format'] !== WEIGHTS_FORMAT) {
    throw new RangeError(`readWeights: ${path} must be a weights file (metadata format "${WEIGHTS_FORMAT}"), got format ${JSON.stringify(file.metadata['format'] ?? null)}`);
  }
  return { tensors: file.tensors, metadata: file.metadata };
}

/**
 * Assigns `weights` to the model's variables by name. Every variable must be present with its
 * shape, and every tensor must belong to a variable, checked before anything changes, so a
 * mismatched file leaves the model as it was.
 */
export function assignWeights(model: TrainableModel, weights: WeightsFile, source = 'weights'): void {
  const where = 'assignWeights';
  const names = new Set(model.variables.map((v) => v.name));
  for (const { name, variable } of model.variables) {
    const t = weights.tensors[name];
    if (t === undefined) throw new RangeError(`${where}: ${source} must hold "${name}" (a variable of the model), got no such tensor`);
    if (t.dtype !== 'F32') throw new RangeError(`${where}: ${source} "${name}" must be F32, got ${t.dtype}`);
    if (t.shape.length !== variable.shape.length || t.shape.some((d, i) => d !== variable.shape[i])) {
      throw new RangeError(`${where}: ${source} "${name}" must have shape [${variable.shape.join(', ')}], got [${t.shape.join(', ')}]`);
    }
  }
  const extra = Object.keys(weights.tensors).filter((k) => !names.has(k));
  if (extra.length > 0) throw new RangeError(`${where}: ${source} holds tensors the model does not have: ${extra.slice(0, 5).join(', ')}${extra.length > 5 ? ', ...' : ''}`);
  for (const { name, variable } of model.variables) tf.tidy(() => variable.assign(tf.tensor(weights.tensors[name]!.data as Float32Array, variable.shape, 'float32')));
}

/** The model's current weights as safetensors entries (for `saveWeights`). */
export async function weightsOf(model: TrainableModel): Promise<Record<string, SafeTensor>> {
  const out: Record<string, SafeTensor> = {};
  for (const { name, variable } of model.variables) out[name] = { dtype: 'F32', shape: [...variable.shape], data: (await variable.data()) as Float32Array };
  return out;
}
