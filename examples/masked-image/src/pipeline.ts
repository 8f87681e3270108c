import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { endpointReport, identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { outputBlockHead } from '@mtd/heads';
import { writeFileAtomic, writeJsonAtomic } from '@mtd/io';
import { fmnistFeatures, generationMetrics, maskedDistance, FMNIST_FEATURES_NAME, type FmnistFeatureExtractor, type GenerationMetrics } from '@mtd/metrics';
import { createRng, type Rng } from '@mtd/random';
import { sample, type Modality } from '@mtd/sampler';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { asDiffusionModel, mtModel, type MtModel, type TrainBatch } from '@mtd/train';
import { createUNet } from '@mtd/unet';
import type { RunConfig } from './config.js';
import { cosineDistances, featuresOf, generateAll, loadImages, lossCurvePng, mean, openImages, rmsDistances, trainVariant, tupleGridPng, type ImageSet, type Rgb, type ExampleRunOptions } from '@mtd/example-kit';
import { maskImages } from './data.js';
import { renderReport } from './report.js';
import { sdeditRestore } from './sdedit.js';

/** `mt`: MT-Diffusion-U (the network sees z_t only); `mtx`: MT-Diffusion-X (it also reads the masked image as input channels); `ddpm`: the single-task baseline. */
export type ModelKind = 'mt' | 'mtx' | 'ddpm';
export type MtKind = Exclude<ModelKind, 'ddpm'>;
export const MODEL_KINDS: readonly ModelKind[] = ['mt', 'mtx', 'ddpm'];
export const MODEL_NAMES: Record<ModelKind, string> = { mt: 'MT-Diffusion-U', mtx: 'MT-Diffusion-X', ddpm: 'single-task DDPM' };
export const SAMPLE_FILES: Record<ModelKind, string> = { mt: 'samples-mt-diffusion-u.png', mtx: 'samples-mt-diffusion-x.png', ddpm: 'samples-ddpm.png' };
export const LOSS_COLORS: Record<ModelKind, Rgb> = { mt: [200, 40, 40], mtx: [40, 150, 60], ddpm: [40, 80, 200] };
const isMt = (k: ModelKind): k is MtKind => k !== 'ddpm';

export type RunOptions = ExampleRunOptions<RunConfig>;

export interface RestorationRow {
  k: number;
  /** Mean fraction of masked pixels. */
  maskedFraction: number;
  /** Mean `1 - cos` on fmnist features against the original image (Table 1's distance here), by method: cleanMasked, sdedit, and each MT kind. */
  featureDistance: Record<string, number>;
  /** Mean per-image RMS pixel difference against the original (whole image, [-1, 1] units), by method. */
  rms: Record<string, number>;
  /** Largest absolute change of any unmasked pixel against the masked input (must be exactly 0), by restorer (sdedit and each MT kind). */
  maxUnmaskedChange: Record<string, number>;
}

export interface RunSummary {
  dataset: string;
  backend: string;
  models: ModelKind[];
  parameters: Partial<Record<ModelKind, number>>;
  lambdaT: number;
  /** `max_t lambda_t`: the largest multiple of the masked image the forward chain adds to z_t. */
  lambdaMax: number;
  train: Partial<Record<ModelKind, { steps: number; seconds: number; finalLoss: number; finalNoiseLoss: number }>>;
  generation: Partial<Record<ModelKind, Record<string, number>>> | { skipped: string };
  restoration: RestorationRow[];
  unmaskedUnchanged: boolean;
  seconds: { total: number; train: number; generate: number; restore: number; evaluate: number };
  warnings: string[];
}

/**
 * The U-Net + heads of one variant. `mt` and `ddpm` start from the same U-Net weights (same seed);
 * `mtx`'s U-Net has one extra input channel (the masked image), so its first convolution differs.
 */
export function buildModel(kind: ModelKind, config: RunConfig): { model: MtModel; modalities: Modality[] } {
  const s = config.imageSize;
  const unet = createUNet({ imageSize: s, inChannels: 1, ...config.unet, ...(kind === 'mtx' ? { extraChannels: 1 } : {}) }, { seed: config.seed * 7 + 1 });
  if (kind === 'ddpm') return { model: mtModel({ unet, modalities: [] }), modalities: [] };
  const masked: Modality = { name: 'masked', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(config.weightC) };
  const head = outputBlockHead({ name: 'masked', inChannels: config.unet.baseChannels * config.unet.channelMults[0]!, outChannels: 1, groups: config.unet.groups, seed: config.seed * 7 + 2 });
  // "-U": the network sees z_t only; the masked image reaches it through A_t. "-X": it also reads the
  // masked image as input channels (zeros when it is not given: pure generation).
  return { model: mtModel({ unet, heads: { masked: head }, modalities: [masked], conditioning: { masked: kind === 'mtx' ? 'extra' : 'none' } }), modalities: [masked] };
}

export function buildSchedule(config: RunConfig): Schedule {
  return config.schedule.kind === 'cosine' ? cosineSchedule({ T: config.schedule.T }) : linearSchedule({ T: config.schedule.T });
}

async function read(t: tf.Tensor): Promise<Float32Array> {
  return (await t.data()) as Float32Array;
}

/** Runs E2 end to end: train both models, generate, restore, evaluate, write everything into `out`. */
export async function runMaskedImage(options: RunOptions): Promise<RunSummary> {
  const { config, out } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const start = performance.now();
  const s = config.imageSize;
  const P = s * s;
  const warnings: string[] = [];
  await writeJsonAtomic(join(out, 'config.json'), config);

  const schedule = buildSchedule(config);
  const { lambdaT, lambdaMax } = endpointReport(schedule, [sqrtAlphaBarWeight(config.weightC)]).modalities[0]!;
  const trainSplit = await openImages('train');
  const testSplit = await openImages('test');
  const train = loadImages(trainSplit.dataset, trainSplit.name, config.trainImages, s);
  const test = loadImages(testSplit.dataset, testSplit.name, Math.max(config.sample.n, config.restore.n), s);
  log(`data: ${train.name}, ${train.n} training / ${test.n} test images at ${s}x${s}; lambda_T = ${lambdaT.toExponential(3)}, max_t lambda_t = ${lambdaMax.toFixed(3)} (w_t = ${config.weightC} sqrt(alphaBar_t), ${config.schedule.kind} T = ${config.schedule.T})`);

  const kinds = checkModels(config.models);
  const mtKinds = kinds.filter(isMt);

  // 1. Train every variant with the same backbone, data stream, seeds and steps.
  const trained = {} as Record<ModelKind, { model: MtModel; modalities: Modality[] }>;
  const losses = {} as Record<ModelKind, { loss: number[]; noise: number[] }>;
  const trainSummary = {} as RunSummary['train'];
  const parameters = {} as RunSummary['parameters'];
  const tTrain = performance.now();
  for (const kind of kinds) {
    const built = buildModel(kind, config);
    parameters[kind] = built.model.parameterCount();
    const run = await trainVariant({
      label: MODEL_NAMES[kind],
      model: built.model,
      modalities: built.modalities,
      schedule,
      draw: (rng, B) => drawBatch(train, B, rng, config, kind),
      config: { seed: config.seed, ...config.train },
      // -U: the masked image never enters the network (dropout 1); -X: it is dropped (zeros) with
      // probability xDropout, so the same network also generates without it.
      trainer: isMt(kind) ? { headWeights: { masked: 1 }, conditionDropout: { masked: kind === 'mt' ? 1 : config.xDropout } } : {},
      dir: join(out, kind),
      progress: options.progress ?? 'lines',
      runConfig: { ...config, model: kind, dataset: train.name } as unknown as Record<string, unknown>,
      log,
    });
    losses[kind] = run.losses;
    trained[kind] = built;
    trainSummary[kind] = { steps: run.steps, seconds: run.seconds, finalLoss: run.finalLoss, finalNoiseLoss: run.finalNoiseLoss };
  }
  const trainSeconds = (performance.now() - tTrain) / 1000;
  const { png: lossPng } = lossCurvePng(kinds.map((k) => ({ values: losses[k].noise, color: LOSS_COLORS[k] })));
  await writeFileAtomic(join(out, 'loss-curve.png'), lossPng);

  try {
    // 2. Unconditional generation (Table 2): the MT variants generate each image with its masked image.
    const tGen = performance.now();
    const generated = {} as Record<ModelKind, Float32Array>;
    const generatedMasked = {} as Record<MtKind, Float32Array>;
    const g = Math.min(config.gridImages, config.sample.n);
    const zoom = s < 32 ? 2 : 1;
    for (const kind of kinds) {
      const { model, modalities } = trained[kind];
      const result = await generateAll({
        model: asDiffusionModel(model),
        schedule,
        modalities,
        shape: [s, s, 1],
        n: config.sample.n,
        batchSize: config.sample.batchSize,
        seed: config.seed + 101,
        steps: config.sample.steps,
        clipZ0: [-1, 1],
        onWarning: (m) => warnings.push(`${MODEL_NAMES[kind]} sampling: ${m}`),
      });
      generated[kind] = result.z0;
      if (isMt(kind)) generatedMasked[kind] = result.values['masked']!;
      await writeFileAtomic(join(out, SAMPLE_FILES[kind]), tupleGridPng(isMt(kind) ? [result.z0, generatedMasked[kind]] : [result.z0], g, s, { zoom }));
      log(`generated ${config.sample.n} images with ${MODEL_NAMES[kind]} (${config.sample.steps} DDPM steps)`);
    }
    const genSeconds = (performance.now() - tGen) / 1000;

    // 3. Constrained restoration (Table 1), the same masked test images for every method.
    const tRest = performance.now();
    const nR = Math.min(config.restore.n, test.n);
    const original = test.data.subarray(0, nR * P);
    const restoredSets: RestoredSet[] = [];
    for (const k of config.restore.maskKs) {
      const { keep, masked } = maskImages(original, nR, s, k, config.patchSize, createRng(config.seed + 1000 + k));
      const maskedT = tf.tensor4d(masked, [nR, s, s, 1]);
      const keepT = tf.tensor4d(keep, [nR, s, s, 1]);
      const byMethod: Record<string, Float32Array> = {};
      try {
        for (const kind of mtKinds) {
          const result = await sample({
            model: asDiffusionModel(trained[kind].model),
            schedule,
            modalities: trained[kind].modalities,
            shape: [s, s, 1],
            batchSize: nR,
            seed: config.seed + 2000 + k,
            steps: config.sample.steps,
            clipZ0: [-1, 1],
            known: { masked: maskedT },
            restoration: { image: maskedT, keep: keepT },
            onWarning: (m) => warnings.push(`${MODEL_NAMES[kind]} restoration Mask-${k}: ${m}`),
          });
          byMethod[kind] = await read(result.z0);
          tf.dispose(result as unknown as tf.TensorContainer);
        }
        const sd = sdeditRestore({
          model: asDiffusionModel(trained.ddpm.model),
          schedule,
          image: maskedT,
          keep: keepT,
          strength: config.restore.sdeditStrength,
          steps: config.restore.sdeditSteps,
          seed: config.seed + 3000 + k,
        });
        byMethod['sdedit'] = await read(sd);
        sd.dispose();
        restoredSets.push({ k, masked, keep, byMethod });
      } finally {
        tf.dispose([maskedT, keepT]);
      }
      log(`restored ${nR} Mask-${k} test images (${mtKinds.map((x) => MODEL_NAMES[x]).join(', ')}, SDEdit with the DDPM)`);
    }
    for (const r of restoredSets) {
      const gR = Math.min(config.gridImages, nR);
      const columns = [r.masked, ...mtKinds.map((x) => r.byMethod[x]!), r.byMethod['sdedit']!, original];
      await writeFileAtomic(join(out, `restoration-mask${r.k}.png`), tupleGridPng(columns, gR, s, { zoom, cellsPerRow: Math.min(gR, 4) }));
    }
    const restSeconds = (performance.now() - tRest) / 1000;

    // 4. Evaluate.
    const tEval = performance.now();
    let extractor: FmnistFeatureExtractor | undefined;
    let generation: RunSummary['generation'];
    const restoration: RestorationRow[] = [];
    const features = (data: Float32Array, n: number) => featuresOf(extractor!, data, n, s);
    try {
      extractor = await fmnistFeatures();
    } catch (e) {
      warnings.push(`feature network unavailable: ${(e as Error).message}`);
    }
    if (extractor) {
      const real = await features(test.data.subarray(0, config.sample.n * P), Math.min(config.sample.n, test.n));
      const gen: Partial<Record<ModelKind, Record<string, number>>> = {};
      for (const kind of kinds) {
        // IS splits of ~20+ images each, at most the usual 10.
        const splits = Math.min(10, Math.max(1, Math.floor(config.sample.n / 20)));
        const m: GenerationMetrics = generationMetrics(real, await features(generated[kind], config.sample.n), { inceptionScore: { splits } });
        // `all` includes the real images' IS ("IS (fmnist features), real images"): the ceiling to read IS against.
        gen[kind] = Object.fromEntries(m.all.map((r) => [r.label, r.value]));
      }
      generation = gen;
      const origF = await features(original, nR);
      for (const r of restoredSets) {
        const distance: Record<string, Float64Array> = { cleanMasked: cosineDistances((await features(r.masked, nR)).features, origF.features) };
        for (const [method, images] of Object.entries(r.byMethod)) distance[method] = cosineDistances((await features(images, nR)).features, origF.features);
        restoration.push(await restorationRow(r, original, nR, P, distance));
      }
      extractor.dispose();
    } else {
      generation = { skipped: warnings[warnings.length - 1]! };
      for (const r of restoredSets) restoration.push(await restorationRow(r, original, nR, P, undefined));
    }
    const evalSeconds = (performance.now() - tEval) / 1000;
    const unmaskedUnchanged = restoration.every((r) => Object.values(r.maxUnmaskedChange).every((v) => v === 0));

    const summary: RunSummary = {
      dataset: train.name,
      backend: options.backend,
      models: [...kinds],
      parameters,
      lambdaT,
      lambdaMax,
      train: trainSummary,
      generation,
      restoration,
      unmaskedUnchanged,
      seconds: { total: (performance.now() - start) / 1000, train: trainSeconds, generate: genSeconds, restore: restSeconds, evaluate: evalSeconds },
      warnings,
    };
    await writeJsonAtomic(join(out, 'metrics.json'), summary);
    await writeFileAtomic(join(out, 'report.md'), renderReport(config, summary));
    log(`wrote ${join(out, 'report.md')} (${summary.seconds.total.toFixed(0)} s in all)`);
    return summary;
  } finally {
    for (const kind of kinds) trained[kind].model.dispose();
  }
}

/** A training batch: `B` images drawn with replacement and, for MT-Diffusion, fresh Mask-k copies of them. */
export function drawBatch(train: ImageSet, B: number, rng: Rng, config: RunConfig, kind: ModelKind): TrainBatch {
  const P = train.size * train.size;
  const images = new Float32Array(B * P);
  for (let i = 0; i < B; i++) {
    const j = rng.int(train.n);
    images.set(train.data.subarray(j * P, (j + 1) * P), i * P);
  }
  // The baseline draws (and ignores) the same masks, so both models see the same image sequence.
  const { masked } = maskImages(images, B, train.size, config.trainMaskK, config.patchSize, rng);
  const z0 = tf.tensor4d(images, [B, train.size, train.size, 1]);
  if (kind === 'ddpm') return { z0, values: {} };
  return { z0, values: { masked: tf.tensor4d(masked, [B, train.size, train.size, 1]) } };
}

interface RestoredSet {
  k: number;
  masked: Float32Array;
  keep: Float32Array;
  /** Restored images by method: each MT kind and 'sdedit'. */
  byMethod: Record<string, Float32Array>;
}

/** The models of a run, checked: a subset of MODEL_KINDS without repeats that includes the DDPM (SDEdit's model) and an MT variant. */
export function checkModels(models: readonly ModelKind[]): ModelKind[] {
  const ok = Array.isArray(models) && models.every((m) => MODEL_KINDS.includes(m)) && new Set(models).size === models.length && models.includes('ddpm') && models.some(isMt);
  if (!ok) throw new RangeError(`runMaskedImage: config.models must list distinct kinds of ${MODEL_KINDS.join(', ')} including 'ddpm' and an MT variant, got ${JSON.stringify(models)}`);
  return MODEL_KINDS.filter((k) => models.includes(k));
}

async function restorationRow(r: RestoredSet, original: Float32Array, n: number, P: number, feature: Record<string, Float64Array> | undefined): Promise<RestorationRow> {
  const size = Math.round(Math.sqrt(P));
  const kept = async (images: Float32Array) =>
    (await maskedDistance({ data: images, shape: [n, size, size, 1] }, { data: r.masked, shape: [n, size, size, 1] }, { data: r.keep, shape: [n, size, size, 1] }, { dataRange: 2, region: 'kept' })).maxAbsOverall;
  const methods = ['cleanMasked', ...Object.keys(r.byMethod)];
  const imagesOf = (m: string) => (m === 'cleanMasked' ? r.masked : r.byMethod[m]!);
  const maxUnmaskedChange: Record<string, number> = {};
  for (const [m, images] of Object.entries(r.byMethod)) maxUnmaskedChange[m] = await kept(images);
  return {
    k: r.k,
    maskedFraction: 1 - mean(r.keep),
    featureDistance: Object.fromEntries(methods.map((m) => [m, feature ? mean(feature[m]!) : Number.NaN])),
    rms: Object.fromEntries(methods.map((m) => [m, mean(rmsDistances(imagesOf(m), original, n))])),
    maxUnmaskedChange,
  };
}

export { FMNIST_FEATURES_NAME };
