import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { batches, disposeBatch, epochLength, epochOrder, makeBatch, type Batch } from './batches.js';
import type { Dataset, ImageSpec, ModalityExample } from './dataset.js';
import { withRandomMasks } from './mask.js';
import { mnistDigits } from './mnist-digits.js';
import { dayNightPairs } from './scenes.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  await tf.ready();
});

/** A dataset whose label is the example's own index, so batches reveal which examples they hold. */
function indexed(n: number, h = 3, w = 3, c = 1): Dataset {
  const image: ImageSpec = { kind: 'image', shape: [h, w, c], dtype: 'uint8' };
  return {
    name: 'indexed',
    length: n,
    modalities: { image, label: { kind: 'label', numClasses: n } },
    get(i: number): Record<string, ModalityExample> {
      const data = Uint8Array.from({ length: h * w * c }, (_, k) => (i * 7 + k) % 256);
      return { image: { kind: 'image', shape: [h, w, c], data }, label: { kind: 'label', numClasses: n, value: i } };
    },
  };
}

/** Labels of every batch (disposing each), and the batches' sizes. */
function drain(iter: Iterable<Batch>): { labels: number[][] } {
  const labels: number[][] = [];
  for (const batch of iter) {
    labels.push(Array.from(batch['label']!.dataSync()));
    disposeBatch(batch);
  }
  return { labels };
}

describe('epochLength / epochOrder', () => {
  it('counts full batches with dropLast, and the partial one without', () => {
    expect(epochLength(23, { batchSize: 5 })).toBe(4);
    expect(epochLength(23, { batchSize: 5, dropLast: false })).toBe(5);
    expect(epochLength(indexed(20), { batchSize: 5 })).toBe(4);
    expect(epochLength(3, { batchSize: 5 })).toBe(0);
    expect(() => epochLength(3, { batchSize: 0 })).toThrow(/epochLength: batchSize must be an integer >= 1, got 0/);
  });

  it('is a seeded permutation per epoch (rng.fork(epoch)), or the identity without shuffle', () => {
    const a = epochOrder(50, { seed: 1, epoch: 0 });
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(epochOrder(50, { seed: 1, epoch: 0 })).toEqual(a);
    expect(epochOrder(50, { seed: 1, epoch: 1 })).not.toEqual(a);
    expect(epochOrder(50, { seed: 2, epoch: 0 })).not.toEqual(a);
    expect(Array.from(epochOrder(4, { seed: 1, epoch: 3, shuffle: false }))).toEqual([0, 1, 2, 3]);
    expect(() => epochOrder(4, { seed: 1, epoch: -1 })).toThrow(/epochOrder: epoch must be an integer >= 0, got -1/);
  });
});

describe('batches', () => {
  it('covers a permutation of the dataset in one epoch, dropping the incomplete last batch', () => {
    const { labels } = drain(batches(indexed(23), { batchSize: 5, seed: 4 }));
    expect(labels.map((l) => l.length)).toEqual([5, 5, 5, 5]);
    const seen = labels.flat();
    expect(new Set(seen).size).toBe(20);
    expect(seen).toEqual(Array.from(epochOrder(23, { seed: 4, epoch: 0 }).subarray(0, 20)));
    const all = drain(batches(indexed(23), { batchSize: 5, seed: 4, dropLast: false })).labels;
    expect(all.map((l) => l.length)).toEqual([5, 5, 5, 5, 3]);
    expect(all.flat().sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
  });

  it('repeats the order for the same seed, changes it per epoch and seed, and resumes at an epoch', () => {
    const ds = indexed(30);
    const run = drain(batches(ds, { batchSize: 10, seed: 9, epochs: 2 })).labels;
    expect(run).toHaveLength(6);
    expect(drain(batches(ds, { batchSize: 10, seed: 9, epochs: 2 })).labels).toEqual(run);
    expect(run.slice(3).flat()).not.toEqual(run.slice(0, 3).flat());
    expect(drain(batches(ds, { batchSize: 10, seed: 9, epoch: 1 })).labels).toEqual(run.slice(3));
    expect(drain(batches(ds, { batchSize: 10, seed: 10 })).labels).not.toEqual(run.slice(0, 3));
    expect(drain(batches(ds, { batchSize: 10, seed: 9, shuffle: false })).labels.flat()).toEqual(
      Array.from({ length: 30 }, (_, i) => i),
    );
  });

  it('streams for ever with epochs: Infinity', () => {
    const iter = batches(indexed(4), { batchSize: 4, seed: 1, epochs: Number.POSITIVE_INFINITY });
    for (let k = 0; k < 7; k++) {
      const { value, done } = iter.next();
      expect(done).toBe(false);
      disposeBatch(value as Batch);
    }
    iter.return();
  });

  it('scales uint8 exactly to [-1, 1] and [0, 1] (float64 reference rounded once to float32)', () => {
    const values = Uint8Array.from({ length: 256 }, (_, u) => u);
    const ds: Dataset = {
      name: 'ramp',
      length: 1,
      modalities: { image: { kind: 'image', shape: [16, 16, 1], dtype: 'uint8' } },
      get: () => ({ image: { kind: 'image', shape: [16, 16, 1], data: values } }),
    };
    const sym = makeBatch(ds, [0]);
    expect(sym['image']!.dtype).toBe('float32');
    expect(sym['image']!.shape).toEqual([1, 16, 16, 1]);
    const s = sym['image']!.dataSync();
    for (let u = 0; u < 256; u++) expect(s[u]).toBe(Math.fround((2 * u) / 255 - 1));
    expect(s[0]).toBe(-1);
    expect(s[255]).toBe(1);
    const unit = makeBatch(ds, [0], { scale: '[0,1]' });
    const v = unit['image']!.dataSync();
    for (let u = 0; u < 256; u++) expect(v[u]).toBe(Math.fround(u / 255));
    expect(v[255]).toBe(1);
    disposeBatch(sym);
    disposeBatch(unit);
  });

  it('scales float32 images in [0, 1] by 2v - 1', () => {
    const data = Float32Array.from([0, 0.25, 0.5, 1]);
    const ds: Dataset = {
      name: 'f32',
      length: 1,
      modalities: { image: { kind: 'image', shape: [2, 2, 1], dtype: 'float32' } },
      get: () => ({ image: { kind: 'image', shape: [2, 2, 1], data } }),
    };
    const batch = makeBatch(ds, [0]);
    expect(Array.from(batch['image']!.dataSync())).toEqual([-1, -0.5, 0, 1]);
    disposeBatch(batch);
  });

  it('pads 28 -> 32 centred with black (-1), keeping the image exact inside', () => {
    const ds: Dataset = {
      name: 'white',
      length: 2,
      modalities: { image: { kind: 'image', shape: [28, 28, 1], dtype: 'uint8' } },
      get: (i) => ({ image: { kind: 'image', shape: [28, 28, 1], data: new Uint8Array(784).fill(i === 0 ? 255 : 51) } }),
    };
    for (const [scale, black] of [
      ['[-1,1]', -1],
      ['[0,1]', 0],
    ] as const) {
      const batch = makeBatch(ds, [0, 1], { padTo: 32, scale });
      expect(batch['image']!.shape).toEqual([2, 32, 32, 1]);
      const d = batch['image']!.dataSync();
      for (let n = 0; n < 2; n++) {
        const inside = Math.fround(scale === '[-1,1]' ? ((n === 0 ? 255 : 51) * 2) / 255 - 1 : (n === 0 ? 255 : 51) / 255);
        for (let y = 0; y < 32; y++) {
          for (let x = 0; x < 32; x++) {
            const expected = y >= 2 && y < 30 && x >= 2 && x < 30 ? inside : black;
            if (d[n * 1024 + y * 32 + x] !== expected) throw new Error(`pixel ${n},${y},${x} = ${d[n * 1024 + y * 32 + x]}`);
          }
        }
      }
      disposeBatch(batch);
    }
  });

  it('pads odd margins top-left first, segmentation with class 0 and masks with 1; labels as int32 and one-hot', () => {
    const ds: Dataset = {
      name: 'mixed',
      length: 1,
      modalities: {
        image: { kind: 'image', shape: [1, 2, 3], dtype: 'uint8' },
        seg: { kind: 'segmentation', shape: [1, 2], numClasses: 4 },
        mask: { kind: 'mask', shape: [1, 2] },
        label: { kind: 'label', numClasses: 3 },
      },
      get: () => ({
        image: { kind: 'image', shape: [1, 2, 3], data: Uint8Array.from([255, 255, 255, 0, 255, 0]) },
        seg: { kind: 'segmentation', shape: [1, 2], numClasses: 4, data: Int32Array.from([3, 2]) },
        mask: { kind: 'mask', shape: [1, 2], data: Uint8Array.from([0, 1]) },
        label: { kind: 'label', numClasses: 3, value: 2 },
      }),
    };
    const batch = makeBatch(ds, [0], { padTo: 4, oneHot: true });
    expect(Object.keys(batch).sort()).toEqual(['image', 'label', 'labelOneHot', 'mask', 'seg']);
    // 1x2 in 4x4: top = floor(3/2) = 1, left = 1.
    expect(batch['seg']!.dtype).toBe('int32');
    expect(batch['seg']!.shape).toEqual([1, 4, 4]);
    expect(Array.from(batch['seg']!.dataSync())).toEqual([0, 0, 0, 0, 0, 3, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    expect(batch['mask']!.shape).toEqual([1, 4, 4, 1]);
    expect(Array.from(batch['mask']!.dataSync())).toEqual([1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const img = batch['image']!.dataSync();
    expect(batch['image']!.shape).toEqual([1, 4, 4, 3]);
    expect(Array.from(img.slice(15, 21))).toEqual([1, 1, 1, -1, 1, -1]);
    expect(img.filter((v) => v === -1).length).toBe(14 * 3 + 2);
    expect(batch['label']!.dtype).toBe('int32');
    expect(Array.from(batch['label']!.dataSync())).toEqual([2]);
    expect(Array.from(batch['labelOneHot']!.dataSync())).toEqual([0, 0, 1]);
    disposeBatch(batch);
  });

  it('batches the synthetic pairs with masks and only the requested modalities', () => {
    const ds = withRandomMasks(dayNightPairs({ count: 8, size: 16, numClasses: 5, seed: 1 }), { k: 2, seed: 3, image: 'day' });
    const [batch] = [...batches(ds, { batchSize: 8, seed: 0, shuffle: false, modalities: ['night', 'segmentation', 'mask'] })];
    expect(Object.keys(batch!).sort()).toEqual(['mask', 'night', 'segmentation']);
    expect(batch!['night']!.shape).toEqual([8, 16, 16, 3]);
    const seg = batch!['segmentation']!.dataSync();
    const expected = ds.get(5)['segmentation']!;
    expect(Array.from(seg.slice(5 * 256, 6 * 256))).toEqual(Array.from((expected as { data: Uint8Array }).data));
    disposeBatch(batch!);
  });

  it('leaks no tensor, and holds only the current batch in memory while streaming', async () => {
    const ds = await mnistDigits({ split: 'train', seed: 0 });
    await expectNoLeak(() => {
      const before = tf.memory();
      let count = 0;
      for (const batch of batches(ds, { batchSize: 500, seed: 1, padTo: 32, oneHot: true })) {
        const now = tf.memory();
        expect(now.numTensors - before.numTensors).toBe(3);
        // One batch: 500 x 32 x 32 float32 images + int32 labels + 500 x 10 float32 one-hot.
        expect(now.numBytes - before.numBytes).toBe(500 * 1024 * 4 + 500 * 4 + 500 * 10 * 4);
        disposeBatch(batch);
        count++;
      }
      expect(count).toBe(epochLength(ds, { batchSize: 500 }));
    }, 'a streamed epoch');
    await expectNoLeak(() => {
      // Stopping early leaves nothing behind either once the yielded batch is disposed.
      for (const batch of batches(ds, { batchSize: 64, seed: 1 })) {
        disposeBatch(batch);
        break;
      }
    }, 'an interrupted epoch');
  });

  it('rejects bad options at the call, and bad examples before making any tensor', async () => {
    const ds = indexed(10);
    expect(() => batches(ds, { batchSize: 0, seed: 1 })).toThrow(/batches: batchSize must be an integer >= 1, got 0/);
    expect(() => batches(ds, { batchSize: 20, seed: 1 })).toThrow(
      /batches: indexed has 10 examples, too few for one batch of 20 with dropLast/,
    );
    expect(() => batches(ds, { batchSize: 2, seed: 1, padTo: 2 })).toThrow(/padTo must be >= the image size 3x3, got 2/);
    expect(() => batches(ds, { batchSize: 2, seed: 1, modalities: ['depth'] })).toThrow(
      /modalities must name modalities of indexed \(image, label\), got depth/,
    );
    expect(() => batches(ds, { batchSize: 2, seed: 1, scale: '[0,255]' as '[0,1]' })).toThrow(/scale must be/);
    expect(() => batches(ds, { batchSize: 2, seed: 1.5 })).toThrow(/seed must be a safe integer, got 1.5/);
    expect(() => batches(ds, { batchSize: 2, seed: 1, epochs: 0 })).toThrow(/epochs must be an integer >= 1, got 0/);
    const broken: Dataset = {
      ...ds,
      name: 'broken',
      get: (i) => ({ ...ds.get(i), label: { kind: 'label', numClasses: 10, value: i === 3 ? 12 : i } }),
    };
    await expectNoLeak(() => {
      expect(() => makeBatch(broken, [1, 3])).toThrow(/makeBatch: broken\.get\(3\)\.label must be a label in 0\.\.9, got 12/);
    });
    const short: Dataset = { ...ds, name: 'short', get: () => ({ image: { kind: 'image', shape: [3, 3, 1], data: new Uint8Array(4) } }) };
    expect(() => makeBatch(short, [0], { modalities: ['image'] })).toThrow(
      /short\.get\(0\)\.image must be image data of 3\*3\*1 values, got image of 4 values/,
    );
    expect(() => makeBatch(ds, [])).toThrow(/indices must not be empty/);
  });
});
