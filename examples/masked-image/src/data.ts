import { randomPatchMask } from '@mtd/datasets';
import type { Rng } from '@mtd/random';

/** Masks of one batch: `keep` (1 kept, 0 masked) and the masked images (masked pixels = -1, the "zero pixel value"). */
export interface MaskedBatch {
  readonly keep: Float32Array;
  readonly masked: Float32Array;
}

/**
 * Mask-k (paper 4.1): `k` square patches, uniformly placed, overlapping freely, set to a zero
 * pixel value, i.e. black, -1 in the models' range. One mask per image, drawn from `rng`.
 */
export function maskImages(images: Float32Array, n: number, size: number, k: number, patchSize: number, rng: Rng): MaskedBatch {
  if (images.length !== n * size * size) throw new RangeError(`maskImages: images must have n * size * size = ${n * size * size} values, got ${images.length}`);
  const keep = new Float32Array(images.length);
  const masked = new Float32Array(images.length);
  for (let i = 0; i < n; i++) {
    const mask = randomPatchMask({ size, k, patchSize, rng });
    for (let p = 0; p < size * size; p++) {
      const j = i * size * size + p;
      keep[j] = mask[p]!;
      masked[j] = mask[p] === 1 ? images[j]! : -1;
    }
  }
  return { keep, masked };
}
