import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, releaseBackend, selectBackend, type BackendChoice } from '@mtd/backend';

/** What every example preset has: the run seed and its training steps per model. */
export interface ExamplePreset {
  preset: string;
  seed: number;
  train: { steps: number };
}

export interface ExampleArgs<C extends ExamplePreset> {
  config: C;
  out: string;
  /** The backend that was selected (for reports). */
  backend: string;
}

/** What an example's pipeline takes: the parsed arguments, plus where lines go and how training shows progress. */
export interface ExampleRunOptions<C extends ExamplePreset> extends ExampleArgs<C> {
  log?: (line: string) => void;
  progress?: 'auto' | 'bar' | 'lines' | 'off';
}

export interface RunExampleOptions<C extends ExamplePreset> {
  /** Printed by `--help`. */
  usage: string;
  presets: Readonly<Record<string, C>>;
  /** Output folder when `--out` is not given. */
  defaultOut: string;
  /** Runs the example; resolves to the process exit code. */
  run: (args: ExampleArgs<C>) => Promise<number>;
  /** Default: process.argv.slice(2). */
  argv?: readonly string[];
}

/**
 * Parses an example's command line (`--preset --out --seed --backend --steps --help`) into a
 * deep-copied preset, selects the backend (wasm for CPU presets: the only usable CPU training
 * backend, PLATFORM.md; auto for `gpu`), runs, and always releases the backend (Dawn must be
 * torn down before exit). Resolves to the exit code; bad arguments reject with a message naming them.
 */
export async function parseAndRun<C extends ExamplePreset>(options: RunExampleOptions<C>): Promise<number> {
  const { values } = parseArgs({
    args: (options.argv ?? process.argv.slice(2)).filter((a) => a !== '--'),
    options: {
      preset: { type: 'string', default: 'cpu' },
      out: { type: 'string', default: options.defaultOut },
      seed: { type: 'string' },
      backend: { type: 'string' },
      steps: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(options.usage);
    return 0;
  }
  const preset = options.presets[values.preset];
  if (preset === undefined) throw new RangeError(`--preset must be one of ${Object.keys(options.presets).join(', ')}, got ${values.preset}`);
  const config = structuredClone(preset);
  if (values.seed !== undefined) {
    const seed = Number(values.seed);
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`--seed must be an integer >= 0, got ${values.seed}`);
    config.seed = seed;
  }
  if (values.steps !== undefined) {
    const steps = Number(values.steps);
    if (!Number.isSafeInteger(steps) || steps < 1) throw new RangeError(`--steps must be an integer >= 1, got ${values.steps}`);
    config.train.steps = steps;
  }
  const backendChoice = (values.backend ?? (values.preset === 'gpu' ? 'auto' : 'wasm')) as BackendChoice;
  if (!BACKEND_CHOICES.includes(backendChoice)) throw new RangeError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${String(values.backend)}`);
  const backend = await selectBackend(backendChoice);
  console.log(`backend: ${backend.name}; preset ${config.preset}; out ${values.out}`);
  try {
    return await options.run({ config, out: values.out, backend: backend.name });
  } finally {
    await releaseBackend();
  }
}

/** `parseAndRun`, then exits the process with its code (2 and the message on an error). */
export function runExample<C extends ExamplePreset>(options: RunExampleOptions<C>): void {
  parseAndRun(options).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
