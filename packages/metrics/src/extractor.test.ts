import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { collectFeatures, tensorToRows } from './extractor.js';
import { toyExtractor } from './testing/toy-extractor.js';

describe('collectFeatures', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  // Image i is constant i / 10, except its first pixel, which is -i / 10.
  const makeImages = (n: number, offset = 0): tf.Tensor4D =>
    tf.tidy(() => {
      const data = new Float32Array(n * 4 * 3);
      for (let i = 0; i < n; i++) {
        data.fill((i + offset) / 10, i * 12, (i + 1) * 12);
        data[i * 12] = -(i + offset) / 10;
      }
      return tf.tensor4d(data, [n, 4, 3, 1]);
    });

  it('cuts a tensor into batches and keeps the image order, all heads', async () => {
    const images = makeImages(7);
    const ex = toyExtractor();
    const set = await collectFeatures(ex, images, { batchSize: 3 });
    expect(set.extractor).toBe('toy');
    expect(set.count).toBe(7);
    expect(set.features.map((r) => r[2]! + 0)).toEqual([0, -0.1, -0.2, -0.3, -0.4, -0.5, -0.6].map((v) => Math.fround(v)));
    expect(set.logits!.map((r) => r[0])).toEqual(set.features.map((r) => r[2]));
    expect(set.spatial![3]!.length).toBe(3);
    // Three batches, each through the three heads.
    expect(ex.calls.length).toBe(9);
    expect(images.isDisposed).toBe(false);
    images.dispose();
  });

  it('uses extract() for one pass when the extractor has it', async () => {
    const images = makeImages(4);
    const ex = toyExtractor({ oneShot: true });
    const set = await collectFeatures(ex, images, { batchSize: 4 });
    expect(ex.calls[0]).toBe('extract');
    expect(set.logits!.length).toBe(4);
    images.dispose();
  });

  it('leaves out heads the extractor does not have', async () => {
    const images = makeImages(2);
    const set = await collectFeatures(toyExtractor({ heads: false }), images);
    expect(set.logits).toBeUndefined();
    expect(set.spatial).toBeUndefined();
    images.dispose();
  });

  it('streams an async generator that disposes each batch after it was used, without leaks', async () => {
    async function* stream(): AsyncGenerator<tf.Tensor4D> {
      for (let b = 0; b < 3; b++) {
        const batch = makeImages(2, 2 * b);
        yield batch;
        batch.dispose();
      }
    }
    await expectNoLeak(async () => {
      const set = await collectFeatures(toyExtractor(), stream());
      expect(set.count).toBe(6);
      expect(set.features[5]![2]).toBeCloseTo(-0.5, 6);
    }, 'collectFeatures(stream)');
    await expectNoLeak(async () => {
      const images = makeImages(5);
      await collectFeatures(toyExtractor(), images, { batchSize: 2 });
      images.dispose();
    }, 'collectFeatures(tensor)');
  });

  it('rejects bad input', async () => {
    const images = makeImages(2);
    await expect(collectFeatures({} as never, images)).rejects.toThrow(/collectFeatures: extractor must be a FeatureExtractor/);
    await expect(collectFeatures(toyExtractor(), tf.zeros([2, 2]) as never)).rejects.toThrow(/images must be a \[N, H, W, C\] tensor/);
    await expect(collectFeatures(toyExtractor(), 5 as never)).rejects.toThrow(TypeError);
    await expect(collectFeatures(toyExtractor(), images, { batchSize: 0 })).rejects.toThrow(/options.batchSize must be an integer >= 1, got 0/);
    const liar = { ...toyExtractor(), features: async () => [new Float64Array(3)] };
    await expect(collectFeatures(liar, images)).rejects.toThrow(/returned 1 feature rows for 2 images/);
    images.dispose();
  });

  it('tensorToRows reads [N, D] as float64 rows', async () => {
    const t = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const rows = await tensorToRows(t);
    expect(rows.map((r) => Array.from(r))).toEqual([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    expect(rows[0]).toBeInstanceOf(Float64Array);
    await expect(tensorToRows(tf.zeros([2]))).rejects.toThrow(/tensorToRows: t must be a \[N, D\] tensor/);
    t.dispose();
  });
});
