/**
 * The `Schedule` value every other package reads (MATH.md 1).
 *
 * Index `k` holds timestep `t = k + 1`, so `betas[0]` is `beta_1` and `alphaBarsPrev[0]` is
 * `alphaBar_0 = 1`. Arrays are float64 because the products in `alphaBar` lose digits fast in
 * float32 near `t = T`; tensors are made from them only at the point of use.
 */

import { rangeFail as fail } from '@mtd/errors';

/** A Float64Array whose elements cannot be written through this type. */
export type ReadonlyFloat64Array = Readonly<
  Omit<Float64Array, 'set' | 'fill' | 'copyWithin' | 'reverse' | 'sort'>
> & { readonly [index: number]: number };

export interface Schedule {
  /** Number of timesteps; valid timesteps are `1..T`. */
  readonly T: number;
  /** `beta_t`, index `t - 1`. */
  readonly betas: ReadonlyFloat64Array;
  /** `alpha_t = 1 - beta_t`. */
  readonly alphas: ReadonlyFloat64Array;
  /** `alphaBar_t = prod_{s <= t} alpha_s`. */
  readonly alphaBars: ReadonlyFloat64Array;
  /** `alphaBar_{t-1}`, with `alphaBar_0 = 1`. */
  readonly alphaBarsPrev: ReadonlyFloat64Array;
  /** DDPM "fixed small" posterior variance `betaTilde_t = beta_t (1 - alphaBar_{t-1}) / (1 - alphaBar_t)`. */
  readonly posteriorVariance: ReadonlyFloat64Array;
}

export function checkT(where: string, T: unknown): number {
  if (typeof T !== 'number' || !Number.isInteger(T) || T < 1) fail(where, 'T', 'an integer >= 1', T);
  return T;
}

export function checkUnitOpen(where: string, arg: string, x: unknown): number {
  if (typeof x !== 'number' || !(x > 0 && x < 1)) fail(where, arg, 'a number in (0, 1)', x);
  return x;
}

/**
 * Builds a frozen schedule from betas and the matching `alphaBar` values. Callers that know
 * `alphaBar` exactly (respacing keeps a subset of the original) pass it so no rounding creeps in.
 */
export function buildSchedule(
  where: string,
  betasIn: ArrayLike<number>,
  alphaBarsIn?: ArrayLike<number>,
): Schedule {
  const T = betasIn.length;
  if (T < 1) fail(where, 'betas', 'a non-empty array (T >= 1)', betasIn);
  const betas = new Float64Array(T);
  for (let k = 0; k < T; k++) {
    const b = betasIn[k];
    if (typeof b !== 'number' || !(b > 0 && b < 1)) {
      fail(where, `betas[${k}] (timestep ${k + 1})`, 'a number in (0, 1)', b);
    }
    betas[k] = b;
  }
  const alphas = new Float64Array(T);
  const alphaBars = new Float64Array(T);
  const alphaBarsPrev = new Float64Array(T);
  const posteriorVariance = new Float64Array(T);
  let prev = 1;
  for (let k = 0; k < T; k++) {
    const beta = betas[k]!;
    alphas[k] = 1 - beta;
    const ab = alphaBarsIn ? alphaBarsIn[k]! : prev * (1 - beta);
    alphaBars[k] = ab;
    alphaBarsPrev[k] = prev;
    posteriorVariance[k] = (beta * (1 - prev)) / (1 - ab);
    prev = ab;
  }
  return Object.freeze({ T, betas, alphas, alphaBars, alphaBarsPrev, posteriorVariance });
}

/** A schedule from any betas in (0, 1); `alphaBar` is their running product (MATH.md 1). */
export function scheduleFromBetas(betas: ArrayLike<number>): Schedule {
  if (betas === null || typeof betas !== 'object' || typeof betas.length !== 'number') {
    fail('scheduleFromBetas', 'betas', 'an array of numbers', betas);
  }
  return buildSchedule('scheduleFromBetas', betas);
}
