import type { Schedule } from '@mtd/schedule';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkSchedule } from './validate.js';

/**
 * Aggregation weight schedules, one per modality (MATH.md 2).
 *
 * MATH.md 2 writes the transition two ways:
 * - `'w'` (the default): `q(z_t | z_{t-1}, x) = N(sqrt(alpha_t) z_{t-1} + sum_i w_{t,i} e_i, beta_t I)`,
 *   the weight added outside;
 * - `'wPrime'`: the paper's `N(sqrt(alpha_t) (z_{t-1} + w'_t e), beta_t I)`, the weight inside the
 *   `sqrt(alpha_t)`; the same process with `w_{t,i} = sqrt(alpha_t) w'_{t,i}`.
 *
 * Every schedule is turned into the canonical `w_t` at the point of use, so the rest of the package
 * (lambdas, marginal, posterior) only ever sees `w`. The weight at `t` may depend on the diffusion
 * schedule (`'wPrime'` needs `alpha_t`, `sqrtAlphaBarWeight` needs `alphaBar_t`), hence
 * `at(schedule, t)` rather than `at(t)`.
 */
export type WeightForm = 'w' | 'wPrime';

export interface WeightOptions {
  /** Which spelling of MATH.md 2 the numbers are in; `'w'` (added outside) unless given. */
  form?: WeightForm;
}

export type WeightKind = 'constant' | 'linear' | 'fn' | 'sqrtAlphaBar';

export interface WeightSchedule {
  readonly kind: WeightKind;
  /** The spelling the user's numbers are in; `at` and `values` always return canonical `w_t`. */
  readonly form: WeightForm;
  /** Human-readable, e.g. `constant(w' = 0.1)`; used in warnings and reports. */
  readonly description: string;
  /** Canonical `w_t` (the `'w'` spelling) at 1-based timestep `t` of `schedule`. */
  at(schedule: Schedule, t: number): number;
  /** Canonical `w_t` for every timestep: a fresh Float64Array, index `k` holding timestep `k + 1`. */
  values(schedule: Schedule): Float64Array;
}

type RawWeight = (t: number, schedule: Schedule) => number;

class WeightScheduleImpl implements WeightSchedule {
  /** Cache per schedule: schedules are frozen and the weight functions must be pure. */
  private readonly cache = new WeakMap<Schedule, Float64Array>();

  constructor(
    readonly kind: WeightKind,
    readonly form: WeightForm,
    readonly description: string,
    private readonly raw: RawWeight,
  ) {
    Object.freeze(this);
  }

  at(schedule: Schedule, t: number): number {
    checkSchedule('WeightSchedule.at', schedule);
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > schedule.T) {
      rangeFail('WeightSchedule.at', 't', `an integer in 1..${schedule.T}`, t);
    }
    return this.valuesShared(schedule)[t - 1]!;
  }

  values(schedule: Schedule): Float64Array {
    checkSchedule('WeightSchedule.values', schedule);
    return this.valuesShared(schedule).slice();
  }

  /** The cached canonical values; callers inside the package must not write to them. */
  valuesShared(schedule: Schedule): Float64Array {
    let out = this.cache.get(schedule);
    if (out) return out;
    out = new Float64Array(schedule.T);
    for (let k = 0; k < schedule.T; k++) {
      const t = k + 1;
      const given = this.raw(t, schedule);
      if (typeof given !== 'number' || !Number.isFinite(given) || given < 0) {
        rangeFail(this.description, `the weight at t = ${t}`, 'a finite number >= 0 (MATH.md 2)', given);
      }
      // MATH.md 2: w_t = sqrt(alpha_t) w'_t.
      out[k] = this.form === 'w' ? given : Math.sqrt(schedule.alphas[k]!) * given;
    }
    this.cache.set(schedule, out);
    return out;
  }
}

function formOf(where: string, options: WeightOptions | undefined): WeightForm {
  if (options === undefined) return 'w';
  if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { form }', options);
  const form = options.form ?? 'w';
  if (form !== 'w' && form !== 'wPrime') rangeFail(where, 'options.form', `'w' or 'wPrime'`, form);
  return form;
}

function checkNonNegative(where: string, arg: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) rangeFail(where, arg, 'a finite number >= 0', x);
  return x;
}

function symbolOf(form: WeightForm): string {
  return form === 'w' ? 'w' : "w'";
}

/** The same weight at every timestep: `w_t = w` (or `w'_t = w` with `form: 'wPrime'`). */
export function constantWeight(w: number, options?: WeightOptions): WeightSchedule {
  const where = 'constantWeight';
  checkNonNegative(where, 'w', w);
  const form = formOf(where, options);
  return new WeightScheduleImpl('constant', form, `constant(${symbolOf(form)} = ${w})`, () => w);
}

/**
 * A weight linear in `t`: `w0` at `t = 1`, `w1` at `t = T` (`w0` when `T = 1`), in the chosen
 * spelling. Rising weights push more of the modality in at high noise; falling ones keep `lambda_T`
 * small (MATH.md 7).
 */
export function linearWeight(w0: number, w1: number, options?: WeightOptions): WeightSchedule {
  const where = 'linearWeight';
  checkNonNegative(where, 'w0', w0);
  checkNonNegative(where, 'w1', w1);
  const form = formOf(where, options);
  return new WeightScheduleImpl('linear', form, `linear(${symbolOf(form)}: ${w0} -> ${w1})`, (t, s) => {
    // The convex-combination form hits w1 exactly at t = T and never dips below 0 by rounding.
    const u = s.T === 1 ? 0 : (t - 1) / (s.T - 1);
    return w0 * (1 - u) + w1 * u;
  });
}

/**
 * Any weight schedule: `fn(t, schedule)` gives the weight at 1-based `t` in the chosen spelling.
 * `fn` must be pure (its values are cached per schedule) and return finite numbers >= 0.
 */
export function weightFromFn(
  fn: (t: number, schedule: Schedule) => number,
  options?: WeightOptions & { name?: string },
): WeightSchedule {
  const where = 'weightFromFn';
  if (typeof fn !== 'function') typeFail(where, 'fn', 'a function (t, schedule) => number', fn);
  const form = formOf(where, options);
  const name = options?.name ?? (fn.name || 'fn');
  return new WeightScheduleImpl('fn', form, `weightFromFn(${name}, ${symbolOf(form)})`, fn);
}

/**
 * `w_t = c * sqrt(alphaBar_t)` (MATH.md 7): the schedule whose `lambda_t = c t sqrt(alphaBar_t)`
 * vanishes at `t = T`, so the chain still ends near `N(0, I)` and unconditional sampling from pure
 * noise stays consistent with training. Always in the `'w'` spelling.
 */
export function sqrtAlphaBarWeight(c: number): WeightSchedule {
  const where = 'sqrtAlphaBarWeight';
  checkNonNegative(where, 'c', c);
  return new WeightScheduleImpl('sqrtAlphaBar', 'w', `sqrtAlphaBar(c = ${c})`, (t, s) =>
    c * Math.sqrt(s.alphaBars[t - 1]!),
  );
}

export function isWeightSchedule(value: unknown): value is WeightSchedule {
  return value instanceof WeightScheduleImpl;
}

/** Canonical weights of each modality, validated; shared arrays, not to be written. */
export function weightTables(where: string, schedule: Schedule, weights: unknown): Float64Array[] {
  if (!Array.isArray(weights)) {
    typeFail(where, 'weights', 'an array of WeightSchedule (one per modality)', weights);
  }
  return weights.map((w: unknown, i) => {
    if (!(w instanceof WeightScheduleImpl)) {
      typeFail(where, `weights[${i}]`, 'a WeightSchedule (constantWeight, linearWeight, weightFromFn, ...)', w);
    }
    return w.valuesShared(schedule);
  });
}
