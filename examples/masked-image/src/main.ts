import { parseArgs } from 'node:util';
import { BACKEND_CHOICES, releaseBackend, selectBackend, type BackendChoice } from '@mtd/backend';
import { presetConfig, PRESETS } from './config.js';
import { runMaskedImage } from './pipeline.js';

const USAGE = `pnpm start [-- --preset cpu|gpu|tiny] [--out DIR] [--seed N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
  cpu (default): 16x16 images, a tiny U-Net, wasm backend; about 15 minutes on 2 cores
  gpu: 32x32 images, a 1M-parameter U-Net, 20k steps; for the webgpu or tensorflow backends`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: process.argv.slice(2).filter((a) => a !== '--'),
    options: {
      preset: { type: 'string', default: 'cpu' },
      out: { type: 'string', default: 'out/masked-image' },
      seed: { type: 'string' },
      backend: { type: 'string' },
      steps: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (PRESETS[values.preset] === undefined) throw new RangeError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}, got ${values.preset}`);
  const config = presetConfig(values.preset);
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
    const summary = await runMaskedImage({ config, out: values.out, backend: backend.name });
    console.log(`unmasked pixels unchanged: ${summary.unmaskedUnchanged ? 'yes' : 'NO'}`);
    return summary.unmaskedUnchanged ? 0 : 1;
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
