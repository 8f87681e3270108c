import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { disposeBatch, fashionMnist, makeBatch, type Dataset } from '@mtd/datasets';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topKAccuracy } from './classification.js';
import { collectFeatures } from './extractor.js';
import { fid } from './frechet.js';
import { fmnistFeatures, type FmnistFeatureExtractor } from './fmnist-features.js';
import { generationMetrics } from './generation.js';

/**
 * The shipped weights on real Fashion-MNIST test images. Needs the dataset files; without them
 * the suite is skipped and says why. Runs on wasm: the cpu backend needs ~10 s for 500 images.
 */
let test: Dataset | undefined;
let missing = '';
try {
  test = await fashionMnist({ split: 'test' });
} catch (e) {
  missing = e instanceof Error ? e.message : String(e);
  console.warn(`skipping the shipped feature-network tests: ${missing}`);
}

const N = 500;

describe.skipIf(test === undefined)(
  `shipped fmnist feature network${test === undefined ? ' (skipped: Fashion-MNIST test files not found)' : ''}`,
  () => {
    let ex: FmnistFeatureExtractor;
    let images: tf.Tensor4D;
    let labels: Int32Array;

    beforeAll(async () => {
      await tf.setBackend('wasm');
      ex = await fmnistFeatures();
      const batch = makeBatch(test!, Array.from({ length: N }, (_, i) => i), { modalities: ['image', 'label'] });
      images = tf.keep(batch['image'] as tf.Tensor4D);
      labels = (await batch['label']!.data()) as Int32Array;
      batch['label']!.dispose();
    });
    afterAll(async () => {
      images?.dispose();
      ex?.dispose();
      await tf.setBackend('cpu');
    });

    it(`classifies the first ${N} test images with accuracy >= 0.85`, async () => {
      const logits = await ex.logits(images);
      const accuracy = topKAccuracy(logits, labels, 1);
      expect(accuracy).toBeGreaterThanOrEqual(0.85);
      expect(ex.testAccuracy).toBeGreaterThanOrEqual(0.85);
    });

    it('its features tell real images from corrupted ones (FID ordering)', async () => {
      const set = await collectFeatures(ex, images, { batchSize: 250 });
      const half = N / 2;
      const realVsReal = fid(set.features.slice(0, half), set.features.slice(half));
      // Corruption: the same images, blurred by a 2x2 average and re-sampled.
      const blurred = tf.tidy(() => tf.image.resizeBilinear(tf.avgPool(images, 2, 2, 'valid'), [28, 28]) as tf.Tensor4D);
      const noisy = tf.tidy(() => tf.clipByValue(tf.add(images, tf.randomNormal(images.shape, 0, 0.5, 'float32', 1)), -1, 1) as tf.Tensor4D);
      const blurSet = await collectFeatures(ex, blurred, { batchSize: 250 });
      const noiseSet = await collectFeatures(ex, noisy, { batchSize: 250 });
      tf.dispose([blurred, noisy]);
      const realVsBlur = fid(set.features.slice(0, half), blurSet.features.slice(half));
      const realVsNoise = fid(set.features.slice(0, half), noiseSet.features.slice(half));
      expect(realVsBlur).toBeGreaterThan(2 * realVsReal);
      expect(realVsNoise).toBeGreaterThan(2 * realVsReal);
      const m = generationMetrics(
        { ...set, count: half, features: set.features.slice(0, half), logits: set.logits!.slice(0, half), spatial: set.spatial!.slice(0, half) },
        { ...noiseSet, count: half, features: noiseSet.features.slice(half), logits: noiseSet.logits!.slice(half), spatial: noiseSet.spatial!.slice(half) },
        { kid: { subsets: 10, subsetSize: 100 }, inceptionScore: { splits: 5 } },
      );
      expect(m.fid!.label).toBe('FID (fmnist features)');
      expect(m.fid!.value).toBeCloseTo(realVsNoise, 10);
      // Real Fashion-MNIST test images use all 10 classes almost evenly, confidently: IS well above 5.
      expect(m.realInceptionScore!.value).toBeGreaterThan(5);
    });
  },
);
