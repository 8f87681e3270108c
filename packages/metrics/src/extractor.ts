import * as tf from '@tensorflow/tfjs';
import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import { checkInt } from './check.js';

/**
 * What the generation metrics need from a network: per-image feature vectors, and optionally
 * class logits (Inception-style score) and a spatial feature map (sFID). Any network can be one:
 * the project's Fashion-MNIST classifier (`fmnistFeatures`), or a user's own.
 *
 * Every result computed from an extractor's outputs carries its `name`, because a number such as
 * an FID means nothing without the network that produced the features (EXPERIMENTS.md: never
 * "FID" alone next to published Inception-v3 numbers).
 */
export interface FeatureExtractor {
  /** Short name used in result labels, e.g. `'fmnist features'` gives `'FID (fmnist features)'`. */
  readonly name: string;
  /** Length of each `features` row. */
  readonly featureDim: number;
  /** Length of each `logits` row, when the extractor has a classifier head. */
  readonly numClasses?: number;
  /** Length of each `spatialFeatures` row, when the extractor has a spatial map. */
  readonly spatialDim?: number;
  /** One float64 row per image: the vector FID, KID and precision/recall are computed on. */
  features(images: tf.Tensor4D): Promise<Float64Array[]>;
  /** One row of class logits per image, for the Inception-style score. */
  logits?(images: tf.Tensor4D): Promise<Float64Array[]>;
  /** One flattened spatial feature map per image, for sFID. */
  spatialFeatures?(images: tf.Tensor4D): Promise<Float64Array[]>;
  /**
   * All heads from one forward pass; `collectFeatures` uses it when present so an image set is
   * run through the network once.
   */
  extract?(images: tf.Tensor4D): Promise<ExtractedFeatures>;
}

export interface ExtractedFeatures {
  readonly features: Float64Array[];
  readonly logits?: Float64Array[];
  readonly spatial?: Float64Array[];
}

/** An image set's outputs from one extractor, ready for `generationMetrics`. */
export interface FeatureSet extends ExtractedFeatures {
  /** The extractor's `name`. */
  readonly extractor: string;
  /** Number of images. */
  readonly count: number;
}

/** Images for `collectFeatures`: one tensor, or batches from an (async) iterable. */
export type ImageSource = tf.Tensor4D | Iterable<tf.Tensor4D> | AsyncIterable<tf.Tensor4D>;

export interface CollectOptions {
  /** Images per forward pass when `images` is one tensor (256 by default). */
  batchSize?: number;
}

/**
 * Runs an image set through `extractor` and gathers every head it has. A single tensor is cut into
 * `batchSize` slices; an iterable is consumed batch by batch, each batch finished with before the
 * next is requested, so a generator may dispose the batch it yielded when it resumes (and 60k
 * images never sit in memory as tensors). Input tensors are never disposed here.
 */
export async function collectFeatures(
  extractor: FeatureExtractor,
  images: ImageSource,
  options: CollectOptions = {},
): Promise<FeatureSet> {
  const where = 'collectFeatures';
  checkExtractor(where, extractor);
  const batchSize = checkInt(where, 'options.batchSize', options.batchSize ?? 256, 1);
  const features: Float64Array[] = [];
  const logits: Float64Array[] | undefined = extractor.logits || extractor.extract ? [] : undefined;
  const spatial: Float64Array[] | undefined = extractor.spatialFeatures || extractor.extract ? [] : undefined;
  let sawLogits = false;
  let sawSpatial = false;
  const run = async (batch: tf.Tensor4D): Promise<void> => {
    if (!(batch instanceof tf.Tensor) || batch.rank !== 4) {
      failType(where, 'images', 'a [N, H, W, C] tensor or batches of them', batch);
    }
    const n = batch.shape[0];
    let out: ExtractedFeatures;
    if (extractor.extract) {
      out = await extractor.extract(batch);
    } else {
      out = {
        features: await extractor.features(batch),
        ...(extractor.logits ? { logits: await extractor.logits(batch) } : {}),
        ...(extractor.spatialFeatures ? { spatial: await extractor.spatialFeatures(batch) } : {}),
      };
    }
    if (out.features.length !== n) {
      throw new RangeError(`${where}: extractor "${extractor.name}" returned ${out.features.length} feature rows for ${n} images`);
    }
    features.push(...out.features);
    if (out.logits) {
      sawLogits = true;
      logits?.push(...out.logits);
    }
    if (out.spatial) {
      sawSpatial = true;
      spatial?.push(...out.spatial);
    }
  };
  if (images instanceof tf.Tensor) {
    if (images.rank !== 4) fail(where, 'images', 'a [N, H, W, C] tensor', `a rank-${images.rank} tensor`);
    const total = images.shape[0];
    for (let start = 0; start < total; start += batchSize) {
      const size = Math.min(batchSize, total - start);
      const slice = tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]);
      try {
        await run(slice);
      } finally {
        slice.dispose();
      }
    }
  } else if (images !== null && typeof images === 'object' && (Symbol.asyncIterator in images || Symbol.iterator in images)) {
    for await (const batch of images as AsyncIterable<tf.Tensor4D>) await run(batch);
  } else {
    failType(where, 'images', 'a [N, H, W, C] tensor or an iterable of them', images);
  }
  return {
    extractor: extractor.name,
    count: features.length,
    features,
    ...(sawLogits && logits ? { logits } : {}),
    ...(sawSpatial && spatial ? { spatial } : {}),
  };
}

function checkExtractor(where: string, extractor: FeatureExtractor): void {
  if (
    extractor === null ||
    typeof extractor !== 'object' ||
    typeof extractor.name !== 'string' ||
    extractor.name.length === 0 ||
    typeof extractor.features !== 'function'
  ) {
    failType(where, 'extractor', 'a FeatureExtractor ({ name, featureDim, features(images) })', extractor);
  }
}

/** Reads a `[N, D]` tensor as N float64 rows (the shape extractors return). */
export async function tensorToRows(t: tf.Tensor): Promise<Float64Array[]> {
  if (t.rank !== 2) fail('tensorToRows', 't', 'a [N, D] tensor', `a rank-${t.rank} tensor`);
  const [n, d] = t.shape as [number, number];
  const data = await t.data();
  const rows: Float64Array[] = [];
  for (let i = 0; i < n; i++) rows.push(Float64Array.from(data.subarray(i * d, (i + 1) * d) as Float32Array));
  return rows;
}
