import { runExample } from '@mtd/example-kit';
import { PRESETS } from './config.js';
import { runMaskedImage } from './pipeline.js';

runExample({
  usage: `pnpm start [-- --preset cpu|cpu-x|gpu|tiny] [--out DIR] [--seed N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
  cpu (default): 16x16 images, a tiny U-Net, MT-Diffusion-U and the DDPM, wasm backend; about 11 minutes on 2 cores
  cpu-x: the cpu preset plus MT-Diffusion-X (the masked image also as input channels); about 16 minutes
  gpu: 32x32 images, a 1M-parameter U-Net, -U, -X and the DDPM, 20k steps; for the webgpu or tensorflow backends`,
  presets: PRESETS,
  defaultOut: 'out/masked-image',
  run: async ({ config, out, backend }) => {
    const summary = await runMaskedImage({ config, out, backend });
    console.log(`unmasked pixels unchanged: ${summary.unmaskedUnchanged ? 'yes' : 'NO'}`);
    return summary.unmaskedUnchanged ? 0 : 1;
  },
});
