import { rangeFail, typeFail } from '@mtd/errors';

/**
 * Argument checks shared by the metrics, on top of @mtd/errors. Every error names the function,
 * the argument and what was expected, so a bad call is fixed from the message alone.
 */

/** A set of feature vectors: one row per sample, all rows the same length. */
export type FeatureRows = ReadonlyArray<ArrayLike<number>>;

export function isArrayLike(value: unknown): value is ArrayLike<unknown> {
  return (
    Array.isArray(value) ||
    (ArrayBuffer.isView(value) && !(value instanceof DataView)) ||
    (typeof value === 'object' && value !== null && typeof (value as { length?: unknown }).length === 'number')
  );
}

export function checkInt(where: string, arg: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    rangeFail(where, arg, `an integer >= ${min}`, value);
  }
  return value;
}

export function checkPositive(where: string, arg: string, value: unknown): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value)) {
    rangeFail(where, arg, 'a finite number > 0', value);
  }
  return value;
}

/**
 * Checks a feature set and returns its sample count `n` and dimension `d`. Rejects ragged rows and
 * non-finite values (a NaN feature would otherwise surface as a NaN metric far from its cause).
 */
export function checkFeatureRows(
  where: string,
  arg: string,
  rows: unknown,
  minSamples: number,
): { n: number; d: number } {
  if (!Array.isArray(rows)) typeFail(where, arg, 'an array of feature rows (one per sample)', rows);
  const n = rows.length;
  if (n < minSamples) {
    throw new RangeError(
      `${where}: ${arg} must have at least ${minSamples} samples${minSamples >= 2 ? ' (too few for a covariance or a neighbourhood otherwise)' : ''}, got ${n}`,
    );
  }
  const first: unknown = rows[0];
  if (!isArrayLike(first)) typeFail(where, `${arg}[0]`, 'an array of numbers', first);
  const d = first.length;
  if (d < 1) rangeFail(where, `${arg}[0]`, 'a non-empty feature row', first);
  for (let i = 0; i < n; i++) {
    const row: unknown = rows[i];
    if (!isArrayLike(row)) typeFail(where, `${arg}[${i}]`, 'an array of numbers', row);
    if (row.length !== d) rangeFail(where, `${arg}[${i}]`, `a row of length ${d} like ${arg}[0]`, row);
    for (let j = 0; j < d; j++) {
      const x = row[j];
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        rangeFail(where, `${arg}[${i}][${j}]`, 'a finite number', x);
      }
    }
  }
  return { n, d };
}

/** Throws unless two feature sets have the same dimension. */
export function checkSameDim(where: string, argA: string, dA: number, argB: string, dB: number): void {
  if (dA !== dB) {
    throw new RangeError(
      `${where}: ${argA} and ${argB} must have the same feature size, got ${dA} and ${dB}`,
    );
  }
}
