import type { Schedule } from '@mtd/schedule';
import { rangeFail } from '@mtd/errors';
import { checkSchedule } from './validate.js';
import { weightTables, type WeightSchedule } from './weights.js';

/**
 * The lambda recursion of MATH.md 2 (paper eq. 4, Theorem 2):
 * `lambda_{t,i} = sqrt(alpha_t) lambda_{t-1,i} + w_{t,i}`, `lambda_{0,i} = 0`,
 * so that `A_t = sum_i lambda_{t,i} e_i` is the offset of the marginal mean.
 */

/** Internal: with the zero prepended, index `t` holds `lambda_t` for `t = 0..T`. */
export function lambdaTableWithZero(schedule: Schedule, w: Float64Array): Float64Array {
  const out = new Float64Array(schedule.T + 1);
  for (let t = 1; t <= schedule.T; t++) {
    out[t] = Math.sqrt(schedule.alphas[t - 1]!) * out[t - 1]! + w[t - 1]!;
  }
  return out;
}

/**
 * `lambda_{t,i}` for each modality, as the Schedule stores its arrays: index `k` holds timestep
 * `k + 1` (so `lambda_0 = 0` is not in it; see `lambdasWithZero`).
 */
export function lambdas(schedule: Schedule, weights: readonly WeightSchedule[]): Float64Array[] {
  return lambdasWithZero(schedule, weights).map((l) => l.slice(1));
}

/**
 * `lambda_{t,i}` for `t = 0..T`, indexed by `t` itself: index 0 is `lambda_0 = 0`, which `A_{t-1}`
 * needs at `t = 1`. Length `T + 1` per modality.
 */
export function lambdasWithZero(schedule: Schedule, weights: readonly WeightSchedule[]): Float64Array[] {
  const where = 'lambdas';
  checkSchedule(where, schedule);
  return weightTables(where, schedule, weights).map((w) => lambdaTableWithZero(schedule, w));
}

export interface EndpointModality {
  /** Position of the modality in `weights`. */
  index: number;
  /** The weight schedule's description, e.g. `constant(w = 0.1)`. */
  weight: string;
  /** `lambda_{T,i}`: the chain ends at `N(sqrt(alphaBar_T) z_0 + sum_i lambda_{T,i} e_i, (1 - alphaBar_T) I)`. */
  lambdaT: number;
  /** `max_t lambda_{t,i}`, the largest offset the chain reaches on the way. */
  lambdaMax: number;
}

export interface EndpointReport {
  T: number;
  /** `sqrt(alphaBar_T)`: how much of `z_0` is left at the end of the chain. */
  sqrtAlphaBarT: number;
  modalities: EndpointModality[];
}

/**
 * Where the forward chain ends (MATH.md 7). The chain ends at `N(A_T, I)`, not `N(0, I)`, unless
 * every `lambda_{T,i} |e_i|` is negligible; an unconditional sampler that starts from `N(0, I)`
 * should warn, naming `lambda_T`, when it is not. Use `endpointOffset` with the size of the
 * encodings to turn this into a number to compare against the unit noise.
 */
export function endpointReport(schedule: Schedule, weights: readonly WeightSchedule[]): EndpointReport {
  const tables = lambdasWithZero(schedule, weights);
  const T = schedule.T;
  return {
    T,
    sqrtAlphaBarT: Math.sqrt(schedule.alphaBars[T - 1]!),
    modalities: tables.map((l, index) => ({
      index,
      weight: weights[index]!.description,
      lambdaT: l[T]!,
      lambdaMax: l.reduce((m, v) => Math.max(m, v), 0),
    })),
  };
}

/**
 * Upper bound on the endpoint's mean offset `|A_T|_rms <= sum_i lambda_{T,i} |e_i|_rms`, given the
 * root-mean-square size of each modality's encoding. Compare with 1 (the noise scale at `t = T`).
 */
export function endpointOffset(report: EndpointReport, encodingRms: readonly number[]): number {
  const where = 'endpointOffset';
  if (!Array.isArray(encodingRms) || encodingRms.length !== report.modalities.length) {
    rangeFail(where, 'encodingRms', `an array of ${report.modalities.length} numbers (one per modality)`, encodingRms);
  }
  return report.modalities.reduce((sum, m, i) => {
    const rms = encodingRms[i]!;
    if (typeof rms !== 'number' || !(rms >= 0) || !Number.isFinite(rms)) {
      rangeFail(where, `encodingRms[${i}]`, 'a finite number >= 0', rms);
    }
    return sum + Math.abs(m.lambdaT) * rms;
  }, 0);
}
