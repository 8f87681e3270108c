import * as tf from '@tensorflow/tfjs';
import { loadSafetensors } from '@mtd/io';
import { fileURLToPath } from 'node:url';
import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import type { ExtractedFeatures, FeatureExtractor } from './extractor.js';
import { tensorToRows } from './extractor.js';
import {
  FEATURE_NET_ARCH,
  FEATURE_NET_CLASSES,
  FEATURE_NET_FEATURES,
  FEATURE_NET_INPUT,
  SPATIAL_FEATURES,
  featureNetForward,
  featureNetFromSafetensors,
  type FeatureNetParams,
  type FeatureScales,
} from './feature-net.js';

/** The name results computed with the shipped network carry: "FID (fmnist features)". */
export const FMNIST_FEATURES_NAME = 'fmnist features';

/** The weights shipped with the package (`weights/` beside `dist/` and `src/`). */
export function defaultFmnistWeightsPath(): string {
  return fileURLToPath(new URL('../weights/fmnist-features.safetensors', import.meta.url));
}

export interface FmnistFeaturesOptions {
  /** Another weights file of the same architecture (from `train-features --out`). */
  weightsPath?: string;
  /** Name used in result labels; change it when loading other weights, so results stay distinguishable. */
  name?: string;
}

/** The Fashion-MNIST feature extractor; `dispose()` frees its weights. */
export interface FmnistFeatureExtractor extends FeatureExtractor {
  readonly numClasses: number;
  readonly spatialDim: number;
  /** Test-set accuracy recorded in the weights file by the training script (NaN if absent). */
  readonly testAccuracy: number;
  /** The factors applied to the features and spatial heads (from the weights' metadata; 1 if absent). */
  readonly scales: FeatureScales;
  /** The weights file's metadata. */
  readonly metadata: Readonly<Record<string, string>>;
  logits(images: tf.Tensor4D): Promise<Float64Array[]>;
  spatialFeatures(images: tf.Tensor4D): Promise<Float64Array[]>;
  extract(images: tf.Tensor4D): Promise<Required<ExtractedFeatures>>;
  dispose(): void;
}

/**
 * The project's default feature extractor: the small CNN of `feature-net.ts`, trained on
 * Fashion-MNIST by `scripts/train-feature-net.ts` (test accuracy in the README and in
 * `testAccuracy`). It stands in for Inception-v3, whose weights cannot be downloaded here; its
 * numbers are comparable with each other, not with published Inception-based ones.
 *
 * Heads: `features` = the 64 penultimate activations before the ReLU (a rectified layer has a
 * point mass at 0 that a Gaussian fits badly, and units that never fire on a set would make its
 * covariance singular); `logits` = the 10 class logits; `spatialFeatures` = the first 8 channels
 * of the 7x7 map after the second conv block (392 numbers, see `SFID_CHANNELS`). The features and
 * spatial heads are multiplied by the constants in the weights' metadata (`featureScale`,
 * `spatialScale`) that give them unit average variance on training images (`featureScales`).
 *
 * Input: `[N, 28, 28, 1]` grey images in [-1, 1] (the diffusion models' range, black = -1), or
 * `[N, 32, 32, 1]` (the 28 -> 32 padding of `@mtd/datasets`' batcher, centre-cropped back).
 * Values outside [-1, 1] (beyond 1e-3) are an error: clip generated samples first.
 */
export async function fmnistFeatures(options: FmnistFeaturesOptions = {}): Promise<FmnistFeatureExtractor> {
  const where = 'fmnistFeatures';
  const path = options.weightsPath ?? defaultFmnistWeightsPath();
  const name = options.name ?? FMNIST_FEATURES_NAME;
  if (typeof name !== 'string' || name.length === 0) fail(where, 'options.name', 'a non-empty string', name);
  let file: Awaited<ReturnType<typeof loadSafetensors>>;
  try {
    file = await loadSafetensors(path);
  } catch (e) {
    throw new Error(
      `${where}: cannot read the feature-network weights at ${path} (${e instanceof Error ? e.message : String(e)}); ` +
        'retrain them with `pnpm --filter @mtd/metrics train-features`',
    );
  }
  if (file.metadata['architecture'] !== undefined && file.metadata['architecture'] !== FEATURE_NET_ARCH) {
    throw new RangeError(`${where}: ${path} must hold a ${FEATURE_NET_ARCH} network, got "${file.metadata['architecture']}"`);
  }
  let params: Record<string, tf.Tensor> | undefined = featureNetFromSafetensors(file.tensors, path);
  const testAccuracy = Number(file.metadata['testAccuracy'] ?? Number.NaN);
  const scales: FeatureScales = {
    features: readScale(where, path, file.metadata, 'featureScale'),
    spatial: readScale(where, path, file.metadata, 'spatialScale'),
  };

  const live = (): FeatureNetParams => {
    if (params === undefined) throw new Error(`${where}: this extractor has been disposed`);
    return params as FeatureNetParams;
  };

  /** Runs the network and reads back the requested heads. */
  const forward = async (images: tf.Tensor4D, heads: ReadonlyArray<'features' | 'logits' | 'spatial'>) => {
    const p = live();
    const input = await prepare(images);
    const outs = tf.tidy(() => {
      const all = featureNetForward(p, input);
      return heads.map((h) => all[h]);
    });
    input.dispose();
    try {
      const rows = await Promise.all(outs.map((t) => tensorToRows(t)));
      heads.forEach((h, i) => {
        const factor = h === 'features' ? scales.features : h === 'spatial' ? scales.spatial : 1;
        if (factor !== 1) for (const row of rows[i]!) for (let j = 0; j < row.length; j++) row[j]! *= factor;
      });
      return rows;
    } finally {
      tf.dispose(outs);
    }
  };

  return {
    name,
    featureDim: FEATURE_NET_FEATURES,
    numClasses: FEATURE_NET_CLASSES,
    spatialDim: SPATIAL_FEATURES,
    testAccuracy,
    scales,
    metadata: Object.freeze({ ...file.metadata }),
    async features(images) {
      return (await forward(images, ['features']))[0]!;
    },
    async logits(images) {
      return (await forward(images, ['logits']))[0]!;
    },
    async spatialFeatures(images) {
      return (await forward(images, ['spatial']))[0]!;
    },
    async extract(images) {
      const [features, logits, spatial] = await forward(images, ['features', 'logits', 'spatial']);
      return { features: features!, logits: logits!, spatial: spatial! };
    },
    dispose() {
      if (params !== undefined) tf.dispose(Object.values(params));
      params = undefined;
    },
  };
}

function readScale(where: string, path: string, metadata: Record<string, string>, key: string): number {
  const raw = metadata[key];
  if (raw === undefined) return 1;
  const value = Number(raw);
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${where}: the ${key} in ${path} must be a finite number > 0, got ${JSON.stringify(raw)}`);
  }
  return value;
}

/** Checks shape and range and returns a `[N, 28, 28, 1]` tensor the caller disposes. */
async function prepare(images: tf.Tensor4D): Promise<tf.Tensor4D> {
  const where = 'fmnistFeatures';
  if (!(images instanceof tf.Tensor) || images.rank !== 4) {
    failType(where, 'images', 'a [N, 28, 28, 1] or [N, 32, 32, 1] tensor', images);
  }
  const [n, h, w, c] = images.shape;
  const size = h === w && (h === FEATURE_NET_INPUT || h === 32) ? h : -1;
  if (size < 0 || c !== 1 || n < 1) {
    fail(where, 'images', '[N, 28, 28, 1] or [N, 32, 32, 1] (grey images)', `[${images.shape.join(', ')}]`);
  }
  const range = tf.tidy(() => tf.stack([tf.min(images), tf.max(images)]));
  const [lo, hi] = (await range.data()) as Float32Array;
  range.dispose();
  if (!(lo! >= -1.001 && hi! <= 1.001)) {
    throw new RangeError(
      `${where}: images must be in [-1, 1] (scale bytes with x / 127.5 - 1, clip generated samples), got values in [${lo}, ${hi}]`,
    );
  }
  return tf.tidy(() => {
    const cropped = size === 32 ? tf.slice(images, [0, 2, 2, 0], [n, FEATURE_NET_INPUT, FEATURE_NET_INPUT, 1]) : images;
    return tf.clipByValue(cropped, -1, 1) as tf.Tensor4D;
  });
}
