import { runExample } from '@mtd/example-kit';
import { PRESETS } from './config.js';
import { runImageRepresentation } from './pipeline.js';

runExample({
  usage: `pnpm start [-- --preset cpu|gpu|tiny] [--out DIR] [--seed N] [--backend auto|tensorflow|webgpu|wasm|cpu] [--steps N]
  cpu (default): 16x16 images, a tiny U-Net with cross-attention in the middle block, wasm backend; about 15 minutes on 2 cores
  gpu: 32x32 images, a 1M-parameter U-Net, 20k steps; for the webgpu or tensorflow backends`,
  presets: PRESETS,
  defaultOut: 'out/image-representation',
  run: async ({ config, out, backend }) => {
    const summary = await runImageRepresentation({ config, out, backend });
    const a = summary.agreement;
    console.log(`agreement (mean cosine, standardised): generated pairs ${a.joint.cosine.toFixed(3)}, random other image ${a.otherImage.cosine.toFixed(3)}, real same class ${a.realSameClass.cosine.toFixed(3)}`);
    return 0;
  },
});
