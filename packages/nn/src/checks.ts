import * as tf from '@tensorflow/tfjs';
import { Described, describeValue as describeAny, rangeFail, shapeText } from '@mtd/errors';

export { shapeText };

/**
 * Argument checks shared by @mtd/nn and the packages built on it, so that every error reads
 * `functionName: argName must be <expected>, got <value>` whichever package throws it
 * (the form comes from @mtd/errors).
 */

/** Throws a RangeError that names the function, the argument and what was expected. */
export function fail(where: string, arg: string, expected: string, got: unknown): never {
  return rangeFail(where, arg, expected, new Described(describeValue(got)));
}

/**
 * A short description of a value for an error message: numbers and strings as written,
 * tensors by dtype and shape (never their data, which may live on a GPU), arrays element-wise.
 * Layers take small arrays (shapes, strides, group counts), so their content is what the caller
 * needs to see; @mtd/errors gives everything else.
 */
export function describeValue(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => describeValue(v)).join(', ')}]`;
  if (value instanceof tf.Tensor && value.dtype === 'int32') return `an int32 tensor of shape ${shapeText(value.shape)}`;
  if (typeof value === 'function') return 'function';
  return describeAny(value);
}

/** Returns `x` if it is an integer `>= min`, else throws a RangeError naming `arg`. */
export function checkInt(where: string, arg: string, x: unknown, min: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) fail(where, arg, `an integer >= ${min}`, x);
  return x;
}
