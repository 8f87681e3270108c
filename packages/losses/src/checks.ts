import * as tf from '@tensorflow/tfjs';

/** Throws a RangeError that names the function, the argument and what was expected. */
export function fail(where: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${where}: ${arg} must be ${expected}, got ${describe(got)}`);
}

export function describe(value: unknown): string {
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return String(value);
  if (value instanceof tf.Tensor) return `${value.dtype === 'int32' ? 'an' : 'a'} ${value.dtype} tensor of shape [${value.shape.join(', ')}]`;
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  return typeof value;
}

export function checkTensor(where: string, arg: string, x: unknown, expected = 'a tf.Tensor'): tf.Tensor {
  if (!(x instanceof tf.Tensor)) fail(where, arg, expected, x);
  if (x.isDisposed) fail(where, arg, `${expected} (not disposed)`, 'a disposed tensor');
  return x;
}

export function checkFloat(where: string, arg: string, x: tf.Tensor): void {
  if (x.dtype !== 'float32') fail(where, arg, 'a float32 tensor', x);
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function checkNonNegative(where: string, arg: string, x: unknown): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) fail(where, arg, 'a finite number >= 0', x);
  return x;
}

/**
 * Per-example weights are a float32 `[B]` tensor. They are not renormalised: the loss is
 * `mean_b(w_b * L_b)`, so a weight of 1 everywhere gives the unweighted loss (Min-SNR style
 * weights are applied this way in its reference implementation).
 */
export function checkExampleWeights(where: string, arg: string, w: unknown, batch: number): tf.Tensor1D {
  const t = checkTensor(where, arg, w, `a float32 tensor of shape [${batch}]`);
  if (t.dtype !== 'float32' || t.rank !== 1 || t.shape[0] !== batch) {
    fail(where, arg, `a float32 tensor of shape [${batch}]`, t);
  }
  return t as tf.Tensor1D;
}
