import * as tf from '@tensorflow/tfjs';

/**
 * Argument checks shared by @mtd/nn and the packages built on it, so that every error reads
 * `functionName: argName must be <expected>, got <value>` whichever package throws it.
 */

/** Throws a RangeError that names the function, the argument and what was expected. */
export function fail(where: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${where}: ${arg} must be ${expected}, got ${describeValue(got)}`);
}

/**
 * A short description of a value for an error message: numbers and strings as written,
 * tensors by dtype and shape (never their data, which may live on a GPU), arrays element-wise.
 */
export function describeValue(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (value instanceof tf.Tensor) {
    return `${value.dtype === 'int32' ? 'an' : 'a'} ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => describeValue(v)).join(', ')}]`;
  return typeof value;
}

/** Returns `x` if it is an integer `>= min`, else throws a RangeError naming `arg`. */
export function checkInt(where: string, arg: string, x: unknown, min: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) fail(where, arg, `an integer >= ${min}`, x);
  return x;
}

/** `[2, 3]`, the way shapes are written in error messages. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
