import * as tf from '@tensorflow/tfjs';
import type { Schedule } from '@mtd/schedule';
import { rangeFail, typeFail } from '@mtd/errors';
import { lambdaTableWithZero } from './lambdas.js';
import { checkFloatTensor, checkSameShape, checkSchedule, checkTimesteps, type Timesteps } from './validate.js';
import { weightTables, type WeightSchedule } from './weights.js';

/** What every tensor function of MATH.md 2 takes. */
export interface AggregationArgs {
  schedule: Schedule;
  /** One weight schedule per modality, in the order of `encodings`. */
  weights: readonly WeightSchedule[];
  /**
   * 1-based timesteps, one per example: an int32 Tensor1D of length B (an Int32Array or number[]
   * is accepted too, and is the way to keep the range check on the webgpu backend).
   */
  t: Timesteps;
  /** `e_i = E_i(x_i)`, each shaped like `z`: `[B, ...]`, float32. */
  encodings: readonly tf.Tensor[];
}

export interface Prepared {
  schedule: Schedule;
  T: number;
  /** Canonical `w_{t,i}`, index `t - 1`. */
  w: Float64Array[];
  /** `lambda_{t,i}`, index `t` (index 0 is `lambda_0 = 0`). */
  lambda: Float64Array[];
  t: tf.Tensor1D;
  shape: number[];
  rank: number;
  encodings: tf.Tensor[];
}

/**
 * Validates the common arguments in the order a user would fix them and returns the float64
 * tables. Must run inside a tf.tidy: an array `t` becomes a tensor here.
 *
 * `data` are the function's own tensors (z0, zt, eps, noise) in order; the first one fixes the
 * shape, which every other tensor and every encoding must match exactly. With no data tensors
 * (aggregate) the first encoding, or `shape`, fixes it.
 */
export function prepare(
  where: string,
  args: AggregationArgs,
  data: readonly [string, unknown][],
  shape?: readonly number[],
): Prepared {
  if (args === null || typeof args !== 'object') typeFail(where, 'args', 'an object', args);
  const schedule = checkSchedule(where, args.schedule);
  const w = weightTables(where, schedule, args.weights);
  const { encodings } = args;
  if (!Array.isArray(encodings)) typeFail(where, 'encodings', 'an array of tensors (one per modality)', encodings);
  if (encodings.length !== w.length) {
    rangeFail(where, 'encodings.length', `weights.length = ${w.length} (one weight per modality)`, encodings.length);
  }
  let fixed: { shape: number[]; of: string } | undefined;
  if (shape !== undefined) {
    if (!Array.isArray(shape) || shape.length < 1 || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      rangeFail(where, 'shape', 'a list of dimension sizes with the batch first', shape);
    }
    fixed = { shape: [...shape], of: 'shape' };
  }
  const see = (name: string, x: unknown) => {
    const tensor = checkFloatTensor(where, name, x);
    if (fixed) checkSameShape(where, name, tensor, fixed.shape, fixed.of);
    else fixed = { shape: tensor.shape, of: name };
    return tensor;
  };
  data.forEach(([name, x]) => see(name, x));
  const checked = encodings.map((e: unknown, i) => see(`encodings[${i}]`, e));
  if (!fixed) return rangeFail(where, 'shape', 'given when there are no encodings', shape);
  const T = schedule.T;
  const t = checkTimesteps(where, args.t, T, fixed.shape[0]!);
  return {
    schedule,
    T,
    w,
    lambda: w.map((wi) => lambdaTableWithZero(schedule, wi)),
    t,
    shape: fixed.shape,
    rank: fixed.shape.length,
    encodings: checked,
  };
}
