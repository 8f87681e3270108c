import * as tf from '@tensorflow/tfjs';

/**
 * Error helpers. Messages follow the project form
 * `functionName: argName must be <expected>, got <value>`, so a failing call names the argument
 * to fix without a stack trace.
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

export function describeValue(value: unknown): string {
  if (value instanceof Described) return value.text;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (value instanceof tf.Tensor) return `a ${value.dtype} tensor of shape ${shapeText(value.shape)}`;
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `an array of length ${(value as ArrayLike<unknown>).length}`;
  }
  if (typeof value === 'function') return 'a function';
  return typeof value;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/** A shape as the `got` of an error: `[2, 3]`, unquoted. */
export function gotShape(shape: readonly number[]): Described {
  return new Described(shapeText(shape));
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function listNames(names: readonly string[]): string {
  return names.length === 0 ? '(none)' : names.map((n) => `'${n}'`).join(', ');
}
