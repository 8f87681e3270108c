import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { FeatureExtractor } from '@mtd/metrics';
import { expectNoLeak } from '@mtd/testkit';
import { featureImages, featuresOf } from './features.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('featureImages', () => {
  it('reduces RGB by luma, keeps 28 px as is, and clips to [-1, 1]', () => {
    // One 28x28 RGB image: every pixel (1, -1, 0.5) -> 0.299 - 0.587 + 0.057 = -0.231.
    const rgb = new Float32Array(28 * 28 * 3);
    for (let p = 0; p < 28 * 28; p++) rgb.set([1, -1, 0.5], 3 * p);
    const t = featureImages(rgb, 1, 28, 3);
    expect(t.shape).toEqual([1, 28, 28, 1]);
    expect(t.dataSync()[100]).toBeCloseTo(0.299 - 0.587 + 0.114 * 0.5, 5);
    t.dispose();
    const big = featureImages(new Float32Array(28 * 28).fill(3), 1, 28);
    expect(big.max().dataSync()[0]).toBe(1);
    big.dispose();
  });
  it('resizes other sizes to 28 (a constant image stays constant)', async () => {
    await expectNoLeak(async () => {
      const t = featureImages(new Float32Array(2 * 16 * 16).fill(-0.25), 2, 16);
      expect(t.shape).toEqual([2, 28, 28, 1]);
      expect(Array.from(t.dataSync()).every((v) => Math.abs(v + 0.25) < 1e-6)).toBe(true);
      t.dispose();
    });
  });
  it('names bad arguments', () => {
    expect(() => featureImages(new Float32Array(3), 1, 2)).toThrow(/featureImages: data must hold n \* size \* size \* channels = 4 values, got 3/);
    expect(() => featureImages(new Float32Array(4), 1, 2, 2 as 3)).toThrow(/featureImages: channels must be 1 or 3, got 2/);
    expect(() => featureImages(new Float32Array(4), 0, 2)).toThrow(/featureImages: n must be an integer >= 1, got 0/);
  });
});

describe('featuresOf', () => {
  it('collects the extractor features of the prepared images without leaking', async () => {
    const meanPixel: FeatureExtractor = {
      name: 'mean pixel',
      featureDim: 1,
      features: async (images) => {
        const m = tf.mean(images, [1, 2, 3]);
        const v = await m.data();
        m.dispose();
        return Array.from(v, (x) => Float64Array.of(x));
      },
    };
    await expectNoLeak(async () => {
      const set = await featuresOf(meanPixel, Float32Array.from([...new Array(16).fill(0.5), ...new Array(16).fill(-0.5)]), 2, 4);
      expect(set.features.map((f) => Number(f[0]!.toFixed(5)))).toEqual([0.5, -0.5]);
    });
  });
});
