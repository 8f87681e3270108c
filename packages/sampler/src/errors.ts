import { Described, shapeText } from '@mtd/errors';

/**
 * The sampler's own message helpers, on top of @mtd/errors (which gives every package the form
 * `functionName: argName must be <expected>, got <value>`).
 */

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
