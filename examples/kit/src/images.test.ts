import { describe, expect, it } from 'vitest';
import type { Dataset } from '@mtd/datasets';
import { loadImages, loadLabels, shuffled } from './images.js';

/** A 4x4 grey dataset whose example i has pixel value (i * 16 + p) * 3 at pixel p. */
const fake: Dataset = {
  name: 'fake',
  length: 3,
  modalities: { image: { kind: 'image', shape: [4, 4, 1] } } as unknown as Dataset['modalities'],
  get: (i: number) => ({
    image: { kind: 'image', shape: [4, 4, 1], data: Uint8Array.from({ length: 16 }, (_, p) => (i * 16 + p) * 3) },
    label: { kind: 'label', numClasses: 10, value: (i * 7) % 10 },
  }),
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


describe('loadLabels', () => {
  it('reads the label modality of the first n examples, at most the dataset length', () => {
    expect(Array.from(loadLabels(fake, 5))).toEqual([0, 7, 4]);
    expect(Array.from(loadLabels(fake, 2))).toEqual([0, 7]);
  });
  it('names the bad argument and a dataset without labels', () => {
    expect(() => loadLabels(fake, 0)).toThrow(/loadLabels: n must be an integer >= 1, got 0/);
    const unlabelled: Dataset = { ...fake, get: (i: number) => ({ image: fake.get(i)['image']! }) };
    expect(() => loadLabels(unlabelled, 1)).toThrow(/loadLabels: dataset fake must hold a "label" modality/);
  });
});

describe('shuffled', () => {
  it('is a seeded permutation of the examples', () => {
    const a = shuffled(fake, 3);
    const b = shuffled(fake, 3);
    expect(a.length).toBe(3);
    const firstPixel = (d: Dataset) => Array.from({ length: d.length }, (_, i) => (d.get(i)['image'] as { data: Uint8Array }).data[0]);
    expect(firstPixel(a)).toEqual(firstPixel(b));
    expect([...firstPixel(a)].sort((x, y) => x! - y!)).toEqual([0, 48, 96]);
  });
});
