import { Described, rangeFail, shapeText } from '@mtd/errors';

/**
 * The trainer's own checks, on top of @mtd/errors (which gives every package the form
 * `where: arg must be <expected>, got <value>`, so a failing call names the argument, or config
 * field, to fix without a stack trace).
 */

/** A shape as the `got` of an error: `[2, 3]`, unquoted. */
export function gotShape(shape: readonly number[]): Described {
  return new Described(shapeText(shape));
}

/** Throws unless `value` is an integer >= `min` (and <= `max` when given). */
export function checkInt(where: string, arg: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    rangeFail(where, arg, max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer in ${min}..${max}`, value);
  }
  return value;
}

/** Throws unless `value` is a finite number in `[min, max]` (open at the ends marked so). */
export function checkNumber(
  where: string,
  arg: string,
  value: unknown,
  range: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean } = {},
): number {
  const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = range;
  const ok =
    typeof value === 'number' &&
    Number.isFinite(value) &&
    (minOpen ? value > min : value >= min) &&
    (maxOpen ? value < max : value <= max);
  if (!ok) {
    const lo = min === -Infinity ? '' : `${minOpen ? '>' : '>='} ${min}`;
    const hi = max === Infinity ? '' : `${maxOpen ? '<' : '<='} ${max}`;
    rangeFail(where, arg, `a finite number${lo || hi ? ' ' : ''}${[lo, hi].filter(Boolean).join(' and ')}`, value);
  }
  return value as number;
}
