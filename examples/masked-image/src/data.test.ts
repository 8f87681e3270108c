import { describe, expect, it } from 'vitest';
import type { Dataset } from '@mtd/datasets';
import { createRng } from '@mtd/random';
import { loadImages, maskImages } from './data.js';

/** A 4x4 grey dataset whose example i has pixel value (i * 16 + p) * 3 at pixel p. */
const fake: Dataset = {
  name: 'fake',
  length: 3,
  modalities: { image: { kind: 'image', shape: [4, 4, 1] } } as unknown as Dataset['modalities'],
  get: (i: number) => ({ image: { kind: 'image', shape: [4, 4, 1], data: Uint8Array.from({ length: 16 }, (_, p) => (i * 16 + p) * 3) } }),
};

describe('loadImages', () => {
  it('area-downsamples to [-1, 1]: each output pixel is the mean of its 2x2 block', () => {
    const set = loadImages(fake, 'fake', 2, 2);
    expect(set.n).toBe(2);
    // Example 1, output pixel (0, 0): inputs p = 0, 1, 4, 5 -> bytes 48, 51, 60, 63, mean 55.5.
    expect(set.data[4]).toBeCloseTo((2 * 55.5) / 255 - 1, 6);
    // Example 0, output pixel (1, 1): p = 10, 11, 14, 15 -> mean 37.5.
    expect(set.data[3]).toBeCloseTo((2 * 37.5) / 255 - 1, 6);
  });
  it('pads larger sizes with black, centred, and keeps the pixels exactly', () => {
    const set = loadImages(fake, 'fake', 1, 6);
    expect(set.data[0]).toBe(-1);
    expect(set.data[1 * 6 + 1]).toBeCloseTo(-1, 7); // p = 0, byte 0
    expect(set.data[4 * 6 + 4]).toBeCloseTo((2 * 45) / 255 - 1, 6); // p = 15
    expect(set.data[5 * 6 + 5]).toBe(-1);
  });
  it('names the bad argument', () => {
    expect(() => loadImages(fake, 'fake', 0, 2)).toThrow(/loadImages: n must be an integer >= 1, got 0/);
  });
});

describe('maskImages', () => {
  it('sets masked pixels to -1 (zero pixel value) and keeps the rest exactly', () => {
    const n = 5;
    const size = 8;
    const rng = createRng(7);
    const images = Float32Array.from({ length: n * size * size }, () => rng.uniform() * 2 - 1);
    const { keep, masked } = maskImages(images, n, size, 3, 2, createRng(1));
    let maskedCount = 0;
    for (let j = 0; j < images.length; j++) {
      expect(keep[j] === 0 || keep[j] === 1).toBe(true);
      if (keep[j] === 1) expect(masked[j]).toBe(images[j]);
      else {
        expect(masked[j]).toBe(-1);
        maskedCount++;
      }
    }
    // Each image has 1..3 overlapping 2x2 patches: 4..12 masked pixels.
    expect(maskedCount).toBeGreaterThanOrEqual(4 * n);
    expect(maskedCount).toBeLessThanOrEqual(12 * n);
    // Seeded.
    expect(Array.from(maskImages(images, n, size, 3, 2, createRng(1)).keep)).toEqual(Array.from(keep));
  });
  it('names the bad argument', () => {
    expect(() => maskImages(new Float32Array(3), 1, 2, 1, 1, createRng(0))).toThrow(/maskImages: images must have n \* size \* size = 4 values, got 3/);
  });
});
