import { rangeFail as fail } from '@mtd/errors';
import { buildSchedule, type Schedule } from './schedule.js';

/**
 * How to respace (MATH.md 1):
 * - a list of kept 1-based timesteps, e.g. `[1, 250, 500, 1000]`;
 * - `"ddimN"`: N evenly strided steps, exactly as guided-diffusion's `space_timesteps`;
 * - `"a,b,c"` or `{ sections: [a, b, c] }`: split `1..T` into equal sections and keep
 *   `a`, `b`, `c` evenly spaced steps from each (a single number `"50"` is one section).
 */
export type RespaceSpec = readonly number[] | string | { readonly sections: readonly number[] };

export interface Respaced {
  schedule: Schedule;
  /** `timesteps[k]` is the original 1-based timestep that new index `k` (timestep `k + 1`) stands for. */
  timesteps: Int32Array;
}

const where = 'respace';

/**
 * Keeps a subset of timesteps and recomputes betas from the kept `alphaBar` values, so that
 * `alphaBar` of the respaced schedule is exactly the original's at the kept timesteps.
 */
export function respace(schedule: Schedule, spec: RespaceSpec): Respaced {
  if (!schedule || typeof schedule.T !== 'number' || !schedule.alphaBars) {
    fail(where, 'schedule', 'a Schedule', schedule);
  }
  const kept = keptTimesteps(schedule.T, spec);
  const n = kept.length;
  const betas = new Float64Array(n);
  const alphaBars = new Float64Array(n);
  let last = 1;
  for (let k = 0; k < n; k++) {
    const ab = schedule.alphaBars[kept[k]! - 1]!;
    betas[k] = 1 - ab / last;
    alphaBars[k] = ab;
    last = ab;
  }
  return { schedule: buildSchedule(where, betas, alphaBars), timesteps: Int32Array.from(kept) };
}

/** The sorted, 1-based timesteps a spec keeps out of `1..T`. */
export function keptTimesteps(T: number, spec: RespaceSpec): number[] {
  if (typeof spec === 'string') {
    const text = spec.trim();
    if (text.startsWith('ddim')) {
      const count = Number(text.slice(4));
      if (!Number.isInteger(count) || count < 1) fail(where, 'spec', '"ddimN" with an integer N >= 1', spec);
      return ddimTimesteps(T, count);
    }
    const parts = text.split(',').map((p) => Number(p.trim()));
    if (parts.length === 0 || parts.some((c) => !Number.isInteger(c) || c < 1)) {
      fail(where, 'spec', '"ddimN" or comma-separated section counts such as "10,15,20"', spec);
    }
    return sectionTimesteps(T, parts);
  }
  if (Array.isArray(spec)) return explicitTimesteps(T, spec);
  if (spec && typeof spec === 'object' && Array.isArray((spec as { sections?: unknown }).sections)) {
    const sections = (spec as { sections: readonly number[] }).sections;
    if (sections.length === 0 || sections.some((c) => !Number.isInteger(c) || c < 1)) {
      fail(where, 'spec.sections', 'a non-empty list of integers >= 1', sections);
    }
    return sectionTimesteps(T, sections);
  }
  return fail(where, 'spec', 'a list of timesteps, "ddimN", "a,b,c" or { sections }', spec);
}

function explicitTimesteps(T: number, list: readonly number[]): number[] {
  if (list.length === 0) fail(where, 'spec', 'a non-empty list of timesteps', list);
  if (list.length > T) fail(where, 'spec', `at most T = ${T} timesteps`, list);
  const sorted = [...list].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i++) {
    const t = sorted[i]!;
    if (!Number.isInteger(t) || t < 1 || t > T) fail(where, `spec timestep ${t}`, `an integer in 1..${T}`, t);
    if (i > 0 && sorted[i - 1] === t) fail(where, 'spec', 'distinct timesteps', `a repeated timestep ${t}`);
  }
  return sorted;
}

/** guided-diffusion: the first integer stride whose `range(0, T, stride)` has exactly `count` steps. */
function ddimTimesteps(T: number, count: number): number[] {
  if (count > T) fail(where, 'spec', `at most T = ${T} steps`, `ddim${count}`);
  for (let stride = 1; stride < Math.max(T, 2); stride++) {
    if (Math.ceil(T / stride) === count) {
      const out: number[] = [];
      for (let i = 0; i < T; i += stride) out.push(i + 1);
      return out;
    }
  }
  return fail(where, 'spec', `a DDIM step count reachable by an integer stride of ${T}`, `ddim${count}`);
}

/** guided-diffusion's `space_timesteps` with section counts, in 1-based timesteps. */
function sectionTimesteps(T: number, counts: readonly number[]): number[] {
  if (counts.length > T) fail(where, 'spec', `at most ${T} sections`, counts);
  const sizePer = Math.floor(T / counts.length);
  const extra = T % counts.length;
  const steps = new Set<number>();
  let start = 0;
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (count > size) fail(where, `section ${i} count`, `at most its ${size} steps`, count);
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0;
    for (let j = 0; j < count; j++) {
      steps.add(start + roundHalfEven(cur) + 1);
      cur += stride;
    }
    start += size;
  });
  return [...steps].sort((a, b) => a - b);
}

/** Python's round(): ties go to the even neighbour, which guided-diffusion's spacing relies on. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}
