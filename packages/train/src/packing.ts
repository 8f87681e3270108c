import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import type { NamedVariable } from './variables.js';

export { flatConcat, flatSplit } from './flat-kernels.js';

/**
 * How per-parameter state (Adam's moments, EMA shadows) is stored and updated. `'flat'`: one
 * vector for all variables, so an update is a fixed number of elementwise kernels whatever the
 * variable count (what a GPU backend's per-kernel overhead wants); `'per-variable'`: one vector
 * per variable, no concat or slice copies (faster on wasm). The values are the same bit for bit.
 */
export type StateLayout = 'flat' | 'per-variable';

/** Variables whose state lives in one flat vector: their indices and where each starts in it. */
export interface Pack {
  readonly members: readonly number[];
  readonly offsets: readonly number[];
  /** Length of the flat vector. */
  readonly size: number;
}

/** `given`, checked, or the backend's default: `'flat'` on webgpu, `'per-variable'` elsewhere. */
export function resolveLayout(where: string, given: unknown): StateLayout {
  const layout = given ?? (tf.getBackend() === 'webgpu' ? 'flat' : 'per-variable');
  if (layout !== 'flat' && layout !== 'per-variable') rangeFail(where, 'options.layout', "'flat' or 'per-variable'", layout);
  return layout;
}

/** The packs of a layout, and for each variable its pack and position there. */
export function packVariables(variables: readonly NamedVariable[], layout: StateLayout): { packs: Pack[]; home: (readonly [number, number])[] } {
  const groups = layout === 'flat' ? [variables.map((_, i) => i)] : variables.map((_, i) => [i]);
  const home: (readonly [number, number])[] = [];
  const packs = groups.map((members, p) => {
    const offsets: number[] = [];
    let size = 0;
    members.forEach((i, j) => {
      offsets.push(size);
      size += variables[i]!.variable.size;
      home[i] = [p, j];
    });
    return { members, offsets, size };
  });
  return { packs, home };
}

/** Member `j`'s part of a pack's flat vector, shaped like its variable (a new tensor). */
export function memberOf(whole: tf.Tensor, pack: Pack, j: number, variable: tf.Variable): tf.Tensor {
  return tf.tidy(() => tf.reshape(pack.members.length === 1 ? whole : tf.slice(whole, pack.offsets[j]!, variable.size), variable.shape));
}

/** A pack's flat vector from per-variable arrays (a checkpoint's slots), by variable name. */
export function packArrays(pack: Pack, variables: readonly NamedVariable[], data: (name: string) => Float32Array): Float32Array {
  const out = new Float32Array(pack.size);
  pack.members.forEach((i, j) => {
    const { name, variable } = variables[i]!;
    out.set(data(name).subarray(0, variable.size), pack.offsets[j]!);
  });
  return out;
}
