import { buildSchedule, checkT, checkUnitOpen, type Schedule } from './schedule.js';

export interface LinearScheduleOptions {
  T: number;
  /** `beta_1`; DDPM uses 1e-4. */
  betaStart?: number;
  /** `beta_T`; DDPM uses 0.02. */
  betaEnd?: number;
}

/** DDPM's linear schedule: `beta_t` evenly spaced from `betaStart` to `betaEnd` (MATH.md 1). */
export function linearSchedule({ T, betaStart = 1e-4, betaEnd = 0.02 }: LinearScheduleOptions): Schedule {
  const where = 'linearSchedule';
  checkT(where, T);
  checkUnitOpen(where, 'betaStart', betaStart);
  checkUnitOpen(where, 'betaEnd', betaEnd);
  const betas = new Float64Array(T);
  // Same spacing as numpy.linspace: endpoints exact, T = 1 keeps betaStart.
  const step = T === 1 ? 0 : (betaEnd - betaStart) / (T - 1);
  for (let k = 0; k < T; k++) betas[k] = k === T - 1 && T > 1 ? betaEnd : betaStart + k * step;
  return buildSchedule(where, betas);
}
