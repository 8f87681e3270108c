// Sampling throughput of refUNet's architecture on train-bench's ref-unet experiment (32x32 RGB
// shapes, so 3 channels where the PyTorch twin has 1):
//   node bench/sample-bench.mjs [--backend webgpu] [--batch 256] [--steps 50] [--noise host|wgsl] [--gn-silu fused|separate] [--reps 2]
// Builds the ref-unet experiment of train-bench (single task), then times `sample()` (ancestral
// DDPM on `--steps` respaced steps, one read-back at the end) after one untimed run. Beside the
// img/s: the host time per denoising step (the process's CPU time, all threads, divided by the
// steps) and the kernels of one step. `--noise host` draws the per-step noise on the host and
// uploads it (selectBackend's webgpu.noise), the default draws it on the GPU. Timing lives here,
// never in a test.
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { sample } from '@mtd/sampler';
import { asDiffusionModel, buildExperiment, validateConfig } from '@mtd/train';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'webgpu' },
    batch: { type: 'string', default: '256' },
    steps: { type: 'string', default: '50' },
    reps: { type: 'string', default: '2' },
    noise: { type: 'string' },
    'gn-silu': { type: 'string' },
  },
});
const [B, steps, reps] = [values.batch, values.steps, values.reps].map(Number);
// --gn-silu separate: GroupNorm then SiLU as two kernels (selectBackend's webgpu.groupNormSilu).
await selectBackend(values.backend, { webgpu: { ...(values.noise ? { noise: values.noise } : {}), ...(values['gn-silu'] ? { groupNormSilu: values['gn-silu'] } : {}) } });
const exp = await buildExperiment(
  validateConfig({
    data: { dataset: 'shapes', batchSize: 8, size: 32, count: 64 },
    schedule: { T: 1000 },
    model: { type: 'unet', baseChannels: 64, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8], numHeads: 1, groups: 8, timeEmbedDim: 256 },
    modalities: {},
    train: { steps: 1, lr: 2e-4 },
  }),
);
const model = asDiffusionModel(exp.model);
const run = async (seed) => {
  const result = await sample({ model, schedule: exp.schedule, modalities: [], shape: [32, 32, 3], batchSize: B, steps, seed });
  await result.z0.data();
  tf.dispose(result);
};
await run(0);
// Kernels of one denoising step: the run's kernels divided by its steps.
const info = await tf.profile(() => run(1));
const cpu0 = process.cpuUsage();
const t0 = performance.now();
for (let r = 0; r < reps; r++) await run(2 + r);
const s = (performance.now() - t0) / 1000 / reps;
const cpu = process.cpuUsage(cpu0);
const cpuMs = (cpu.user + cpu.system) / 1000 / reps / steps;
const tag = `${values.noise ? ` [noise ${values.noise}]` : ''}${values['gn-silu'] ? ` [GN+SiLU ${values['gn-silu']}]` : ''}`;
console.log(
  `${tf.getBackend().padEnd(6)} refUNet sample${tag}  batch ${B}  ${steps} DDPM steps  ${(B / s).toFixed(1)} img/s  ${((1000 * s) / steps).toFixed(1)} ms/step wall, ${cpuMs.toFixed(1)} ms CPU  ${Math.round(info.kernels.length / steps)} kernels/step`,
);
exp.dispose();
await releaseBackend();
process.exit(0);
