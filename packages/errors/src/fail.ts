import { describeValue } from './describe.js';

/**
 * The two ways an argument is wrong. Messages read `where: arg must be <expected>, got <value>`,
 * so a failing call names the argument to fix without a stack trace.
 */

/** A value of the right kind but outside what is allowed (range, shape, count, name). */
export function rangeFail(where: string, arg: string, expected: string, got: unknown): never {
  throw new RangeError(`${where}: ${arg} must be ${expected}, got ${describeValue(got)}`);
}

/** A value of the wrong kind altogether (not a tensor, not a function, wrong dtype). */
export function typeFail(where: string, arg: string, expected: string, got: unknown): never {
  throw new TypeError(`${where}: ${arg} must be ${expected}, got ${describeValue(got)}`);
}
