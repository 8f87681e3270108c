import { createRng } from '@mtd/random';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ImageExample, MaskExample } from './dataset.js';
import { applyMask, defaultPatchSize, randomPatchMask, withRandomMasks } from './mask.js';
import { shapesScenes } from './scenes.js';

describe('randomPatchMask (Mask-k)', () => {
  it('holds only 0/1, masks between p^2 and k p^2 pixels, and is the union of k in-image squares (property, 200 runs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 25 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 0, max: 2 ** 40 }),
        (size, k, patchFrac, seed) => {
          const patch = 1 + Math.floor(patchFrac * size);
          const mask = randomPatchMask({ size, k, patchSize: patch, rng: createRng(seed) });
          expect(mask.length).toBe(size * size);
          let zeros = 0;
          for (const v of mask) {
            if (v !== 0 && v !== 1) throw new Error(`mask value ${v}`);
            if (v === 0) zeros++;
          }
          if (k === 0) expect(zeros).toBe(0);
          else {
            expect(zeros).toBeGreaterThanOrEqual(Math.min(patch * patch, size * size));
            expect(zeros).toBeLessThanOrEqual(k * patch * patch);
          }
          // Reference: replay the 2k draws and test each pixel against each square.
          const rng = createRng(seed);
          const squares = Array.from({ length: k }, () => [rng.int(size - patch + 1), rng.int(size - patch + 1)] as const);
          for (let y = 0; y < size; y++) {
            for (let x = 0; x < size; x++) {
              const covered = squares.some(([t, l]) => y >= t && y < t + patch && x >= l && x < l + patch);
              if (mask[y * size + x] !== (covered ? 0 : 1)) throw new Error(`pixel ${y},${x} disagrees`);
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('places a patch uniformly over the in-image positions', () => {
    // size 8, patch 4: 5 x 5 top-left positions, 10,000 draws, 400 expected each (sd ~ 20).
    const counts = new Array<number>(25).fill(0);
    const rng = createRng(99);
    for (let n = 0; n < 10_000; n++) {
      const mask = randomPatchMask({ size: 8, k: 1, patchSize: 4, rng });
      const first = mask.indexOf(0);
      counts[Math.floor(first / 8) * 5 + (first % 8)]!++;
    }
    for (const c of counts) expect(Math.abs(c - 400)).toBeLessThan(100);
  });

  it('is reproducible from a seed and differs across seeds', () => {
    const a = randomPatchMask({ size: 32, k: 10, rng: createRng(1) });
    expect(randomPatchMask({ size: 32, k: 10, rng: createRng(1) })).toEqual(a);
    expect(randomPatchMask({ size: 32, k: 10, rng: createRng(2) })).not.toEqual(a);
  });

  it('defaults the patch side to a quarter of the image side', () => {
    expect([32, 28, 64, 6, 2, 1].map(defaultPatchSize)).toEqual([8, 7, 16, 2, 1, 1]);
    // With one default patch on a 32 px image exactly 64 pixels are masked.
    const mask = randomPatchMask({ size: 32, k: 1, rng: createRng(3) });
    expect(mask.filter((v) => v === 0).length).toBe(64);
  });

  it('rejects bad options naming them', () => {
    const rng = createRng(0);
    expect(() => randomPatchMask({ size: 0, k: 1, rng })).toThrow(/randomPatchMask: size must be an integer >= 1, got 0/);
    expect(() => randomPatchMask({ size: 8, k: -1, rng })).toThrow(/k must be an integer >= 0, got -1/);
    expect(() => randomPatchMask({ size: 8, k: 1, patchSize: 9, rng })).toThrow(/patchSize must be an integer in 1\.\.8, got 9/);
    expect(() => randomPatchMask({ size: 8, k: 1, patchSize: 2.5, rng })).toThrow(/patchSize must be an integer/);
    expect(() => randomPatchMask({ size: 8, k: 1 } as never)).toThrow(/rng must be an Rng/);
  });
});

describe('applyMask', () => {
  const image: ImageExample = { kind: 'image', shape: [2, 2, 3], data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]) };

  it('fills every channel of masked pixels and leaves the rest and the input unchanged', () => {
    const out = applyMask(image, Uint8Array.from([1, 0, 0, 1]));
    expect(Array.from(out.data)).toEqual([1, 2, 3, 0, 0, 0, 0, 0, 0, 10, 11, 12]);
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(Array.from(image.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    const grey: ImageExample = { kind: 'image', shape: [1, 2, 1], data: Float32Array.from([0.25, 0.75]) };
    const mask: MaskExample = { kind: 'mask', shape: [1, 2], data: Uint8Array.from([0, 1]) };
    expect(Array.from(applyMask(grey, mask, 0.5).data)).toEqual([0.5, 0.75]);
  });

  it('rejects a mask of the wrong shape', () => {
    expect(() => applyMask(image, Uint8Array.from([1, 0, 1]))).toThrow(/applyMask: mask must have 2\*2 = 4 values, got 3/);
    const wrong: MaskExample = { kind: 'mask', shape: [4, 1], data: new Uint8Array(4) };
    expect(() => applyMask(image, wrong)).toThrow(/mask shape must be \[2, 2\] like the image, got \[4, 1\]/);
    expect(() => applyMask(image, new Uint8Array(4), Number.NaN)).toThrow(/fill must be a finite number/);
  });
});

describe('withRandomMasks', () => {
  const scenes = shapesScenes({ count: 5, size: 16, numClasses: 4, seed: 2 });
  const masked = withRandomMasks(scenes, { k: 3, seed: 10 });

  it('adds a fixed Mask-k mask and the masked image per example', () => {
    expect(Object.keys(masked.modalities)).toEqual(['image', 'segmentation', 'mask', 'masked']);
    expect(masked.modalities['mask']).toEqual({ kind: 'mask', shape: [16, 16] });
    for (let i = 0; i < masked.length; i++) {
      const ex = masked.get(i);
      const mask = (ex['mask'] as MaskExample).data;
      const img = (ex['image'] as ImageExample).data;
      const out = (ex['masked'] as ImageExample).data;
      const zeros = mask.filter((v) => v === 0).length;
      expect(zeros).toBeGreaterThanOrEqual(16);
      expect(zeros).toBeLessThanOrEqual(3 * 16);
      for (let p = 0; p < 256; p++) {
        for (let c = 0; c < 3; c++) expect(out[3 * p + c]).toBe(mask[p] === 1 ? img[3 * p + c] : 0);
      }
      expect((masked.get(i)['mask'] as MaskExample).data).toEqual(mask);
    }
    const other = withRandomMasks(scenes, { k: 3, seed: 11 });
    expect((other.get(0)['mask'] as MaskExample).data).not.toEqual((masked.get(0)['mask'] as MaskExample).data);
  });

  it('rejects bad options', () => {
    expect(() => withRandomMasks(scenes, { k: 3, seed: 1, image: 'segmentation' })).toThrow(
      /withRandomMasks: image must name an image modality of .*, got segmentation/,
    );
    expect(() => withRandomMasks(scenes, { k: 3, seed: 1, maskKey: 'segmentation' })).toThrow(
      /already has a modality named segmentation/,
    );
    expect(() => withRandomMasks(scenes, { k: 3, seed: 1, patchSize: 17 })).toThrow(/patchSize must be an integer in 1\.\.16/);
    expect(() => withRandomMasks(scenes, { k: 3, seed: 0.5 })).toThrow(/seed must be a safe integer, got 0.5/);
  });
});
