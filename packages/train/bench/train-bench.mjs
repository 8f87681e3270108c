// Training throughput of the example configs: node bench/train-bench.mjs [--backends cpu,wasm] [--steps 20] [--configs mixture,tiny-unet] [--kernels] [--layout flat|per-variable] [--batch N]
// Builds each config's experiment, runs a warm-up step, then times `--steps` Trainer steps (one
// loss read-back per step, as in real training). Timing lives here, never in a test.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { buildExperiment, Trainer, validateConfig } from '@mtd/train';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,wasm' },
    steps: { type: 'string', default: '20' },
    configs: { type: 'string', default: 'mixture,tiny-unet' },
    kernels: { type: 'boolean', default: false },
    layout: { type: 'string' },
    batch: { type: 'string' },
  },
});
const here = new URL('.', import.meta.url);
const configs = {
  mixture: async () => JSON.parse(await readFile(new URL('../configs/mixture.json', here), 'utf8')),
  'tiny-unet': async () => ({
    data: { dataset: 'shapes', batchSize: 8, size: 16, count: 64, maskK: 2 },
    schedule: { T: 100 },
    model: { type: 'unet', baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
    modalities: { masked: { weight: 0.2 } },
    train: { steps: 1, lr: 1e-4, clipGradNorm: 1 },
  }),
  // refUNet's architecture (packages/unet, 6.2M parameters; the PyTorch twin's) trained single-task
  // through the Trainer: what issue 7 measures on a GPU.
  'ref-unet': async () => ({
    data: { dataset: 'shapes', batchSize: 8, size: 32, count: 64 },
    schedule: { T: 1000 },
    model: { type: 'unet', baseChannels: 64, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8], numHeads: 1, groups: 8, timeEmbedDim: 256 },
    modalities: {},
    train: { steps: 1, lr: 2e-4, clipGradNorm: 1 },
  }),
  'fashion-label': async () => JSON.parse(await readFile(new URL('../configs/fashion-mnist-label.json', here), 'utf8')),
};
const steps = Number(values.steps);
for (const backendName of values.backends.split(',')) {
  await selectBackend(backendName);
  for (const name of values.configs.split(',')) {
    const raw = await configs[name]();
    // --batch N overrides every config's batch size (a GPU wants 64-256).
    if (values.batch) raw.data = { ...raw.data, batchSize: Number(values.batch) };
    const config = validateConfig(raw);
    const exp = await buildExperiment(config);
    const options = exp.trainerOptions(0);
    // --layout flat|per-variable overrides the backend's default Adam/EMA layout (same results, other kernel counts).
    const layout = values.layout ? { layout: values.layout } : {};
    const trainer = new Trainer({
      ...options,
      optimizer: { ...options.optimizer, ...layout },
      ...(options.ema ? { ema: { ...options.ema, ...layout } } : {}),
      data: exp.trainingData(0),
    });
    await trainer.trainStep();
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) await trainer.trainStep();
    const s = (performance.now() - t0) / 1000;
    const B = config.data.batchSize;
    // Kernels per step: what a GPU backend pays per-dispatch overhead for (issue 7). Reshapes move
    // no data, so they are counted apart.
    const info = await tf.profile(() => trainer.trainStep());
    const computing = info.kernels.filter((k) => k.name !== 'Reshape');
    console.log(`${backendName.padEnd(6)} ${name.padEnd(14)} ${String(exp.model.parameterCount()).padStart(9)} params  batch ${String(B).padStart(3)}  ${(steps / s).toFixed(2).padStart(7)} steps/s  ${((steps * B) / s).toFixed(1).padStart(8)} img/s  ${String(computing.length).padStart(5)} kernels/step (+${info.kernels.length - computing.length} reshapes)  (${tf.memory().numTensors} tensors)`);
    if (values.kernels) {
      const byName = new Map();
      for (const k of computing) byName.set(k.name, (byName.get(k.name) ?? 0) + 1);
      for (const [kernel, count] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, 12)) console.log(`         ${kernel.padEnd(28)} ${String(count).padStart(5)}`);
    }
    trainer.dispose();
    exp.dispose();
  }
}
await releaseBackend();
process.exit(0);
