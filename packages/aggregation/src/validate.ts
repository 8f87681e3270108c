import * as tf from '@tensorflow/tfjs';
import type { Schedule } from '@mtd/schedule';
import { rangeFail, shapeText, typeFail } from '@mtd/errors';

/** Timesteps as the tensor functions accept them: 1-based, one per example. */
export type Timesteps = tf.Tensor1D | Int32Array | readonly number[];

export function checkSchedule(where: string, schedule: unknown): Schedule {
  const s = schedule as Partial<Schedule> | null | undefined;
  if (
    !s ||
    typeof s !== 'object' ||
    typeof s.T !== 'number' ||
    !Number.isInteger(s.T) ||
    s.T < 1 ||
    !(s.betas instanceof Float64Array) ||
    !(s.alphas instanceof Float64Array) ||
    !(s.alphaBars instanceof Float64Array) ||
    !(s.alphaBarsPrev instanceof Float64Array) ||
    !(s.posteriorVariance instanceof Float64Array) ||
    s.betas.length !== s.T
  ) {
    typeFail(where, 'schedule', 'a Schedule from @mtd/schedule', schedule);
  }
  return s as Schedule;
}

export function checkFloatTensor(where: string, arg: string, x: unknown): tf.Tensor {
  if (!(x instanceof tf.Tensor)) typeFail(where, arg, 'a float32 tf.Tensor', x);
  if (x.dtype !== 'float32') typeFail(where, arg, 'a float32 tf.Tensor', x);
  if (x.rank < 1) rangeFail(where, arg, 'a tensor of rank >= 1 with the batch first', x);
  return x;
}

export function checkSameShape(where: string, arg: string, x: tf.Tensor, shape: readonly number[], of: string): void {
  if (x.shape.length !== shape.length || x.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${where}: ${arg}.shape must be ${shapeText(shape)} (the shape of ${of}), got ${shapeText(x.shape)}`);
  }
}

/**
 * Checks the 1-based timesteps and returns them as an int32 tensor owned by the caller's tidy.
 *
 * Plain arrays are always range-checked. A tensor is range-checked by reading it back, except on
 * the `webgpu` backend, where Node has no synchronous read once the tensor lives on the GPU
 * (see PLATFORM.md); there the check is skipped, and an out-of-range `t` yields NaN or zeros.
 * Pass an Int32Array there to keep the check.
 */
export function checkTimesteps(where: string, t: unknown, T: number, batch: number): tf.Tensor1D {
  let host: ArrayLike<number> | undefined;
  let length: number;
  if (t instanceof tf.Tensor) {
    if (t.dtype !== 'int32') typeFail(where, 't', 'an int32 Tensor1D of 1-based timesteps', t);
    if (t.rank !== 1) rangeFail(where, 't', 'a Tensor1D (one timestep per example)', t);
    length = t.shape[0]!;
    if (tf.getBackend() !== 'webgpu') host = t.dataSync();
  } else if (t instanceof Int32Array || Array.isArray(t)) {
    host = t as ArrayLike<number>;
    length = host.length;
  } else {
    return typeFail(where, 't', 'an int32 Tensor1D (or Int32Array) of 1-based timesteps', t);
  }
  if (length !== batch) rangeFail(where, 't.length', `the batch size ${batch}`, length);
  if (host) {
    for (let b = 0; b < host.length; b++) {
      const v = host[b];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > T) {
        rangeFail(where, `t[${b}]`, `an integer timestep in 1..${T}`, v);
      }
    }
  }
  return t instanceof tf.Tensor ? (t as tf.Tensor1D) : tf.tensor1d(Int32Array.from(host!), 'int32');
}
