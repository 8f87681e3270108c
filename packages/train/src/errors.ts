import * as tf from '@tensorflow/tfjs';

/**
 * Error helpers. Messages follow the project form `where: arg must be <expected>, got <value>`,
 * so a failing call names the argument (or config field) to fix without a stack trace.
 */

/** A value of the right kind but outside what is allowed (range, shape, count, name). */
export function rangeFail(where: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${where}: ${arg} must be ${expected}, got ${describeValue(got)}`);
}

/** A value of the wrong kind altogether (not a tensor, not a function, wrong dtype). */
export function typeFail(where: string, arg: string, expected: string, got: unknown): never {
  throw new TypeError(`${where}: ${arg} must be ${expected}, got ${describeValue(got)}`);
}

/** A value already described (a shape, a summary): printed as is, not quoted. */
export class Described {
  constructor(readonly text: string) {}
}

/** `[a, b, c]` for messages. */
export function shapeText(shape: readonly number[]): Described {
  return new Described(`[${shape.join(', ')}]`);
}

export function describeValue(value: unknown): string {
  if (value instanceof Described) return value.text;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a typed array of length ${(value as unknown as ArrayLike<unknown>).length}`;
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'boolean') return String(value);
  return typeof value;
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
