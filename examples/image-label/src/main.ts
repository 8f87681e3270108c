import { runExample } from '@mtd/example-kit';
import { PRESETS, type RunConfig } from './config.js';
import { runImageLabel } from './pipeline.js';

const USAGE = `pnpm start [-- --preset cpu|gpu|tiny] [--out DIR] [--seed N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
  cpu (default): 16x16 Fashion-MNIST, a tiny U-Net, wasm backend; MT-Diffusion-M, -E, the DDPM and two supervised classifiers in about 15 minutes on 2 cores
  gpu: 32x32, a 0.7M-parameter U-Net, 20k steps per model; for the webgpu or tensorflow backends (not run on this project's CPU machines)
  tiny: the smoke test's setting (seconds)`;

runExample<RunConfig>({
  usage: USAGE,
  presets: PRESETS,
  defaultOut: 'out/image-label',
  run: async ({ config, out, backend }) => {
    const summary = await runImageLabel({ config, out, backend });
    return summary.warnings.some((w) => w.startsWith('feature network unavailable')) ? 1 : 0;
  },
});
