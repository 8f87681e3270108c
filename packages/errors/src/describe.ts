/**
 * How a value is written after `got` in an error message. The message must name what the caller
 * passed without printing data (a tensor may hold millions of values, possibly on a GPU), so
 * containers are described by kind and size, never by content.
 */

/** A value already described (a shape, a summary): printed as is, not quoted like a string. */
export class Described {
  constructor(readonly text: string) {}
}

/** `[a, b, c]`: a shape the way every message writes it. */
export function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * A tensor of any tfjs build, recognised by its fields rather than by `instanceof`: this package
 * must not depend on tfjs, and a second copy of tfjs in a bundle makes `instanceof` fail anyway.
 */
function isTensorLike(value: object): value is { dtype: string; shape: number[] } {
  const v = value as { dtype?: unknown; shape?: unknown };
  return typeof v.dtype === 'string' && Array.isArray(v.shape);
}

/** The text after `got`: numbers and booleans as written, strings quoted, containers by kind and size. */
export function describeValue(value: unknown): string {
  if (value instanceof Described) return value.text;
  if (typeof value === 'number') return Number.isNaN(value) ? 'NaN' : String(value);
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (value === undefined || value === null) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'object' && isTensorLike(value)) {
    return `a ${value.dtype} tensor of shape ${shapeText(value.shape)}`;
  }
  if (Array.isArray(value) || ArrayBuffer.isView(value)) {
    return `an array of length ${(value as unknown as ArrayLike<unknown>).length}`;
  }
  return typeof value;
}
