/**
 * Trains the project's Fashion-MNIST feature network and writes the weights shipped in the package:
 *
 *   nice -n 10 pnpm --filter @mtd/metrics train-features [-- --epochs 3 --seed 0 ...]
 *
 * Options: --epochs N (5), --batch N (128), --lr X (1e-3), --schedule constant|cosine (constant;
 * cosine decays the learning rate to 0 over the run), --seed N (0), --limit N (train on the
 * first N examples of each epoch's order only: a quick smoke run), --backend wasm|cpu (wasm),
 * --out PATH (weights/fmnist-features.safetensors; the JSON report goes beside it),
 * --calibrate-only (no training: recompute the feature scales of the weights at --out and rewrite
 * their metadata and report).
 *
 * Needs the Fashion-MNIST IDX files (`apt-get install -y dataset-fashion-mnist`, or
 * MTD_FASHION_MNIST_DIR). Seeded: initialisation and batch order come from `--seed`; the wasm
 * backend's float32 sums are deterministic on one machine.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { batches, disposeBatch, epochLength, fashionMnist, makeBatch, type Dataset } from '@mtd/datasets';
import { loadSafetensors, saveSafetensors, writeJsonAtomic } from '@mtd/io';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FEATURE_NET_ARCH,
  featureNetForward,
  featureNetFromSafetensors,
  featureNetToSafetensors,
  featureScales,
  initFeatureNet,
  type FeatureNetParams,
  type FeatureScales,
} from '../src/feature-net.js';

/** Training images the feature scales are measured on (the first ones, in file order). */
const CALIBRATION_IMAGES = 10000;
const CALIBRATION_NOTE = `1 / RMS per-dimension std of the head over the first ${CALIBRATION_IMAGES} training images`;

interface Config {
  epochs: number;
  batch: number;
  lr: number;
  schedule: 'constant' | 'cosine';
  seed: number;
  limit: number | undefined;
  backend: string;
  calibrateOnly: boolean;
  out: string;
}

/** The @mtd/metrics folder above this (bundled) script, wherever the bundle was written. */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === '@mtd/metrics') return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error('train-feature-net: cannot find the @mtd/metrics package folder; pass --out');
    dir = parent;
  }
}

function parseArgs(argv: string[]): Config {
  const config: Config = {
    epochs: 5,
    batch: 128,
    lr: 1e-3,
    schedule: 'constant',
    seed: 0,
    limit: undefined,
    backend: 'wasm',
    calibrateOnly: false,
    out: '',
  };
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i];
    const value = argv[i + 1];
    if (key === '--') continue;
    if (key === '--calibrate-only') {
      config.calibrateOnly = true;
      continue;
    }
    if (value === undefined) throw new Error(`train-feature-net: ${key} needs a value`);
    i++;
    switch (key) {
      case '--epochs':
        config.epochs = Number(value);
        break;
      case '--batch':
        config.batch = Number(value);
        break;
      case '--lr':
        config.lr = Number(value);
        break;
      case '--schedule':
        if (value !== 'constant' && value !== 'cosine') throw new Error(`train-feature-net: --schedule must be constant or cosine, got ${value}`);
        config.schedule = value;
        break;
      case '--seed':
        config.seed = Number(value);
        break;
      case '--limit':
        config.limit = Number(value);
        break;
      case '--backend':
        config.backend = value;
        break;
      case '--out':
        config.out = resolve(value);
        break;
      default:
        throw new Error(`train-feature-net: unknown option ${key}`);
    }
  }
  for (const [k, min] of [['epochs', 1], ['batch', 1], ['seed', 0]] as const) {
    if (!Number.isSafeInteger(config[k]) || config[k] < min) throw new Error(`train-feature-net: --${k} must be an integer >= ${min}, got ${config[k]}`);
  }
  if (config.limit !== undefined && !(Number.isInteger(config.limit) && config.limit >= 1)) {
    throw new Error(`train-feature-net: --limit must be an integer >= 1, got ${config.limit}`);
  }
  if (!(config.lr > 0)) throw new Error(`train-feature-net: --lr must be > 0, got ${config.lr}`);
  if (config.out === '') config.out = join(packageRoot(), 'weights', 'fmnist-features.safetensors');
  return config;
}

/** Top-1 accuracy of the network on the whole of `dataset`, in batches of 500. */
async function accuracy(params: FeatureNetParams, dataset: Dataset): Promise<number> {
  let correct = 0;
  const size = 500;
  for (let start = 0; start < dataset.length; start += size) {
    const indices = Array.from({ length: Math.min(size, dataset.length - start) }, (_, i) => start + i);
    const batch = makeBatch(dataset, indices, { modalities: ['image', 'label'] });
    const hits = tf.tidy(() => {
      const { logits } = featureNetForward(params, batch['image'] as tf.Tensor4D);
      return tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), batch['label']!), 'int32'));
    });
    correct += (await hits.data())[0]!;
    hits.dispose();
    disposeBatch(batch);
  }
  return correct / dataset.length;
}

/** The features/spatial scales on the first CALIBRATION_IMAGES training images. */
async function calibrate(params: FeatureNetParams, train: Dataset): Promise<FeatureScales> {
  const n = Math.min(CALIBRATION_IMAGES, train.length);
  function* images(): Generator<tf.Tensor4D> {
    for (let start = 0; start < n; start += 500) {
      const indices = Array.from({ length: Math.min(500, n - start) }, (_, i) => start + i);
      const batch = makeBatch(train, indices, { modalities: ['image'] });
      yield batch['image'] as tf.Tensor4D;
      disposeBatch(batch);
    }
  }
  return featureScales(params, images());
}

function scaleMetadata(scales: FeatureScales): Record<string, string> {
  return { featureScale: String(scales.features), spatialScale: String(scales.spatial), calibration: CALIBRATION_NOTE };
}

async function calibrateOnly(config: Config, train: Dataset): Promise<void> {
  const file = await loadSafetensors(config.out);
  if (file.metadata['architecture'] !== FEATURE_NET_ARCH) {
    throw new Error(`train-feature-net: ${config.out} must hold a ${FEATURE_NET_ARCH} network, got ${file.metadata['architecture']}`);
  }
  const params = featureNetFromSafetensors(file.tensors, config.out);
  const scales = await calibrate(params as FeatureNetParams, train);
  tf.dispose(Object.values(params));
  await saveSafetensors(config.out, file.tensors, { ...file.metadata, ...scaleMetadata(scales) });
  const reportPath = config.out.replace(/\.safetensors$/, '') + '.json';
  const report = existsSync(reportPath) ? (JSON.parse(readFileSync(reportPath, 'utf8')) as Record<string, unknown>) : {};
  await writeJsonAtomic(reportPath, { ...report, featureScale: scales.features, spatialScale: scales.spatial, calibration: CALIBRATION_NOTE });
  console.log(`feature scale ${scales.features}, spatial scale ${scales.spatial}: rewrote ${config.out} and ${reportPath}`);
}

async function main(): Promise<void> {
  const config = parseArgs(process.argv.slice(2));
  await tf.setBackend(config.backend);
  await tf.ready();
  const [train, test] = await Promise.all([fashionMnist({ split: 'train' }), fashionMnist({ split: 'test' })]);
  if (config.calibrateOnly) {
    await calibrateOnly(config, train);
    return;
  }
  const params = initFeatureNet(config.seed);
  const optimizer = tf.train.adam(config.lr);
  const perEpoch = epochLength(train, { batchSize: config.batch });
  const stepsPerEpoch = Math.min(perEpoch, config.limit === undefined ? perEpoch : Math.ceil(config.limit / config.batch));
  console.log(
    `training ${FEATURE_NET_ARCH} on ${train.name} (${train.length}) with ${tf.getBackend()}: ` +
      `${config.epochs} epochs x ${stepsPerEpoch} steps of ${config.batch}, Adam ${config.lr} (${config.schedule}), seed ${config.seed}`,
  );
  const totalSteps = config.epochs * stepsPerEpoch;
  // tfjs's Adam reads its public learningRate field at every step, so a schedule can set it.
  const setLearningRate = (globalStep: number): void => {
    const lr = config.schedule === 'cosine' ? 0.5 * config.lr * (1 + Math.cos((Math.PI * globalStep) / totalSteps)) : config.lr;
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
  };
  const started = Date.now();
  const history: Array<{ epoch: number; loss: number; testAccuracy: number; seconds: number }> = [];
  for (let epoch = 0; epoch < config.epochs; epoch++) {
    let step = 0;
    let lossSum = 0;
    for (const batch of batches(train, {
      batchSize: config.batch,
      seed: config.seed,
      epoch,
      epochs: 1,
      modalities: ['image', 'label'],
      oneHot: true,
    })) {
      if (step >= stepsPerEpoch) {
        disposeBatch(batch);
        break;
      }
      setLearningRate(epoch * stepsPerEpoch + step);
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(batch['labelOneHot']!, featureNetForward(params, batch['image'] as tf.Tensor4D).logits),
        true,
      )!;
      const value = (await loss.data())[0]!;
      loss.dispose();
      disposeBatch(batch);
      lossSum += value;
      step++;
      if (step % 50 === 0 || step === stepsPerEpoch) {
        const elapsed = (Date.now() - started) / 1000;
        console.log(`epoch ${epoch + 1} step ${step}/${stepsPerEpoch} loss ${(lossSum / step).toFixed(4)} (${elapsed.toFixed(0)} s)`);
      }
    }
    const testAccuracy = await accuracy(params, test);
    const seconds = (Date.now() - started) / 1000;
    history.push({ epoch: epoch + 1, loss: lossSum / step, testAccuracy, seconds });
    console.log(`epoch ${epoch + 1}: mean loss ${(lossSum / step).toFixed(4)}, test accuracy ${(100 * testAccuracy).toFixed(2)}% (${seconds.toFixed(0)} s)`);
  }
  const final = history[history.length - 1];
  const scales = await calibrate(params, train);
  const report = {
    architecture: FEATURE_NET_ARCH,
    dataset: 'Fashion-MNIST (train 60000 / test 10000), images scaled to [-1, 1]',
    testAccuracy: final?.testAccuracy ?? null,
    trainingSeconds: (Date.now() - started) / 1000,
    date: new Date().toISOString(),
    backend: tf.getBackend(),
    config: { epochs: config.epochs, batchSize: config.batch, optimizer: 'adam', learningRate: config.lr, schedule: config.schedule, seed: config.seed, limit: config.limit ?? null },
    history,
    featureScale: scales.features,
    spatialScale: scales.spatial,
    calibration: CALIBRATION_NOTE,
  };
  const tensors = await featureNetToSafetensors(params);
  await saveSafetensors(config.out, tensors, {
    architecture: FEATURE_NET_ARCH,
    testAccuracy: String(report.testAccuracy),
    date: report.date,
    config: JSON.stringify(report.config),
    ...scaleMetadata(scales),
  });
  const reportPath = config.out.replace(/\.safetensors$/, '') + '.json';
  await writeJsonAtomic(reportPath, report);
  console.log(`wrote ${config.out} and ${reportPath}`);
  Object.values(params).forEach((v) => v.dispose());
  optimizer.dispose();
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
