import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { endpointReport, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { featuresOf, generateAll, loadImages, loadLabels, lossCurvePng, machineDescription, mean, openImages, trainVariant, tupleGridPng, type ImageSet, type Rgb, type ExampleRunOptions } from '@mtd/example-kit';
import { middleMlpHead } from '@mtd/heads';
import { writeFileAtomic, writeJsonAtomic } from '@mtd/io';
import { fmnistFeatures, generationMetrics, type FeatureSet, type FmnistFeatureExtractor } from '@mtd/metrics';
import { createRng, type Rng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { asDiffusionModel, mtModel, unetContextEncoder, type MtModel, type TrainBatch } from '@mtd/train';
import { createUNet } from '@mtd/unet';
import type { RunConfig } from './config.js';
import { renderReport } from './report.js';
import {
  agreementBars,
  classPairs,
  fitStandardizer,
  flatten,
  gatherRows,
  nearestByCosine,
  otherIndex,
  pairCosines,
  rowCosines,
  standardize,
  type Standardizer,
} from './representation.js';

export type ModelKind = 'mt' | 'ddpm';
export const MODEL_NAMES: Record<ModelKind, string> = { mt: 'MT-Diffusion (image + representation)', ddpm: 'single-task DDPM' };
export const LOSS_COLORS: Record<ModelKind, Rgb> = { mt: [200, 40, 40], ddpm: [40, 80, 200] };
/** The representation modality's name. */
export const REP = 'rep';

export type RunOptions = ExampleRunOptions<RunConfig>;

/** Mean (and spread) of one set of cosines, in the standardised space and on the raw features. */
export interface AgreementRow {
  /** Pairs compared. */
  n: number;
  /** Mean cosine between standardised representations (the model's space; centred on the training mean). */
  cosine: number;
  /** Standard deviation of those cosines over the pairs. */
  cosineSd: number;
  /** Mean cosine of the same pairs on the raw (un-standardised) fmnist features. */
  cosineRaw: number;
}

export interface RunSummary {
  dataset: string;
  backend: string;
  machine: string;
  featureNet: { name: string; testAccuracy: number; dim: number };
  parameters: Record<ModelKind, number>;
  lambdaT: number;
  /** `max_t lambda_t`: the largest multiple of the encoding the forward chain adds to z_t. */
  lambdaMax: number;
  /** RMS of the trained encoder's output `E(r) = unet(0, 0, r)` over training representations. */
  encodingRms: number;
  train: Record<ModelKind, { steps: number; seconds: number; finalLoss: number; finalNoiseLoss: number }>;
  generation: Record<ModelKind, Record<string, number>>;
  agreement: {
    /** MT-Diffusion's generated representation vs the feature net applied to its generated image. */
    joint: AgreementRow;
    /** The same generated representation vs the embedding of a random OTHER generated image. */
    otherImage: AgreementRow;
    /** A test image's representation (given) vs the embedding of the image generated from it. */
    conditional: AgreementRow;
    /** Two real test images of the same class. */
    realSameClass: AgreementRow;
    /** Two real test images of different classes. */
    realDifferentClass: AgreementRow;
  };
  seconds: { total: number; features: number; train: number; generate: number; evaluate: number };
  warnings: string[];
}

/** The U-Net + head of one variant; both start from the same U-Net weights (same seed and config). */
export function buildModel(kind: ModelKind, config: RunConfig, representationDim: number): { model: MtModel; modalities: Modality[] } {
  const s = config.imageSize;
  // The baseline's U-Net has the same config (contextDim included), so both start from identical
  // weights; it never receives a context, so its cross-attention projection stays unused.
  const unet = createUNet({ imageSize: s, inChannels: 1, ...config.unet, contextDim: representationDim }, { seed: config.seed * 7 + 1 });
  if (kind === 'ddpm') return { model: mtModel({ unet, modalities: [] }), modalities: [] };
  const rep: Modality = { name: REP, kind: 'gaussian', encoder: unetContextEncoder({ unet }), weight: sqrtAlphaBarWeight(config.weightC) };
  const middle = config.unet.baseChannels * config.unet.channelMults[config.unet.channelMults.length - 1]!;
  const head = middleMlpHead({ name: REP, inChannels: middle, outDim: representationDim, hidden: config.headHidden, kind: 'gaussian', seed: config.seed * 7 + 2 });
  return { model: mtModel({ unet, heads: { [REP]: head }, modalities: [rep], conditioning: { [REP]: 'context' } }), modalities: [rep] };
}

export function buildSchedule(config: RunConfig): Schedule {
  return config.schedule.kind === 'cosine' ? cosineSchedule({ T: config.schedule.T }) : linearSchedule({ T: config.schedule.T });
}

function row(cos: Float64Array, raw: Float64Array): AgreementRow {
  const m = mean(cos);
  let v = 0;
  for (const c of cos) v += (c - m) ** 2;
  return { n: cos.length, cosine: m, cosineSd: cos.length > 1 ? Math.sqrt(v / (cos.length - 1)) : Number.NaN, cosineRaw: mean(raw) };
}

/** Standardised representations back to raw feature space: `r std + mean`. */
function unstandardize(r: Float32Array, s: Standardizer): Float64Array {
  const D = s.mean.length;
  return Float64Array.from(r, (v, k) => v * s.std[k % D]! + s.mean[k % D]!);
}

/** Runs E4 end to end: embed, train both models, generate, evaluate, write everything into `out`. */
export async function runImageRepresentation(options: RunOptions): Promise<RunSummary> {
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
  const nTest = Math.max(config.sample.n, config.sample.conditionalN);
  const test = loadImages(testSplit.dataset, testSplit.name, nTest, s);
  const testLabels = loadLabels(testSplit.dataset, test.n);

  // 0. The representation: the frozen feature network's embedding of each image as the models see
  // it (s x s, upsampled to 28 for the network), standardised over the training images. Computed
  // once up front.
  const tFeat = performance.now();
  const extractor: FmnistFeatureExtractor = await fmnistFeatures();
  const parameters = {} as RunSummary['parameters'];
  const trained = {} as Record<ModelKind, { model: MtModel; modalities: Modality[] }>;
  try {
    const D = extractor.featureDim;
    const trainFeatures = await featuresOf(extractor, train.data, train.n, s);
    const standardizer = fitStandardizer(trainFeatures.features);
    const trainReps = standardize(trainFeatures.features, standardizer);
    const testFeatures = await featuresOf(extractor, test.data, test.n, s);
    const testReps = standardize(testFeatures.features, standardizer);
    const featureSeconds = (performance.now() - tFeat) / 1000;
    log(
      `data: ${train.name}, ${train.n} training / ${test.n} test images at ${s}x${s}; representation: ${extractor.name} (${D} dims, standardised) in ${featureSeconds.toFixed(0)} s; ` +
        `lambda_T = ${lambdaT.toExponential(3)}, max_t lambda_t = ${lambdaMax.toFixed(3)} (w_t = ${config.weightC} sqrt(alphaBar_t), ${config.schedule.kind} T = ${config.schedule.T})`,
    );

    // 1. Train both variants with the same backbone, data stream, seeds and steps.
    const losses = {} as Record<ModelKind, { loss: number[]; noise: number[] }>;
    const trainSummary = {} as RunSummary['train'];
    const tTrain = performance.now();
    for (const kind of ['mt', 'ddpm'] as const) {
      const built = buildModel(kind, config, D);
      trained[kind] = built;
      parameters[kind] = built.model.parameterCount();
      const run = await trainVariant({
        label: MODEL_NAMES[kind],
        model: built.model,
        modalities: built.modalities,
        schedule,
        draw: (rng, B) => drawBatch(train, trainReps, D, B, rng, kind),
        config: { seed: config.seed, ...config.train },
        trainer: kind === 'mt' ? { headWeights: { [REP]: 1 }, conditionDropout: { [REP]: config.conditionDropout } } : {},
        dir: join(out, kind),
        progress: options.progress ?? 'lines',
        runConfig: { ...config, model: kind } as unknown as Record<string, unknown>,
        log,
      });
      losses[kind] = run.losses;
      trainSummary[kind] = { steps: run.steps, seconds: run.seconds, finalLoss: run.finalLoss, finalNoiseLoss: run.finalNoiseLoss };
    }
    const trainSeconds = (performance.now() - tTrain) / 1000;
    const { png: lossPng } = lossCurvePng([
      { values: losses.mt.noise, color: LOSS_COLORS.mt },
      { values: losses.ddpm.noise, color: LOSS_COLORS.ddpm },
    ]);
    await writeFileAtomic(join(out, 'loss-curve.png'), lossPng);

    // The size of the trained encodings: lambda_t times it is what the representation adds to z_t.
    const rmsTensor = tf.tidy(() => {
      const k = Math.min(64, train.n);
      const e = trained.mt.modalities[0]!.encoder.encode(tf.tensor2d(trainReps.subarray(0, k * D), [k, D]));
      return tf.sqrt(tf.mean(tf.square(e)));
    });
    const encodingRms = (await rmsTensor.data())[0]!;
    rmsTensor.dispose();
    log(`encodings E(r) = unet(0, t=0, context=r): rms ${encodingRms.toPrecision(3)}; lambda_T rms = ${(lambdaT * encodingRms).toExponential(2)}, max_t lambda_t rms = ${(lambdaMax * encodingRms).toFixed(3)}`);

    // 2. Generation: MT-Diffusion generates image and representation jointly (neither known); the
    // DDPM generates images; MT-Diffusion also generates images from given test representations.
    const tGen = performance.now();
    const common = { schedule, shape: [s, s, 1], batchSize: config.sample.batchSize, steps: config.sample.steps, clipZ0: [-1, 1] as const };
    const joint = await generateAll({
      ...common,
      model: asDiffusionModel(trained.mt.model),
      modalities: trained.mt.modalities,
      n: config.sample.n,
      seed: config.seed + 101,
      onWarning: (m) => warnings.push(`MT-Diffusion sampling: ${m}`),
    });
    log(`generated ${config.sample.n} image + representation pairs with MT-Diffusion (${config.sample.steps} DDPM steps)`);
    const ddpm = await generateAll({
      ...common,
      model: asDiffusionModel(trained.ddpm.model),
      modalities: [],
      n: config.sample.n,
      seed: config.seed + 101,
      onWarning: (m) => warnings.push(`DDPM sampling: ${m}`),
    });
    log(`generated ${config.sample.n} images with the single-task DDPM`);
    const nC = Math.min(config.sample.conditionalN, test.n);
    const conditional = await generateAll({
      ...common,
      model: asDiffusionModel(trained.mt.model),
      modalities: trained.mt.modalities,
      n: nC,
      seed: config.seed + 202,
      known: (first, size) => ({ [REP]: tf.tensor2d(testReps.subarray(first * D, (first + size) * D), [size, D]) }),
      onWarning: (m) => warnings.push(`conditional sampling: ${m}`),
    });
    log(`generated ${nC} images from given test representations with MT-Diffusion`);
    const genSeconds = (performance.now() - tGen) / 1000;

    // 3. Evaluate.
    const tEval = performance.now();
    const n = config.sample.n;
    const real: FeatureSet = { ...testFeatures, features: testFeatures.features.slice(0, n), ...(testFeatures.logits ? { logits: testFeatures.logits.slice(0, n) } : {}), ...(testFeatures.spatial ? { spatial: testFeatures.spatial.slice(0, n) } : {}), count: Math.min(n, testFeatures.count) };
    const genFeatures = { mt: await featuresOf(extractor, joint.z0, n, s), ddpm: await featuresOf(extractor, ddpm.z0, n, s) };
    const splits = Math.min(10, Math.max(1, Math.floor(n / 20)));
    const generation = {} as RunSummary['generation'];
    for (const kind of ['mt', 'ddpm'] as const) {
      const m = generationMetrics(real, genFeatures[kind], { inceptionScore: { splits } });
      // `all` includes the real images' IS: the ceiling to read IS against.
      generation[kind] = Object.fromEntries(m.all.map((r) => [r.label, r.value]));
    }

    const genReps = joint.values[REP]!;
    const genRepsRaw = unstandardize(genReps, standardizer);
    const embedded = standardize(genFeatures.mt.features, standardizer);
    const embeddedRaw = flatten(genFeatures.mt.features);
    const jointCos = rowCosines(genReps, embedded, D);
    const rng = createRng(config.seed + 500);
    const others = otherIndex(n, rng.fork('other'));
    const otherPairs = Array.from(others, (j, i) => [i, j] as [number, number]);
    const condFeatures = await featuresOf(extractor, conditional.z0, nC, s);
    const givenReps = testReps.subarray(0, nC * D);
    const condCos = rowCosines(givenReps, standardize(condFeatures.features, standardizer), D);
    const testRaw = flatten(testFeatures.features);
    const pairs = classPairs(testLabels, rng.fork('classes'));
    const agreement: RunSummary['agreement'] = {
      joint: row(jointCos, rowCosines(genRepsRaw, embeddedRaw, D)),
      otherImage: row(pairCosines(genReps, embedded, D, otherPairs), pairCosines(genRepsRaw, embeddedRaw, D, otherPairs)),
      conditional: row(condCos, rowCosines(testRaw.subarray(0, nC * D), flatten(condFeatures.features), D)),
      realSameClass: row(pairCosines(testReps, testReps, D, pairs.same), pairCosines(testRaw, testRaw, D, pairs.same)),
      realDifferentClass: row(pairCosines(testReps, testReps, D, pairs.different), pairCosines(testRaw, testRaw, D, pairs.different)),
    };
    const evalSeconds = (performance.now() - tEval) / 1000;

    // 4. Grids: each generated image beside a bar of its agreement and the training image nearest
    // to its generated representation; the conditional grid shows the given image first.
    const g = Math.min(config.gridImages, n);
    const zoom = s < 32 ? 2 : 1;
    const nearest = nearestByCosine(genReps.subarray(0, g * D), trainReps, D);
    await writeFileAtomic(join(out, 'samples-mt-diffusion.png'), tupleGridPng([joint.z0.subarray(0, g * P), agreementBars(jointCos.subarray(0, g), s), gatherRows(train.data, P, nearest)], g, s, { zoom }));
    await writeFileAtomic(join(out, 'samples-ddpm.png'), tupleGridPng([ddpm.z0.subarray(0, g * P)], g, s, { zoom }));
    const gC = Math.min(config.gridImages, nC);
    await writeFileAtomic(join(out, 'conditional.png'), tupleGridPng([test.data.subarray(0, gC * P), conditional.z0.subarray(0, gC * P), agreementBars(condCos.subarray(0, gC), s)], gC, s, { zoom }));

    const summary: RunSummary = {
      dataset: train.name,
      backend: options.backend,
      machine: machineDescription(),
      featureNet: { name: extractor.name, testAccuracy: extractor.testAccuracy, dim: D },
      parameters,
      lambdaT,
      lambdaMax,
      encodingRms,
      train: trainSummary,
      generation,
      agreement,
      seconds: { total: (performance.now() - start) / 1000, features: featureSeconds, train: trainSeconds, generate: genSeconds, evaluate: evalSeconds },
      warnings,
    };
    await writeJsonAtomic(join(out, 'metrics.json'), summary);
    await writeFileAtomic(join(out, 'report.md'), renderReport(config, summary));
    log(`wrote ${join(out, 'report.md')} (${summary.seconds.total.toFixed(0)} s in all)`);
    return summary;
  } finally {
    extractor.dispose();
    trained.mt?.model.dispose();
    trained.ddpm?.model.dispose();
  }
}

/**
 * A training batch: `B` images drawn with replacement and their standardised representations.
 * The baseline draws the same images (and ignores the representations), so both models see the
 * same image sequence.
 */
export function drawBatch(train: ImageSet, reps: Float32Array, D: number, B: number, rng: Rng, kind: ModelKind): TrainBatch {
  const P = train.size * train.size;
  const images = new Float32Array(B * P);
  const r = new Float32Array(B * D);
  for (let i = 0; i < B; i++) {
    const j = rng.int(train.n);
    images.set(train.data.subarray(j * P, (j + 1) * P), i * P);
    r.set(reps.subarray(j * D, (j + 1) * D), i * D);
  }
  const z0 = tf.tensor4d(images, [B, train.size, train.size, 1]);
  if (kind === 'ddpm') return { z0, values: {} };
  return { z0, values: { [REP]: tf.tensor2d(r, [B, D]) } };
}
