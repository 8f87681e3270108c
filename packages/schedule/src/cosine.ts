import { rangeFail as fail } from '@mtd/errors';
import { buildSchedule, checkT, checkUnitOpen, type Schedule } from './schedule.js';

export interface CosineScheduleOptions {
  T: number;
  /** Offset that keeps `beta_1` away from 0; improved DDPM uses 0.008. */
  s?: number;
  /** Upper clip of `beta_t`, so the last steps stay invertible; 0.999 as in guided-diffusion. */
  maxBeta?: number;
}

/**
 * Improved-DDPM cosine schedule (MATH.md 1):
 * `f(u) = cos^2(((u + s) / (1 + s)) * pi / 2)`, `alphaBar(t) = f(t / T) / f(0)`,
 * `beta_t = min(1 - alphaBar(t) / alphaBar(t - 1), maxBeta)`.
 * `alphaBar_t` is then the running product of the clipped betas, as guided-diffusion does.
 */
export function cosineSchedule({ T, s = 0.008, maxBeta = 0.999 }: CosineScheduleOptions): Schedule {
  const where = 'cosineSchedule';
  checkT(where, T);
  if (typeof s !== 'number' || !(s >= 0) || !Number.isFinite(s)) fail(where, 's', 'a finite number >= 0', s);
  checkUnitOpen(where, 'maxBeta', maxBeta);
  const f = (u: number) => Math.cos(((u + s) / (1 + s)) * (Math.PI / 2)) ** 2;
  const betas = new Float64Array(T);
  for (let k = 0; k < T; k++) {
    const t = k + 1;
    betas[k] = Math.min(1 - f(t / T) / f((t - 1) / T), maxBeta);
  }
  return buildSchedule(where, betas);
}
