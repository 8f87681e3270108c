import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '@mtd/io';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Dataset, ImageExample, LabelExample } from './dataset.js';
import { FASHION_MNIST_CLASSES, FASHION_MNIST_DEFAULT_DIR, fashionMnist, idxImageDataset } from './fashion-mnist.js';

// Outside CI a machine without the Debian package skips the real-data tests (saying why); in CI
// they always run, so a broken install step fails loudly instead of hiding.
const realDir = process.env['MTD_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DEFAULT_DIR;
const haveRealData = existsSync(join(realDir, 'train-images-idx3-ubyte.gz'));
const skipReal = !haveRealData && process.env['CI'] !== 'true';
if (skipReal) console.warn(`skipping the Fashion-MNIST file tests: no files in ${realDir} (apt-get install -y dataset-fashion-mnist)`);
import { encodeIdx } from './idx.js';

describe.skipIf(skipReal)('fashionMnist on the installed files (apt-get install dataset-fashion-mnist)', () => {
  let train: Dataset;
  let test: Dataset;
  beforeAll(async () => {
    [train, test] = await Promise.all([fashionMnist({ split: 'train' }), fashionMnist({ split: 'test' })]);
  }, 30_000);

  it('has 60,000 train and 10,000 test 28x28x1 uint8 images with 10 named classes', () => {
    expect(train.length).toBe(60_000);
    expect(test.length).toBe(10_000);
    expect(train.name).toBe('fashion-mnist/train');
    expect(train.modalities['image']).toEqual({ kind: 'image', shape: [28, 28, 1], dtype: 'uint8' });
    expect(train.modalities['label']).toMatchObject({ kind: 'label', numClasses: 10 });
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    const first = train.get(0);
    const image = first['image'] as ImageExample;
    expect(image.shape).toEqual([28, 28, 1]);
    expect(image.data).toBeInstanceOf(Uint8Array);
    expect(image.data.length).toBe(784);
  });

  it('has the known first labels and exactly 6,000 / 1,000 examples per class', () => {
    // The first train labels are 9, 0, 0, 3 and the first test labels 9, 2, 1, 1 (see the IDX bytes).
    expect([0, 1, 2, 3].map((i) => (train.get(i)['label'] as LabelExample).value)).toEqual([9, 0, 0, 3]);
    expect([0, 1, 2, 3].map((i) => (test.get(i)['label'] as LabelExample).value)).toEqual([9, 2, 1, 1]);
    for (const [ds, perClass] of [
      [train, 6000],
      [test, 1000],
    ] as const) {
      const counts = new Array<number>(11).fill(0);
      for (let i = 0; i < ds.length; i++) {
        const v = (ds.get(i)['label'] as LabelExample).value;
        // Anything but an integer 0..9 lands in the extra 11th bin, which must stay empty.
        counts[Number.isInteger(v) && v >= 0 && v <= 9 ? v : 10]!++;
      }
      expect(counts).toEqual([...new Array(10).fill(perClass), 0]);
    }
  });

  it('uses the full 0..255 range and returns distinct images per index', () => {
    let lo = 255;
    let hi = 0;
    for (let i = 0; i < 100; i++) {
      for (const v of (test.get(i)['image'] as ImageExample).data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    expect(lo).toBe(0);
    expect(hi).toBe(255);
    const a = (test.get(0)['image'] as ImageExample).data;
    const b = (test.get(1)['image'] as ImageExample).data;
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
  });

  it("matches the published train pixel statistics (mean 0.2860, std 0.3530 of value / 255)", () => {
    let sum = 0;
    let sq = 0;
    for (let i = 0; i < train.length; i++) {
      for (const v of (train.get(i)['image'] as ImageExample).data) {
        sum += v;
        sq += v * v;
      }
    }
    const n = train.length * 784;
    const mean = sum / n / 255;
    const std = Math.sqrt(sq / n / (255 * 255) - mean * mean);
    expect(mean).toBeCloseTo(0.286, 3);
    expect(std).toBeCloseTo(0.353, 3);
  });

  it('rejects an out-of-range index and a bad split', async () => {
    expect(() => test.get(10_000)).toThrow(/fashion-mnist\/test\.get: i must be an integer in 0\.\.9999, got 10000/);
    expect(() => test.get(-1)).toThrow(RangeError);
    await expect(fashionMnist({ split: 'validation' as 'train' })).rejects.toThrow(
      /fashionMnist: split must be 'train' or 'test', got validation/,
    );
  });
});

describe('fashionMnist / idxImageDataset on files the test writes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtd-fmnist-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const write = async (name: string, bytes: Uint8Array, gz = true) => {
    const path = join(dir, name);
    await writeFileAtomic(path, gz ? gzipSync(bytes) : bytes);
    return path;
  };
  const pixels = (n: number, h = 28, w = 28) => Array.from({ length: n * h * w }, (_, k) => k % 256);

  it('loads a small well-formed split from a custom dir, gzip or plain', async () => {
    const sub = mkdtempSync(join(dir, 'ok-'));
    await writeFileAtomic(join(sub, 't10k-images-idx3-ubyte'), encodeIdx('uint8', [3, 28, 28], pixels(3)));
    await writeFileAtomic(join(sub, 't10k-labels-idx1-ubyte.gz'), gzipSync(encodeIdx('uint8', [3], [4, 0, 9])));
    const ds = await fashionMnist({ split: 'test', dir: sub });
    expect(ds.length).toBe(3);
    expect((ds.get(2)['label'] as LabelExample).value).toBe(9);
    const img = (ds.get(1)['image'] as ImageExample).data;
    expect(img[0]).toBe(784 % 256);
    expect(img[783]).toBe((2 * 784 - 1) % 256);
  });

  it('names the apt package and the folder when the files are missing', async () => {
    const empty = mkdtempSync(join(dir, 'empty-'));
    const err = (await fashionMnist({ split: 'train', dir: empty }).then(
      () => undefined,
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(Error);
    expect(err.message).toContain(empty);
    expect(err.message).toContain('dataset-fashion-mnist');
    expect(err.message).toContain('apt-get install');
    expect(err.message).toMatch(/missing train-images-idx3-ubyte\.gz, train-labels-idx1-ubyte\.gz/);
  });

  it('rejects swapped files (bad magic), truncated data and mismatched counts', async () => {
    const images = await write('img.gz', encodeIdx('uint8', [2, 28, 28], pixels(2)));
    const labels = await write('lab.gz', encodeIdx('uint8', [2], [1, 2]));
    const base = { name: 't', numClasses: 10, imageSize: [28, 28] as const };
    // One bad file at a time: both files are read at once, so with both swapped either error may win.
    await expect(idxImageDataset({ ...base, imagesPath: labels, labelsPath: labels })).rejects.toThrow(
      /magic number must be 2051 \(0x00000803\), got 2049/,
    );
    await expect(idxImageDataset({ ...base, imagesPath: images, labelsPath: images })).rejects.toThrow(
      /magic number must be 2049 \(0x00000801\), got 2051/,
    );
    const full = encodeIdx('uint8', [2, 28, 28], pixels(2));
    const cut = await write('cut.gz', full.subarray(0, full.length - 100));
    await expect(idxImageDataset({ ...base, imagesPath: cut, labelsPath: labels })).rejects.toThrow(
      /cut\.gz\): truncated data: dims \[2, 28, 28\] of uint8 need 1568 bytes .* got 1468/,
    );
    const three = await write('three.gz', encodeIdx('uint8', [3], [1, 2, 3]));
    await expect(idxImageDataset({ ...base, imagesPath: images, labelsPath: three })).rejects.toThrow(
      /the image and label counts must match, got 2 images in .*img\.gz and 3 labels in .*three\.gz/,
    );
    const small = await write('small.gz', encodeIdx('uint8', [2, 27, 28], pixels(2, 27, 28)));
    await expect(idxImageDataset({ ...base, imagesPath: small, labelsPath: labels })).rejects.toThrow(
      /images in .*small\.gz must be 28x28, got 27x28/,
    );
    const badLabel = await write('bad-label.gz', encodeIdx('uint8', [2], [1, 10]));
    await expect(idxImageDataset({ ...base, imagesPath: images, labelsPath: badLabel })).rejects.toThrow(
      /labels in .*bad-label\.gz must be in 0\.\.9, got 10 at index 1/,
    );
  });
});
