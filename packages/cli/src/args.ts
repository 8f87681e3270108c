import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, type BackendChoice } from '@mtd/backend';

/** A command-line mistake: `runCli` prints it with the usage text and exits with 2. */
export class UsageError extends Error {}

export type Values = Record<string, string | boolean | undefined>;

/** Parses `args` strictly against string options (and the listed boolean flags). */
export function parse(command: string, args: readonly string[], strings: readonly string[], flags: readonly string[] = []): Values {
  const options: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const s of strings) options[s] = { type: 'string' };
  for (const f of flags) options[f] = { type: 'boolean' };
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false }).values as Values;
  } catch (e) {
    throw new UsageError(`mtd ${command}: ${(e as Error).message}`);
  }
}

/** `--name` as an integer >= min, or `fallback`. */
export function intOption(command: string, values: Values, name: string, fallback: number, min?: number): number;
export function intOption(command: string, values: Values, name: string, fallback: undefined, min?: number): number | undefined;
export function intOption(command: string, values: Values, name: string, fallback: number | undefined, min = 0): number | undefined {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isSafeInteger(n) || n < min) {
    throw new RangeError(`mtd ${command}: --${name} must be an integer >= ${min}, got "${String(raw)}"`);
  }
  return n;
}

/** `--name` as a finite number >= min, or `fallback`. */
export function numberOption(command: string, values: Values, name: string, fallback: number | undefined, min = -Infinity): number | undefined {
  const raw = values[name];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < min) {
    throw new RangeError(`mtd ${command}: --${name} must be a number${min > -Infinity ? ` >= ${min}` : ''}, got "${String(raw)}"`);
  }
  return n;
}

export function stringOption<T extends string>(command: string, values: Values, name: string, choices: readonly T[], fallback: T): T {
  const raw = values[name] ?? fallback;
  if (typeof raw !== 'string' || !choices.includes(raw as T)) {
    throw new RangeError(`mtd ${command}: --${name} must be one of ${choices.join(', ')}, got "${String(raw)}"`);
  }
  return raw as T;
}

export function requiredString(command: string, values: Values, name: string): string {
  const raw = values[name];
  if (typeof raw !== 'string' || raw === '') throw new UsageError(`mtd ${command}: --${name} is required`);
  return raw;
}

export function backendOption(command: string, values: Values): BackendChoice {
  return stringOption(command, values, 'backend', BACKEND_CHOICES, 'auto');
}
