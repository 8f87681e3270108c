import type { Schedule } from '@mtd/schedule';

/**
 * Float64 coefficients of one move of the shifted chain `y_t = z_t - A_t` (MATH.md 2 form 1,
 * MATH.md 6). Given `A_t`, `y` is an ordinary DDPM chain, so every move here is a textbook
 * DDPM/DDIM formula on `y`, of the linear form
 *
 *     y_next = cY * y + cEps * eps + sigma * noise.
 *
 * The sampler then adds `A` of the new state back. All coefficients are computed in float64 on
 * the host and rounded to float32 once, at the point of use.
 *
 * Index convention: `k` is a 1-based index into `schedule` (the respaced one when sampling on
 * respaced timesteps), and "state k" is `z` at the k-th kept timestep; state 0 is `z_0`
 * (`alphaBar = 1`).
 */
export interface StepCoefficients {
  cY: number;
  cEps: number;
  /** Standard deviation of the fresh noise; 0 on the last step. */
  sigma: number;
}

export type Variance = 'fixedSmall' | 'fixedLarge';

/** `alphaBar` of state `k`, with state 0 the clean data. */
export function alphaBarOfState(schedule: Schedule, k: number): number {
  return k === 0 ? 1 : schedule.alphaBars[k - 1]!;
}

/**
 * Ancestral DDPM from state `k` to `k - 1`, in noise form (MATH.md 2 form 2, MATH.md 3):
 * `mean = (y - beta_k / sqrt(1 - alphaBar_k) eps) / sqrt(alpha_k)`, variance `betaTilde_k`
 * ("fixed small") or `beta_k` ("fixed large"). No noise at the last step (`k = 1`), as in DDPM.
 */
export function ddpmCoefficients(schedule: Schedule, k: number, variance: Variance): StepCoefficients {
  const alpha = schedule.alphas[k - 1]!;
  const beta = schedule.betas[k - 1]!;
  const alphaBar = schedule.alphaBars[k - 1]!;
  const var_ = variance === 'fixedSmall' ? schedule.posteriorVariance[k - 1]! : beta;
  return {
    cY: 1 / Math.sqrt(alpha),
    cEps: -beta / (Math.sqrt(alpha) * Math.sqrt(1 - alphaBar)),
    sigma: k === 1 ? 0 : Math.sqrt(var_),
  };
}

/**
 * DDIM (Song et al. 2021, eq. 12) from state `k` to `k - 1`:
 * `y0Hat = (y - sqrt(1 - alphaBar_k) eps) / sqrt(alphaBar_k)`,
 * `sigma = eta sqrt((1 - alphaBar_prev) / (1 - alphaBar_k)) sqrt(1 - alphaBar_k / alphaBar_prev)`,
 * `y_prev = sqrt(alphaBar_prev) y0Hat + sqrt(1 - alphaBar_prev - sigma^2) eps + sigma noise`,
 * collected into the linear form. `eta = 1` is ancestral DDPM with "fixed small" variance.
 * Returns null when `eta` is so large that `1 - alphaBar_prev - sigma^2 < 0`.
 */
export function ddimCoefficients(schedule: Schedule, k: number, eta: number): StepCoefficients | null {
  const alphaBar = schedule.alphaBars[k - 1]!;
  const alphaBarPrev = schedule.alphaBarsPrev[k - 1]!;
  const sigma = eta * Math.sqrt((1 - alphaBarPrev) / (1 - alphaBar)) * Math.sqrt(1 - alphaBar / alphaBarPrev);
  const direction = 1 - alphaBarPrev - sigma * sigma;
  // Tolerate the rounding of eta = 1 (direction is then ~1e-17 below 0 at worst).
  if (direction < -1e-12) return null;
  const sqrtPrev = Math.sqrt(alphaBarPrev);
  return {
    cY: sqrtPrev / Math.sqrt(alphaBar),
    cEps: Math.sqrt(Math.max(direction, 0)) - (sqrtPrev * Math.sqrt(1 - alphaBar)) / Math.sqrt(alphaBar),
    sigma,
  };
}

/**
 * The forward move from state `from` up to state `to > from` (RePaint's "jump back"), the
 * composition of the DDPM transitions in between: `y_to = sqrt(r) y_from + sqrt(1 - r) noise`,
 * `r = alphaBar_to / alphaBar_from`. Expressed as StepCoefficients with `cEps = 0`.
 */
export function forwardCoefficients(schedule: Schedule, from: number, to: number): StepCoefficients {
  const ratio = alphaBarOfState(schedule, to) / alphaBarOfState(schedule, from);
  return { cY: Math.sqrt(ratio), cEps: 0, sigma: Math.sqrt(1 - ratio) };
}

/**
 * The same moves in "z0 form", for sampling with a clipped estimate of `y_0 = z_0`:
 *
 *     y_next = cZ0 * clip(y0Hat) + cY * y + sigma * noise,   y0Hat = (y - sqrt(1 - alphaBar_k) eps) / sqrt(alphaBar_k).
 *
 * DDPM: the posterior mean of MATH.md 2, `cZ0 = sqrt(alphaBar_prev) beta_k / (1 - alphaBar_k)`,
 * `cY = sqrt(alpha_k) (1 - alphaBar_prev) / (1 - alphaBar_k)`. DDIM: with the noise re-derived from
 * the clipped estimate, `eps' = (y - sqrt(alphaBar_k) y0Hat) / sqrt(1 - alphaBar_k)` (as
 * guided-diffusion does), `cZ0 = sqrt(alphaBar_prev) - d sqrt(alphaBar_k) / sqrt(1 - alphaBar_k)`,
 * `cY = d / sqrt(1 - alphaBar_k)`, `d = sqrt(1 - alphaBar_prev - sigma^2)`. Without clipping this is
 * the noise form exactly (in exact arithmetic).
 */
export interface Z0FormCoefficients {
  cZ0: number;
  cY: number;
  sigma: number;
}

export function z0FormCoefficients(
  schedule: Schedule,
  k: number,
  method: { kind: 'ddpm'; variance: Variance } | { kind: 'ddim'; eta: number },
): Z0FormCoefficients | null {
  const alphaBar = schedule.alphaBars[k - 1]!;
  const alphaBarPrev = schedule.alphaBarsPrev[k - 1]!;
  if (method.kind === 'ddpm') {
    const beta = schedule.betas[k - 1]!;
    return {
      cZ0: (Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar),
      cY: (Math.sqrt(schedule.alphas[k - 1]!) * (1 - alphaBarPrev)) / (1 - alphaBar),
      sigma: ddpmCoefficients(schedule, k, method.variance).sigma,
    };
  }
  const noiseForm = ddimCoefficients(schedule, k, method.eta);
  if (!noiseForm) return null;
  const sigma = noiseForm.sigma;
  const d = Math.sqrt(Math.max(1 - alphaBarPrev - sigma * sigma, 0));
  return {
    cZ0: Math.sqrt(alphaBarPrev) - (d * Math.sqrt(alphaBar)) / Math.sqrt(1 - alphaBar),
    cY: d / Math.sqrt(1 - alphaBar),
    sigma,
  };
}
