import * as tf from '@tensorflow/tfjs';

/** Throws a RangeError that names the function, the argument and what was expected. */
export function fail(where: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${where}: ${arg} must be ${expected}, got ${describe(got)}`);
}

export function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (value instanceof tf.Tensor) {
    return `${value.dtype === 'int32' ? 'an' : 'a'} ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  }
  if (Array.isArray(value)) return `[${value.map((v) => describe(v)).join(', ')}]`;
  return typeof value;
}

export function checkInt(where: string, arg: string, x: unknown, min: number): number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < min) fail(where, arg, `an integer >= ${min}`, x);
  return x;
}

export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}
