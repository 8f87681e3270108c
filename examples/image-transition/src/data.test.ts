import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SCENE_PALETTE, shapesScenes, type ImageExample } from '@mtd/datasets';
import { createRng } from '@mtd/random';
import { drawAligned, LABEL_ORDER, LABEL_PALETTE, loadDayNight, loadScenePairs, nearestColourClasses, paintLabels, sceneUnderLight, toSigned, type Rgb } from './data.js';

const dist = (a: Rgb, b: Rgb) => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);
const minPairwise = (palette: readonly Rgb[]) => {
  let m = Number.POSITIVE_INFINITY;
  for (let i = 0; i < palette.length; i++) for (let j = i + 1; j < palette.length; j++) m = Math.min(m, dist(palette[i]!, palette[j]!));
  return m;
};

/** A palette image in [-1, 1] of the given classes (the float64 reference of painting). */
function paintSigned(classes: ArrayLike<number>, palette: readonly Rgb[]): Float32Array {
  const out = new Float32Array(classes.length * 3);
  for (let p = 0; p < classes.length; p++) for (let c = 0; c < 3; c++) out[3 * p + c] = (2 * palette[classes[p]!]![c]!) / 255 - 1;
  return out;
}

describe('LABEL_PALETTE', () => {
  it('is a derangement of the scene palette: every class is painted with another class\'s scene colour', () => {
    expect([...LABEL_ORDER].sort((a, b) => a - b)).toEqual(Array.from({ length: SCENE_PALETTE.length }, (_, i) => i));
    LABEL_ORDER.forEach((k, c) => expect(k).not.toBe(c));
    LABEL_PALETTE.forEach((colour, c) => expect(colour).not.toEqual(SCENE_PALETTE[c]));
  });

  it('keeps the first K colours far apart (what nearest-colour decoding relies on)', () => {
    expect(minPairwise(LABEL_PALETTE.slice(0, 6))).toBeGreaterThan(170);
    expect(minPairwise(LABEL_PALETTE.slice(0, 8))).toBeGreaterThan(120);
    expect(minPairwise(LABEL_PALETTE)).toBeGreaterThan(50);
  });
});

describe('paintLabels', () => {
  it('paints class c with LABEL_PALETTE[c]', () => {
    const classes = Uint8Array.from([0, 1, 7, 15, 3]);
    const rgb = paintLabels(classes);
    classes.forEach((c, p) => expect(Array.from(rgb.subarray(3 * p, 3 * p + 3))).toEqual([...LABEL_PALETTE[c]!]));
  });

  it('names the bad argument', () => {
    expect(() => paintLabels(Uint8Array.from([0, 16]))).toThrow(/paintLabels: classMap\[1\] must be in 0\.\.15, got 16/);
    expect(() => paintLabels([0, 1] as unknown as Uint8Array)).toThrow(/paintLabels: classMap must be a Uint8Array, got an array of length 2/);
  });
});

describe('nearestColourClasses', () => {
  it('decodes a painted map exactly, and still under noise below half the palette spacing (property, 200 runs)', () => {
    const K = 8;
    const palette = LABEL_PALETTE.slice(0, K);
    // Per channel |noise| < r keeps the RGB error below r sqrt(3) < half the closest pair's distance.
    const r = (minPairwise(palette) / 2 / Math.sqrt(3)) * 0.99;
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 5 }), fc.integer({ min: 0, max: 2 ** 31 - 1 }), (n, size, seed) => {
        const rng = createRng(seed);
        const classes = Uint8Array.from({ length: n * size * size }, () => rng.int(K));
        const clean = paintSigned(classes, palette);
        expect(Array.from(nearestColourClasses(clean, n, size, palette))).toEqual(Array.from(classes));
        const noisy = clean.map((v) => v + ((2 * rng.uniform() - 1) * r) / 127.5);
        expect(Array.from(nearestColourClasses(noisy, n, size, palette))).toEqual(Array.from(classes));
      }),
      { numRuns: 200 },
    );
  });

  it('matches a brute-force float64 reference on random colours (property, 100 runs)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), (seed) => {
        const rng = createRng(seed);
        const palette = SCENE_PALETTE.slice(0, 1 + rng.int(16)) as Rgb[];
        const images = Float32Array.from({ length: 2 * 3 * 3 * 3 }, () => 2.4 * rng.uniform() - 1.2);
        const got = nearestColourClasses(images, 2, 3, palette);
        for (let p = 0; p < 18; p++) {
          const rgb = [0, 1, 2].map((c) => (images[3 * p + c]! + 1) * 127.5) as unknown as Rgb;
          const d = palette.map((colour) => dist(rgb, colour));
          const best = d.indexOf(Math.min(...d));
          // The chosen colour is a nearest one (ties: the first).
          expect(got[p]).toBe(best);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('sends ties to the lower class and a NaN pixel to class 0', () => {
    const palette: Rgb[] = [
      [0, 0, 0],
      [255, 255, 255],
    ];
    // 127.5 in 0..255 is exactly between the two colours.
    expect(Array.from(nearestColourClasses(Float32Array.from([0, 0, 0, 0.01, 0.01, 0.01]), 2, 1, palette))).toEqual([0, 1]);
    expect(Array.from(nearestColourClasses(Float32Array.from([Number.NaN, 1, 1]), 1, 1, palette))).toEqual([0]);
    expect(Array.from(nearestColourClasses(Float32Array.from([0.1, 0.1, 0.1]), 1, 1, palette))).toEqual([1]);
  });

  it('names the bad argument', () => {
    const p = LABEL_PALETTE.slice(0, 2);
    expect(() => nearestColourClasses(new Float32Array(11), 1, 2, p)).toThrow(/nearestColourClasses: images must hold n \* size \* size \* 3 = 12 values, got 11/);
    expect(() => nearestColourClasses(new Float32Array(12), 0, 2, p)).toThrow(/nearestColourClasses: n must be an integer >= 1, got 0/);
    expect(() => nearestColourClasses(new Float32Array(12), 1, 2, [])).toThrow(/nearestColourClasses: palette must be 1\.\.256 RGB triples/);
    expect(() => nearestColourClasses([0, 0, 0] as unknown as Float32Array, 1, 1, p)).toThrow(/nearestColourClasses: images must be a Float32Array, got an array of length 3/);
  });
});

describe('toSigned', () => {
  it('maps 0..255 onto [-1, 1] at the offset', () => {
    const out = new Float32Array(5).fill(9);
    toSigned(Uint8Array.from([0, 255, 51]), out, 1);
    expect(Array.from(out)).toEqual([9, -1, 1, Math.fround(-0.6), 9]);
  });
  it('names the bad argument', () => {
    expect(() => toSigned(new Uint8Array(3), new Float32Array(4), 2)).toThrow(/toSigned: offset must leave room for 3 values in 4, got 2/);
  });
});

describe('sceneUnderLight', () => {
  it('is seeded, and scales each channel by about 0.72..1.1 of the day colour', () => {
    const day = shapesScenes({ count: 1, size: 16, numClasses: 8, seed: 3 }).get(0)['image'] as ImageExample;
    const data = day.data as Uint8Array;
    const a = sceneUnderLight(data, createRng(5));
    expect(Array.from(sceneUnderLight(data, createRng(5)))).toEqual(Array.from(a));
    expect(Array.from(sceneUnderLight(data, createRng(6)))).not.toEqual(Array.from(a));
    for (let c = 0; c < 3; c++) {
      let sumDay = 0;
      let sumLit = 0;
      for (let p = c; p < data.length; p += 3) {
        sumDay += data[p]!;
        sumLit += a[p]!;
      }
      // Light 0.8..1 times cast 0.9..1.1; zero-mean noise (std 5) moves the channel mean by well under 1%.
      expect(sumLit / sumDay).toBeGreaterThan(0.7);
      expect(sumLit / sumDay).toBeLessThan(1.12);
    }
  });
});

describe('loadScenePairs / loadDayNight', () => {
  const options = { count: 12, size: 16, numClasses: 8, seed: 9, minShapes: 1, maxShapes: 3 };

  it('gives label maps that decode exactly to the class maps, and scenes that are not the map', () => {
    const pairs = loadScenePairs(options);
    expect(pairs.scene.length).toBe(12 * 16 * 16 * 3);
    expect(Array.from(nearestColourClasses(pairs.map, 12, 16, LABEL_PALETTE.slice(0, 8)))).toEqual(Array.from(pairs.classes));
    // The lit scene is read back by the day palette almost everywhere (the light is mild), but it is not the map.
    const read = nearestColourClasses(pairs.scene, 12, 16, SCENE_PALETTE.slice(0, 8) as Rgb[]);
    const agree = read.reduce((s, c, p) => s + (c === pairs.classes[p] ? 1 : 0), 0) / read.length;
    expect(agree).toBeGreaterThan(0.97);
    let diff = 0;
    for (let k = 0; k < pairs.scene.length; k++) diff = Math.max(diff, Math.abs(pairs.scene[k]! - pairs.map[k]!));
    expect(diff).toBeGreaterThan(0.5);
    for (const v of pairs.scene) expect(Math.abs(v)).toBeLessThanOrEqual(1);
    // Seeded: the same scenes again.
    expect(Array.from(loadScenePairs(options).scene)).toEqual(Array.from(pairs.scene));
  });

  it('gives day images in the scene palette and darker night images of the same scenes', () => {
    const set = loadDayNight(options);
    expect(Array.from(nearestColourClasses(set.day, 12, 16, SCENE_PALETTE.slice(0, 8) as Rgb[]))).toEqual(Array.from(set.classes));
    const meanOf = (a: Float32Array) => a.reduce((s, v) => s + v, 0) / a.length;
    // Night light is 0.35 x cast: in [-1, 1] units the mean drops by about 0.45 on these scenes.
    expect(meanOf(set.night)).toBeLessThan(meanOf(set.day) - 0.3);
  });
});

describe('drawAligned', () => {
  it('draws the same examples from every array', () => {
    const n = 7;
    const per = 3;
    const a = Float32Array.from({ length: n * per }, (_, k) => Math.floor(k / per));
    const b = Float32Array.from({ length: n * per }, (_, k) => 100 + Math.floor(k / per));
    const [x, y] = drawAligned(createRng(2), 20, n, per, [a, b]);
    for (let k = 0; k < 20 * per; k++) expect(y![k]).toBe(x![k]! + 100);
    expect(new Set(x).size).toBeGreaterThan(3);
  });
  it('names the bad argument', () => {
    expect(() => drawAligned(createRng(0), 2, 3, 2, [new Float32Array(6), new Float32Array(5)])).toThrow(/drawAligned: arrays\[1\] must hold n \* per = 6 values, got 5/);
  });
});
