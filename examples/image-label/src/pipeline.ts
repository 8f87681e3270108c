import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { endpointOffset, endpointReport, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { featuresOf, generateAll, loadImages, loadLabels, lossCurvePng, machineDescription, openImages, tupleGridPng, type ImageSet, type Rgb, type ExampleRunOptions } from '@mtd/example-kit';
import { writeFileAtomic, writeJsonAtomic } from '@mtd/io';
import { fmnistFeatures, generationMetrics, type FeatureSet, type FmnistFeatureExtractor } from '@mtd/metrics';
import { createRng, type Rng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import { asDiffusionModel, tabulateCategoricalEncoders, type MtModel, type TrainBatch } from '@mtd/train';
import type { RunConfig } from './config.js';
import { accuracyOf, agreement, argmaxRows, classHistogram, encodingRms, noisyImages, softmaxOf } from './evaluate.js';
import { labelCells, oneHotRows } from './glyph.js';
import { buildClassifier, buildSchedule, buildVariant, CLASSIFIER_NAMES, headLogits, VARIANT_NAMES, type Classifier, type ClassifierKind, type VariantKind } from './model.js';
import { renderReport } from './report.js';
import { trainClassifier, trainDiffusion, type CurvePoint, type Training } from './train.js';

export const VARIANTS: readonly VariantKind[] = ['mtM', 'mtE', 'ddpm'];
export const CLASSIFIERS: readonly ClassifierKind[] = ['supM', 'supE'];
export const COLORS: Record<VariantKind | ClassifierKind, Rgb> = {
  mtM: [200, 40, 40],
  mtE: [230, 140, 0],
  ddpm: [40, 80, 200],
  supM: [120, 40, 160],
  supE: [30, 150, 60],
};
/** Timesteps of the head-vs-noise table (t = 1 is nearly clean). */
export const NOISE_LEVELS = [1, 100, 300, 500];
const FILE_NAMES: Record<VariantKind, string> = { mtM: 'mt-diffusion-m', mtE: 'mt-diffusion-e', ddpm: 'ddpm' };

export type RunOptions = ExampleRunOptions<RunConfig>;

export interface TrainRow {
  steps: number;
  seconds: number;
  finalLoss: number;
  /** Diffusion models: the last step's noise term. */
  finalNoiseLoss?: number;
  /** Mean label cross-entropy over the last tenth of the steps (MT heads on the examples whose label was dropped; classifiers on all). */
  finalLabelLoss?: number;
  curve: CurvePoint[];
}

export interface Accuracy {
  top1: number;
  top5: number;
}

export interface RunSummary {
  dataset: string;
  backend: string;
  machine: string;
  parameters: Record<VariantKind, number> & Record<ClassifierKind, number>;
  /** Parameters of each MT variant's classification path (image -> label logits), for "the same size". */
  pathParameters: Record<'mtM' | 'mtE', number>;
  label: {
    lambdaT: number;
    lambdaMax: number;
    /** RMS of each class's encoding `unet(0, t = 0, k)` after training, per MT variant. */
    encodingRms: Record<'mtM' | 'mtE', number[]>;
    /** `lambda_T * max_k rms(e_k)`: the label's offset at the end of the chain (vs the unit noise). */
    endpointOffset: Record<'mtM' | 'mtE', number>;
  };
  train: Record<VariantKind | ClassifierKind, TrainRow>;
  generation: Record<VariantKind, Record<string, number>> | { skipped: string };
  /** Joint samples: how often the generated label equals the feature net's class of the generated image. */
  jointAgreement: Record<'mtM' | 'mtE', number> | { skipped: string };
  /** The feature net's own accuracy on the same real test images (at this resolution): the ceiling for the agreement. */
  featureNetAccuracy: number | undefined;
  /**
   * Controls for the agreement, per source of images (each model's samples, or the real test images
   * with their true labels): how often each reader's class equals the generated (true) label, and how
   * often the supervised classifiers agree with the feature net on the same images (how readable the
   * images are at all). `head` = the MT variant's own head re-reading its final image at t = 1.
   */
  agreementControls: Record<VariantKind | 'real', { labelVsHead?: number; labelVsSupervised?: Record<ClassifierKind, number>; supervisedVsFeatureNet?: Record<ClassifierKind, number> }>;
  /** Classes of the generated labels (MT) and of the feature net's reading of the generated images (all three models). */
  classHistograms: { generatedLabels: Record<'mtM' | 'mtE', number[]>; featureNetOnSamples: Partial<Record<VariantKind, number[]>>; realTest: number[] };
  classification: {
    n: number;
    /** MT label heads through the known-z0 sampler (`classify.steps` steps, the final reading at t = 1). */
    sampler: Record<'mtM' | 'mtE', Accuracy>;
    /** Supervised classifiers on the clean test images. */
    supervised: Record<ClassifierKind, Accuracy>;
    /** One forward pass on `z_t` of the test images (same noise for every model): heads at timestep t, classifiers on `z_t` as is. */
    byNoise: { t: number[]; top1: Record<'mtM' | 'mtE' | ClassifierKind, number[]> };
  };
  seconds: { total: number; train: number; generate: number; classify: number; evaluate: number };
  warnings: string[];
}

/** Runs E3 end to end: train every model, generate, classify, evaluate, write everything into `out`. */
export async function runImageLabel(options: RunOptions): Promise<RunSummary> {
  const { config, out } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const start = performance.now();
  const s = config.imageSize;
  const P = s * s;
  const K = config.classes;
  const warnings: string[] = [];
  await writeJsonAtomic(join(out, 'config.json'), config);

  const schedule = buildSchedule(config);
  const { lambdaT, lambdaMax } = endpointReport(schedule, [sqrtAlphaBarWeight(config.label.weightC)]).modalities[0]!;
  const trainSplit = await openImages('train');
  const testSplit = await openImages('test');
  const train = loadImages(trainSplit.dataset, trainSplit.name, config.trainImages, s);
  const trainLabels = loadLabels(trainSplit.dataset, train.n);
  const nTest = Math.max(config.sample.n, config.classify.n, config.classify.curveN);
  const test = loadImages(testSplit.dataset, testSplit.name, nTest, s);
  const testLabels = loadLabels(testSplit.dataset, test.n);
  if (trainLabels.some((y) => y >= K) || testLabels.some((y) => y >= K)) throw new RangeError(`runImageLabel: config.classes (${K}) must cover every label of ${train.name}`);
  log(
    `data: ${train.name}, ${train.n} training / ${test.n} test images at ${s}x${s}, ${K} classes; label weight w_t = ${config.label.weightC} sqrt(alphaBar_t): ` +
      `lambda_T = ${lambdaT.toExponential(3)}, max_t lambda_t = ${lambdaMax.toFixed(3)}`,
  );
  const draw = (rng: Rng, B: number) => drawBatch(train, trainLabels, B, rng);
  const curveN = Math.min(config.classify.curveN, test.n);
  const curveImages = test.data.subarray(0, curveN * P);
  const curveLabels = testLabels.subarray(0, curveN);
  // The heads read the curve images at t = 1 (nearly clean), with the same noise for every model and evaluation.
  const curveZ1 = noisyImages(curveImages, 1, schedule, createRng(config.seed + 500));

  const diffusion = {} as Record<VariantKind, { model: MtModel; modalities: Modality[] }>;
  const classifiers = {} as Record<ClassifierKind, Classifier>;
  try {
    // 1. Train: the three diffusion models, then the two supervised classifiers, all on the same batches.
    const tTrain = performance.now();
    const training = {} as Record<VariantKind | ClassifierKind, Training>;
    for (const kind of VARIANTS) {
      const built = buildVariant(kind, config, schedule);
      diffusion[kind] = built;
      const evaluate =
        kind === 'ddpm'
          ? undefined
          : async () => {
              // The head's one-step reading at t = 1 on held-out images (live weights, not the EMA).
              const probs = await softmaxOf((x) => headLogits(built.model, x, 1), curveZ1, curveN, s, config.classify.batchSize);
              return accuracyOf(probs, curveLabels, K);
            };
      training[kind] = await trainDiffusion({
        label: VARIANT_NAMES[kind],
        model: built.model,
        modalities: built.modalities,
        schedule,
        draw,
        config,
        dir: join(out, FILE_NAMES[kind]),
        ...(evaluate ? { evaluate } : {}),
        ...(options.progress ? { progress: options.progress } : {}),
        log,
        trainer:
          kind === 'ddpm'
            ? { rho: config.label.rho }
            : { rho: config.label.rho, headWeights: { label: config.label.headWeight }, conditionDropout: { label: config.label.conditionDropout } },
      });
    }
    for (const kind of CLASSIFIERS) {
      const c = buildClassifier(kind, config);
      classifiers[kind] = c;
      training[kind] = await trainClassifier({
        label: CLASSIFIER_NAMES[kind],
        classifier: c,
        draw,
        config,
        dir: join(out, kind === 'supM' ? 'supervised-m' : 'supervised-e'),
        evaluate: async () => accuracyOf(await softmaxOf((x) => c.logits(x), curveImages, curveN, s, config.classify.batchSize), curveLabels, K),
        ...(options.progress ? { progress: options.progress } : {}),
        log,
      });
    }
    const trainSeconds = (performance.now() - tTrain) / 1000;
    await writeFileAtomic(join(out, 'loss-curve.png'), lossCurvePng(VARIANTS.map((k) => ({ values: training[k].losses.noise, color: COLORS[k] }))).png);
    const curveKinds = ['mtM', 'mtE', ...CLASSIFIERS] as const;
    if (training.mtM.curve.length > 0) {
      // Top-1 error (log axis) per evaluation point, the Figure 6 stand-in.
      await writeFileAtomic(
        join(out, 'accuracy-curve.png'),
        lossCurvePng(curveKinds.map((k) => ({ values: training[k].curve.map((p) => Math.max(1e-3, 1 - p.top1)), color: COLORS[k] })), { smooth: 1 }).png,
      );
    }

    // 2. Joint generation (Table 2): the MT variants generate image + label, the DDPM images only.
    const tGen = performance.now();
    const generated = {} as Record<VariantKind, { z0: Float32Array; probs?: Float32Array; labels?: Int32Array }>;
    for (const kind of VARIANTS) {
      const { model, modalities } = diffusion[kind];
      // Fixed weights: the U-Net label encoder's class table once, not at every sampler step (same samples).
      const tabulated = tabulateCategoricalEncoders(modalities);
      const g = await generateAll({
        model: asDiffusionModel(model),
        schedule,
        modalities: tabulated.modalities,
        shape: [s, s, 1],
        n: config.sample.n,
        batchSize: config.sample.batchSize,
        seed: config.seed + 101,
        steps: config.sample.steps,
        clipZ0: [-1, 1],
        onWarning: (m) => warnings.push(`${VARIANT_NAMES[kind]} sampling: ${m}`),
      }).finally(() => tabulated.dispose());
      generated[kind] = { z0: g.z0, ...(g.values['label'] ? { probs: g.values['label'], labels: g.labels['label']! } : {}) };
      log(`generated ${config.sample.n} ${kind === 'ddpm' ? 'images' : 'image-label pairs'} with ${VARIANT_NAMES[kind]} (${config.sample.steps} DDPM steps)`);
    }
    const gridN = Math.min(config.gridImages, config.sample.n);
    const zoom = s < 32 ? 2 : 1;
    for (const kind of VARIANTS) {
      const g = generated[kind];
      const columns = g.probs ? [g.z0, labelCells(g.probs, gridN, K, s)] : [g.z0];
      await writeFileAtomic(join(out, `samples-${FILE_NAMES[kind]}.png`), tupleGridPng(columns, gridN, s, { zoom, cellsPerRow: Math.min(gridN, 8) }));
    }
    const genSeconds = (performance.now() - tGen) / 1000;

    // 3. Classification of the test split: MT heads through the known-z0 sampler, classifiers directly.
    const tCls = performance.now();
    const nC = Math.min(config.classify.n, test.n);
    const clsImages = test.data.subarray(0, nC * P);
    const clsLabels = testLabels.subarray(0, nC);
    const probs = {} as Record<'mtM' | 'mtE' | ClassifierKind, Float32Array>;
    for (const kind of ['mtM', 'mtE'] as const) {
      const { model, modalities } = diffusion[kind];
      const g = await generateAll({
        model: asDiffusionModel(model),
        schedule,
        modalities,
        shape: [s, s, 1],
        n: nC,
        batchSize: config.classify.batchSize,
        seed: config.seed + 202,
        steps: config.classify.steps,
        z0Known: (first, size) => tf.tensor4d(clsImages.subarray(first * P, (first + size) * P), [size, s, s, 1]),
        onWarning: (m) => warnings.push(`${VARIANT_NAMES[kind]} classification: ${m}`),
      });
      probs[kind] = g.values['label']!;
      log(`classified ${nC} test images with the ${VARIANT_NAMES[kind]} label head (known-z0 sampler, ${config.classify.steps} steps)`);
    }
    for (const kind of CLASSIFIERS) probs[kind] = await softmaxOf((x) => classifiers[kind].logits(x), clsImages, nC, s, config.classify.batchSize);
    const sampler = { mtM: accuracyOf(probs.mtM, clsLabels, K), mtE: accuracyOf(probs.mtE, clsLabels, K) };
    const supervised = { supM: accuracyOf(probs.supM, clsLabels, K), supE: accuracyOf(probs.supE, clsLabels, K) };
    const byNoise = { t: NOISE_LEVELS.filter((t) => t <= config.schedule.T), top1: { mtM: [], mtE: [], supM: [], supE: [] } as Record<'mtM' | 'mtE' | ClassifierKind, number[]> };
    for (const t of byNoise.t) {
      const noisy = noisyImages(clsImages, t, schedule, createRng(config.seed + 300 + t));
      for (const kind of ['mtM', 'mtE'] as const) {
        const p = await softmaxOf((x) => headLogits(diffusion[kind].model, x, t), noisy, nC, s, config.classify.batchSize);
        byNoise.top1[kind].push(accuracyOf(p, clsLabels, K).top1);
      }
      for (const kind of CLASSIFIERS) byNoise.top1[kind].push(accuracyOf(await softmaxOf((x) => classifiers[kind].logits(x), noisy, nC, s, config.classify.batchSize), clsLabels, K).top1);
    }
    const gC = Math.min(config.gridImages, nC);
    await writeFileAtomic(
      join(out, 'classification.png'),
      tupleGridPng([clsImages, labelCells(probs.mtM, gC, K, s), labelCells(probs.mtE, gC, K, s), labelCells(probs.supM, gC, K, s), labelCells(oneHotRows(clsLabels.subarray(0, gC), K), gC, K, s)], gC, s, {
        zoom,
        cellsPerRow: Math.min(gC, 4),
      }),
    );
    const clsSeconds = (performance.now() - tCls) / 1000;

    // 4. Evaluate generation on the project's Fashion-MNIST features, with controls for the label agreement.
    const tEval = performance.now();
    const nG = config.sample.n;
    const sources = [...VARIANTS, 'real'] as const;
    const imagesOf = (src: (typeof sources)[number]) => (src === 'real' ? test.data.subarray(0, Math.min(nG, test.n) * P) : generated[src].z0);
    const countOf = (src: (typeof sources)[number]) => (src === 'real' ? Math.min(nG, test.n) : nG);
    const labelOf = (src: (typeof sources)[number]) => (src === 'real' ? testLabels.subarray(0, countOf('real')) : generated[src].labels);
    const supervisedReads = {} as Record<(typeof sources)[number], Record<ClassifierKind, Int32Array>>;
    const agreementControls = {} as RunSummary['agreementControls'];
    for (const src of sources) {
      const reads = {} as Record<ClassifierKind, Int32Array>;
      for (const kind of CLASSIFIERS) reads[kind] = argmaxRows(await softmaxOf((x) => classifiers[kind].logits(x), imagesOf(src), countOf(src), s, config.classify.batchSize), K);
      supervisedReads[src] = reads;
      const labels = labelOf(src);
      agreementControls[src] = labels ? { labelVsSupervised: { supM: agreement(labels, reads.supM), supE: agreement(labels, reads.supE) } } : {};
    }
    for (const kind of ['mtM', 'mtE'] as const) {
      const z1 = noisyImages(generated[kind].z0, 1, schedule, createRng(config.seed + 600));
      const p = await softmaxOf((x) => headLogits(diffusion[kind].model, x, 1), z1, nG, s, config.classify.batchSize);
      agreementControls[kind].labelVsHead = agreement(generated[kind].labels!, argmaxRows(p, K));
    }
    let extractor: FmnistFeatureExtractor | undefined;
    let generation: RunSummary['generation'];
    let jointAgreement: RunSummary['jointAgreement'];
    let featureNetAccuracy: number | undefined;
    const featureNetOnSamples: Partial<Record<VariantKind, number[]>> = {};
    try {
      extractor = await fmnistFeatures();
    } catch (e) {
      warnings.push(`feature network unavailable: ${(e as Error).message}`);
    }
    if (extractor) {
      const real = await featuresOf(extractor, test.data, Math.min(nG, test.n), s);
      featureNetAccuracy = accuracyOf(logitsOf(real), testLabels.subarray(0, real.count), K).top1;
      const realRead = argmaxRows(logitsOf(real), K);
      agreementControls.real.supervisedVsFeatureNet = { supM: agreement(supervisedReads.real.supM, realRead), supE: agreement(supervisedReads.real.supE, realRead) };
      const gen = {} as Record<VariantKind, Record<string, number>>;
      const agree = {} as Record<'mtM' | 'mtE', number>;
      for (const kind of VARIANTS) {
        const f = await featuresOf(extractor, generated[kind].z0, nG, s);
        const splits = Math.min(10, Math.max(1, Math.floor(nG / 20)));
        const m = generationMetrics(real, f, { inceptionScore: { splits } });
        gen[kind] = Object.fromEntries(m.all.map((r) => [r.label, r.value]));
        const read = argmaxRows(logitsOf(f), K);
        featureNetOnSamples[kind] = classHistogram(read, K);
        agreementControls[kind].supervisedVsFeatureNet = { supM: agreement(supervisedReads[kind].supM, read), supE: agreement(supervisedReads[kind].supE, read) };
        if (kind !== 'ddpm') agree[kind] = agreement(generated[kind].labels!, read);
      }
      generation = gen;
      jointAgreement = agree;
      extractor.dispose();
    } else {
      generation = { skipped: warnings[warnings.length - 1]! };
      jointAgreement = { skipped: warnings[warnings.length - 1]! };
    }
    const encRms = { mtM: await encodingRms(diffusion.mtM.modalities[0]!), mtE: await encodingRms(diffusion.mtE.modalities[0]!) };
    const report = endpointReport(schedule, [sqrtAlphaBarWeight(config.label.weightC)]);
    const evalSeconds = (performance.now() - tEval) / 1000;

    const trainRow = (k: VariantKind | ClassifierKind): TrainRow => {
      const t = training[k];
      const tail = t.losses.label.slice(-Math.max(1, Math.round(t.losses.label.length / 10)));
      return {
        steps: t.steps,
        seconds: t.seconds,
        finalLoss: t.finalLoss,
        ...(t.losses.noise.length > 0 ? { finalNoiseLoss: t.losses.noise[t.losses.noise.length - 1]! } : {}),
        ...(tail.length > 0 ? { finalLabelLoss: tail.reduce((a, b) => a + b, 0) / tail.length } : {}),
        curve: t.curve,
      };
    };
    const headParameters = (kind: 'mtM' | 'mtE') => diffusion[kind].model.variables.filter((v) => v.name.startsWith('heads.')).reduce((n, v) => n + v.variable.size, 0);
    const summary: RunSummary = {
      dataset: train.name,
      backend: options.backend,
      machine: machineDescription(),
      parameters: {
        mtM: diffusion.mtM.model.parameterCount(),
        mtE: diffusion.mtE.model.parameterCount(),
        ddpm: diffusion.ddpm.model.parameterCount(),
        supM: classifiers.supM.pathParameters,
        supE: classifiers.supE.pathParameters,
      },
      // -M reads the middle block: the supervised -M twin's path (encoder half + linear) is the same set of weights.
      // -E reads x0 = f(z_t, eps_theta): the whole U-Net plus the classifier head.
      pathParameters: { mtM: classifiers.supM.pathParameters, mtE: diffusion.ddpm.model.parameterCount() + headParameters('mtE') },
      label: {
        lambdaT,
        lambdaMax,
        encodingRms: encRms,
        endpointOffset: { mtM: endpointOffset(report, [Math.max(...encRms.mtM)]), mtE: endpointOffset(report, [Math.max(...encRms.mtE)]) },
      },
      train: { mtM: trainRow('mtM'), mtE: trainRow('mtE'), ddpm: trainRow('ddpm'), supM: trainRow('supM'), supE: trainRow('supE') },
      generation,
      jointAgreement,
      featureNetAccuracy,
      agreementControls,
      classHistograms: {
        generatedLabels: { mtM: classHistogram(generated.mtM.labels!, K), mtE: classHistogram(generated.mtE.labels!, K) },
        featureNetOnSamples,
        realTest: classHistogram(testLabels.subarray(0, Math.min(config.sample.n, test.n)), K),
      },
      classification: { n: nC, sampler, supervised, byNoise },
      seconds: { total: (performance.now() - start) / 1000, train: trainSeconds, generate: genSeconds, classify: clsSeconds, evaluate: evalSeconds },
      warnings,
    };
    await writeJsonAtomic(join(out, 'metrics.json'), summary);
    await writeFileAtomic(join(out, 'report.md'), renderReport(config, summary));
    log(`wrote ${join(out, 'report.md')} (${summary.seconds.total.toFixed(0)} s in all)`);
    return summary;
  } finally {
    for (const d of Object.values(diffusion)) d.model.dispose();
    for (const c of Object.values(classifiers)) c.dispose();
  }
}

function logitsOf(set: FeatureSet): Float32Array {
  const rows = set.logits;
  if (!rows) throw new RangeError('the feature network gave no logits');
  const K = rows[0]!.length;
  const out = new Float32Array(rows.length * K);
  rows.forEach((r, i) => out.set(r, i * K));
  return out;
}

/** A training batch: `B` images drawn with replacement and their class ids (the DDPM ignores the labels). */
function drawBatch(train: ImageSet, labels: Int32Array, B: number, rng: Rng): TrainBatch {
  const P = train.size * train.size;
  const images = new Float32Array(B * P);
  const ids = new Int32Array(B);
  for (let i = 0; i < B; i++) {
    const j = rng.int(train.n);
    images.set(train.data.subarray(j * P, (j + 1) * P), i * P);
    ids[i] = labels[j]!;
  }
  return { z0: tf.tensor4d(images, [B, train.size, train.size, 1]), values: { label: tf.tensor1d(ids, 'int32') } };
}
