import { describe, expect, it } from 'vitest';
import { createRng } from '@mtd/random';
import { maskImages } from './data.js';

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
