import { runExample } from '@mtd/example-kit';
import { PRESETS, type RunConfig } from './config.js';
import { runImageTransition } from './pipeline.js';

const USAGE = `pnpm start [-- --preset cpu|gpu|tiny] [--out DIR] [--seed N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
  cpu (default): 16x16 RGB scenes, a tiny U-Net, four models, wasm backend; about 15 minutes on 2 cores
  gpu: 32x32 scenes, a ~1M-parameter U-Net, 20k steps per model; for the webgpu or tensorflow backends`;

runExample<RunConfig>({
  usage: USAGE,
  presets: PRESETS,
  defaultOut: 'out/image-transition',
  run: async ({ config, out, backend }) => {
    await runImageTransition({ config, out, backend });
    return 0;
  },
});
