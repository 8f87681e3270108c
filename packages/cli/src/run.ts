import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { writeJsonAtomic } from '@mtd/io';
import { UsageError } from './args.js';
import { EVAL_USAGE, evalCommand } from './eval-command.js';
import { forwardDemo } from './forward-demo.js';
import { SAMPLE_USAGE, sampleCommand } from './sample-command.js';
import { TRAIN_USAGE, trainCommand } from './train-command.js';

const USAGE = `usage: mtd <command> [options]

commands:
  train     train an MT-Diffusion model from a JSON config (checkpoints, log, resume)
  sample    generate every modality (or some, given the others) from a checkpoint
  eval      measure a checkpoint (label read-out, mixture statistics, FID & co. on
            the project's Fashion-MNIST features)
  demo      print a noise schedule and draw z_t through the forward aggregation,
            checked against the closed-form marginal (MATH.md 2)
  help      this text

demo options:
  --schedule linear|cosine   noise schedule (default cosine)
  --T N                      number of timesteps (default 1000)
  --samples N                z_t samples per timestep (default 400)
  --seed N                   seed for every random draw (default 0)
  --out FILE                 also write the report as JSON (atomically)

${TRAIN_USAGE}

${SAMPLE_USAGE}

${EVAL_USAGE}
`;

const COMMANDS: Record<string, (args: readonly string[], log: (line: string) => void) => Promise<number>> = {
  train: trainCommand,
  sample: sampleCommand,
  eval: evalCommand,
};

/** Runs the `mtd` command line; returns the exit code (2 for usage errors). */
export async function runCli(argv: readonly string[], log: (line: string) => void = console.log): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  if (run !== undefined) {
    try {
      return await run(rest, log);
    } catch (e) {
      if (e instanceof UsageError) {
        log(`${e.message}\n\n${USAGE}`);
        return 2;
      }
      throw e;
    }
  }
  if (command !== 'demo') {
    log(`mtd: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...rest],
      options: {
        schedule: { type: 'string' },
        T: { type: 'string' },
        samples: { type: 'string' },
        seed: { type: 'string' },
        out: { type: 'string' },
      },
      strict: true,
    }) as { values: Record<string, string | undefined> });
  } catch (e) {
    log(`mtd demo: ${(e as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const int = (name: string, fallback: number): number => {
    const raw = values[name];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw new RangeError(`mtd demo: --${name} must be an integer, got "${raw}"`);
    return n;
  };
  const schedule = values.schedule ?? 'cosine';
  if (schedule !== 'linear' && schedule !== 'cosine') {
    throw new RangeError(`mtd demo: --schedule must be linear or cosine, got "${schedule}"`);
  }
  await tf.setBackend('cpu');
  const report = await forwardDemo({ schedule, T: int('T', 1000), samples: int('samples', 400), seed: int('seed', 0) });
  log(report.text);
  if (values.out) {
    const { text: _text, ...json } = report;
    await writeJsonAtomic(values.out, json);
    log(`\nreport written to ${values.out}`);
  }
  return 0;
}
