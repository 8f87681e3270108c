import { createRng, type Rng } from '@mtd/random';
import {
  checkIndex,
  checkInt,
  type Dataset,
  type ImageExample,
  type ImageSpec,
  type MaskExample,
  type MaskSpec,
} from './dataset.js';

/**
 * "Mask-k" random-patch masks of the masked-image training task (paper section 4.1 and E.2;
 * EXPERIMENTS.md E2): `k` square patches of zeros, each placed uniformly, overlapping freely.
 *
 * The paper samples "a coordinate within the image" per patch without saying whether a patch may
 * run past the border. Here each patch lies fully inside the image (its top-left corner is uniform
 * over the `(size - patchSize + 1)^2` positions), so every patch masks exactly `patchSize^2`
 * pixels and the masked area is between `patchSize^2` and `k * patchSize^2`.
 */

/** The default patch side: a quarter of the image side, rounded (8 px at 32, 7 px at 28), at least 1. */
export function defaultPatchSize(size: number): number {
  checkInt('defaultPatchSize', 'size', size, 1);
  return Math.max(1, Math.round(size / 4));
}

export interface RandomPatchMaskOptions {
  /** Image side; the mask is `size x size`. */
  size: number;
  /** Number of patches (k >= 0; Mask-0 keeps everything). */
  k: number;
  /** Patch side in 1..size; `defaultPatchSize(size)` when left out. */
  patchSize?: number;
  /** Source of the placements; draws exactly 2k integers from it. */
  rng: Rng;
}

/** A `size x size` mask, row-major: 1 keeps a pixel, 0 masks it. */
export function randomPatchMask(options: RandomPatchMaskOptions): Uint8Array {
  const where = 'randomPatchMask';
  const { size, k, rng } = options ?? ({} as RandomPatchMaskOptions);
  checkInt(where, 'size', size, 1);
  checkInt(where, 'k', k, 0);
  const patch = options.patchSize ?? defaultPatchSize(size);
  if (!Number.isInteger(patch) || patch < 1 || patch > size) {
    throw new RangeError(`${where}: patchSize must be an integer in 1..${size}, got ${String(patch)}`);
  }
  if (rng === undefined || typeof rng.int !== 'function') {
    throw new TypeError(`${where}: rng must be an Rng from @mtd/random, got ${String(rng)}`);
  }
  const mask = new Uint8Array(size * size).fill(1);
  const positions = size - patch + 1;
  for (let n = 0; n < k; n++) {
    const top = rng.int(positions);
    const left = rng.int(positions);
    for (let y = top; y < top + patch; y++) mask.fill(0, y * size + left, y * size + left + patch);
  }
  return mask;
}

/**
 * A copy of `image` with every channel of each masked pixel (mask 0) set to `fill`, in the image's
 * own units. The default 0 is black, which the batcher's '[-1,1]' scaling maps to -1; for a zero in
 * [-1, 1] space use a float32 image and fill 0.5.
 */
export function applyMask(image: ImageExample, mask: MaskExample | Uint8Array, fill = 0): ImageExample {
  const where = 'applyMask';
  const [h, w, c] = image.shape;
  const maskData = mask instanceof Uint8Array ? mask : mask.data;
  if (!(mask instanceof Uint8Array) && (mask.shape[0] !== h || mask.shape[1] !== w)) {
    throw new RangeError(`${where}: mask shape must be [${h}, ${w}] like the image, got [${mask.shape.join(', ')}]`);
  }
  if (maskData.length !== h * w) {
    throw new RangeError(`${where}: mask must have ${h}*${w} = ${h * w} values, got ${maskData.length}`);
  }
  if (typeof fill !== 'number' || !Number.isFinite(fill)) throw new RangeError(`${where}: fill must be a finite number, got ${String(fill)}`);
  const data = image.data.slice();
  for (let p = 0; p < h * w; p++) {
    if (maskData[p] === 0) data.fill(fill, p * c, (p + 1) * c);
  }
  return { kind: 'image', shape: image.shape, data };
}

export interface WithRandomMasksOptions {
  /** Number of patches per mask. */
  k: number;
  /** Patch side; `defaultPatchSize` of the image height when left out. */
  patchSize?: number;
  /** Mask `i` comes from `seed` and `i` alone; pass a new seed (e.g. seed + epoch) for fresh masks. */
  seed: number;
  /** The square image modality to mask; `'image'` by default. */
  image?: string;
  /** Name of the added mask modality; `'mask'` by default. */
  maskKey?: string;
  /** Name of the added masked-image modality; `'masked'` by default. */
  maskedKey?: string;
  /** Value written into masked pixels, in the image's units; 0 (black) by default. */
  fill?: number;
}

/**
 * `dataset` plus two modalities: a Mask-k mask (`maskKey`) and the masked copy of the image
 * (`maskedKey`), each fixed per index (so an evaluation set is the same on every run).
 */
export function withRandomMasks(dataset: Dataset, options: WithRandomMasksOptions): Dataset {
  const where = 'withRandomMasks';
  const { k, seed, image = 'image', maskKey = 'mask', maskedKey = 'masked', fill = 0 } = options;
  const spec = dataset.modalities[image];
  if (spec === undefined || spec.kind !== 'image') {
    throw new RangeError(`${where}: image must name an image modality of ${dataset.name}, got ${image}`);
  }
  const [h, w] = spec.shape;
  if (h !== w) throw new RangeError(`${where}: the ${image} modality must be square, got ${h}x${w}`);
  for (const key of [maskKey, maskedKey]) {
    if (key in dataset.modalities || key === image) throw new RangeError(`${where}: ${dataset.name} already has a modality named ${key}`);
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  const patchSize = options.patchSize ?? defaultPatchSize(h);
  // Validate k and patchSize once, up front.
  randomPatchMask({ size: h, k, patchSize, rng: createRng(0) });
  const root = createRng(seed).fork('mask-k');
  const maskShape = Object.freeze([h, w] as const);
  const maskSpec: MaskSpec = { kind: 'mask', shape: maskShape };
  const maskedSpec: ImageSpec = spec;
  const name = `${dataset.name}+mask${k}`;
  return {
    name,
    length: dataset.length,
    modalities: Object.freeze({ ...dataset.modalities, [maskKey]: maskSpec, [maskedKey]: maskedSpec }),
    get(i: number) {
      checkIndex(`${name}.get`, i, dataset.length);
      const example = dataset.get(i);
      const mask = randomPatchMask({ size: h, k, patchSize, rng: root.fork(i) });
      const maskExample: MaskExample = { kind: 'mask', shape: maskShape, data: mask };
      return { ...example, [maskKey]: maskExample, [maskedKey]: applyMask(example[image] as ImageExample, mask, fill) };
    },
  };
}
