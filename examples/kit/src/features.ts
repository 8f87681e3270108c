import * as tf from '@tensorflow/tfjs';
import { collectFeatures, type FeatureExtractor, type FeatureSet } from '@mtd/metrics';
import { LUMA_WEIGHTS } from '@mtd/datasets';

/**
 * Images as the project's Fashion-MNIST feature network reads them: grey `[n, 28, 28, 1]` in
 * [-1, 1]. RGB is reduced by the luma weights the datasets use; sizes other than 28 and 32 are
 * bilinearly resized to 28 (real and generated images alike, so the comparison stays fair).
 */
export function featureImages(data: Float32Array, n: number, size: number, channels: 1 | 3 = 1): tf.Tensor4D {
  const where = 'featureImages';
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`${where}: size must be an integer >= 1, got ${String(size)}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`${where}: channels must be 1 or 3, got ${String(channels)}`);
  if (data.length < n * size * size * channels) throw new RangeError(`${where}: data must hold n * size * size * channels = ${n * size * size * channels} values, got ${data.length}`);
  return tf.tidy(() => {
    let t = tf.tensor4d(data.subarray(0, n * size * size * channels), [n, size, size, channels]);
    if (channels === 3) t = tf.sum(tf.mul(t, tf.tensor1d(Array.from(LUMA_WEIGHTS))), -1, true);
    t = tf.clipByValue(t, -1, 1);
    return size === 28 || size === 32 ? t : (tf.clipByValue(tf.image.resizeBilinear(t, [28, 28]), -1, 1) as tf.Tensor4D);
  });
}

/** `collectFeatures` over `featureImages(data, ...)`, freeing the images after. */
export async function featuresOf(extractor: FeatureExtractor, data: Float32Array, n: number, size: number, channels: 1 | 3 = 1): Promise<FeatureSet> {
  const images = featureImages(data, n, size, channels);
  try {
    return await collectFeatures(extractor, images);
  } finally {
    images.dispose();
  }
}
