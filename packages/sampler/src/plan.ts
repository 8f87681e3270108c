import { respace, type RespaceSpec, type Schedule } from '@mtd/schedule';
import { rangeFail } from '@mtd/errors';

/**
 * Which timesteps a run visits, and in what order.
 */

export interface TimestepPlan {
  /** The schedule the step coefficients read: the respaced one, or the original. */
  schedule: Schedule;
  /**
   * `timesteps[k - 1]` is the ORIGINAL 1-based timestep of state `k` (`k = 1..K`): what the model
   * is given, and where the lambdas of the aggregation are read.
   */
  timesteps: Int32Array;
}

export interface TimestepOptions {
  /** Number of evenly spaced timesteps, first and last included (`respace(schedule, String(steps))`). */
  steps?: number;
  /** Any respacing spec of @mtd/schedule (`"ddim50"`, `"10,15,20"`, a list of timesteps). */
  respace?: RespaceSpec;
}

/** Resolves `steps` / `respace` against the original schedule; neither means every timestep. */
export function planTimesteps(schedule: Schedule, options: TimestepOptions, where: string): TimestepPlan {
  const { steps, respace: spec } = options;
  const T = schedule.T;
  if (steps !== undefined && spec !== undefined) {
    rangeFail(where, 'steps', 'left out when respace is given (give one of them)', steps);
  }
  if (steps !== undefined) {
    if (typeof steps !== 'number' || !Number.isInteger(steps) || steps < 1 || steps > T) {
      rangeFail(where, 'steps', `an integer in 1..${T} (the schedule's T)`, steps);
    }
    if (steps === T) return fullPlan(schedule);
    return respace(schedule, String(steps));
  }
  if (spec !== undefined) {
    try {
      return respace(schedule, spec);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new RangeError(`${where}: respace must be a valid respacing of T = ${T} timesteps (${message})`);
    }
  }
  return fullPlan(schedule);
}

function fullPlan(schedule: Schedule): TimestepPlan {
  return { schedule, timesteps: Int32Array.from({ length: schedule.T }, (_, k) => k + 1) };
}

/** One move of the sampler between states (state `k` is `z` at `timesteps[k - 1]`, state 0 is `z_0`). */
export type Move =
  /** Run the model at state `from` and step to `from - 1`. */
  | { kind: 'denoise'; from: number }
  /** RePaint's jump back: noise state `from` forward to state `to > from` (no model call). */
  | { kind: 'renoise'; from: number; to: number };

/**
 * The order of moves over `K` states. Without resampling (`resampleCount = 1`) it is `K`
 * denoising moves. With resampling it is RePaint's schedule (Lugmayr et al. 2022,
 * `get_schedule_jump`): after reaching a jump point, the chain is noised `jumpLength` states back
 * up and the segment is denoised again, `resampleCount - 1` extra times per jump point. The jump
 * points are states `1, 1 + j, 1 + 2j, ...` below `K - j + 1`, exactly RePaint's
 * `range(0, T - j, j)` in its 0-based indexing. The top segment is not resampled, as in RePaint.
 */
export function planMoves(K: number, jumpLength = 1, resampleCount = 1): Move[] {
  const moves: Move[] = [];
  const remaining = new Map<number, number>();
  if (resampleCount > 1) {
    for (let point = 1; point - 1 < K - jumpLength; point += jumpLength) remaining.set(point, resampleCount - 1);
  }
  let k = K;
  while (k > 0) {
    moves.push({ kind: 'denoise', from: k });
    k -= 1;
    const left = remaining.get(k) ?? 0;
    if (left > 0) {
      remaining.set(k, left - 1);
      moves.push({ kind: 'renoise', from: k, to: k + jumpLength });
      k += jumpLength;
    }
  }
  return moves;
}
