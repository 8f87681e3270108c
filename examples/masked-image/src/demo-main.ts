import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, releaseBackend, selectBackend, type BackendChoice } from '@mtd/backend';
import { runDemo } from './demo.js';

const USAGE = `pnpm demo [-- --out DIR] [--backend auto|tensorflow|webgpu|wasm|cpu] [--weights FILE] [--train-steps N] [--seed N]
  Loads the shipped MT-Diffusion-U weights (or trains briefly when they do not fit the data found),
  generates image + masked-image pairs, restores Mask-10 test images, writes PNGs and a report.`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      out: { type: 'string' },
      backend: { type: 'string', default: 'wasm' },
      weights: { type: 'string' },
      'train-steps': { type: 'string' },
      seed: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const int = (name: string, v: string | undefined, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  // Relative to where the user ran the command (pnpm runs scripts inside the package folder).
  const out = resolve(process.env['INIT_CWD'] ?? process.cwd(), values.out ?? 'out/demo');
  const trainSteps = int('train-steps', values['train-steps'], 1);
  const seed = int('seed', values.seed, 0);
  if (!BACKEND_CHOICES.includes(values.backend as BackendChoice)) throw new RangeError(`--backend must be one of ${BACKEND_CHOICES.join(', ')}, got ${values.backend}`);
  const backend = await selectBackend(values.backend as BackendChoice);
  console.log(`backend: ${backend.name}; out ${out}`);
  try {
    const summary = await runDemo({
      out,
      backend: backend.name,
      ...(values.weights !== undefined ? { weights: values.weights } : {}),
      ...(trainSteps !== undefined ? { trainSteps } : {}),
      ...(seed !== undefined ? { seed } : {}),
    });
    return summary.maxUnmaskedChange === 0 ? 0 : 1;
  } finally {
    await releaseBackend();
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
