import { createRng } from '@mtd/random';
import { describe, expect, it } from 'vitest';
import type { Dataset, ImageExample, SegmentationExample } from './dataset.js';
import {
  MAX_SCENE_CLASSES,
  SCENE_PALETTE,
  SCENE_SHAPES,
  dayNightPairs,
  drawShape,
  insideShape,
  nightFromDay,
  paintClassMap,
  shapesScenes,
  type SceneShape,
} from './scenes.js';

const bytesOf = (ds: Dataset, key: string, n: number) =>
  Array.from({ length: n }, (_, i) => Buffer.from((ds.get(i)[key] as ImageExample | SegmentationExample).data));

describe('scene shapes', () => {
  // Area of each outline for circumradius 1 (closed form), against a 400 px rasterisation.
  const areas: Record<SceneShape, number> = {
    circle: Math.PI,
    square: 2,
    triangle: (3 * Math.sqrt(3)) / 4,
    diamond: 2,
    cross: 4 * 0.3 * 0.95 * 2 - 0.6 * 0.6,
    ring: Math.PI * (1 - 0.55 * 0.55),
  };
  for (const shape of SCENE_SHAPES) {
    it(`rasterises a ${shape} with the closed-form area (to 1%), at any rotation`, () => {
      const size = 400;
      const r = 150;
      for (const angle of [0, 0.7]) {
        const map = new Uint8Array(size * size);
        drawShape(map, size, { shape, classIndex: 3, cx: 200, cy: 200, radius: r, angle });
        let filled = 0;
        for (const v of map) filled += v === 3 ? 1 : v === 0 ? 0 : Number.NaN;
        expect(Math.abs(filled / (r * r) - areas[shape]) / areas[shape]).toBeLessThan(0.01);
      }
    });
  }

  it('keeps every shape inside its circumcircle, and contains the centre except the ring', () => {
    for (const shape of SCENE_SHAPES) {
      expect(insideShape(shape, 0, 0)).toBe(shape !== 'ring');
      for (let a = 0; a < 64; a++) {
        const t = (a / 64) * 2 * Math.PI;
        expect(insideShape(shape, 1.001 * Math.cos(t), 1.001 * Math.sin(t))).toBe(false);
      }
    }
    // The triangle points up (y down): its apex is at v = -1, its base at v = 0.5.
    expect(insideShape('triangle', 0, -0.99)).toBe(true);
    expect(insideShape('triangle', 0, 0.51)).toBe(false);
  });

  it('clips shapes at the border', () => {
    const map = new Uint8Array(16);
    drawShape(map, 4, { shape: 'square', classIndex: 1, cx: 0, cy: 0, radius: 2.9, angle: 0 });
    // Half side 2.9 / sqrt(2) = 2.05: pixel centres 0.5 and 1.5 are in, 2.5 is out.
    expect(Array.from(map)).toEqual([1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  });
});

describe('shapesScenes', () => {
  const options = { count: 40, size: 24, numClasses: 7, seed: 11 };
  const ds = shapesScenes(options);

  it('describes its modalities', () => {
    expect(ds.length).toBe(40);
    expect(ds.modalities).toEqual({
      image: { kind: 'image', shape: [24, 24, 3], dtype: 'uint8' },
      segmentation: { kind: 'segmentation', shape: [24, 24], numClasses: 7 },
    });
    expect(SCENE_PALETTE).toHaveLength(MAX_SCENE_CLASSES);
  });

  it('paints each pixel of class c with palette[c] in the image', () => {
    const seen = new Set<number>();
    for (let i = 0; i < ds.length; i++) {
      const ex = ds.get(i);
      const seg = ex['segmentation'] as SegmentationExample;
      const img = ex['image'] as ImageExample;
      expect(seg.data.length).toBe(24 * 24);
      let mismatches = 0;
      for (let p = 0; p < seg.data.length; p++) {
        const c = seg.data[p]!;
        seen.add(c);
        const colour = SCENE_PALETTE[c]!;
        if (img.data[3 * p] !== colour[0] || img.data[3 * p + 1] !== colour[1] || img.data[3 * p + 2] !== colour[2]) {
          mismatches++;
        }
      }
      expect(mismatches).toBe(0);
    }
    // All 7 classes (background included) and nothing else appear across 40 scenes.
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('is a pure function of (seed, index): same bytes for the same seed, any count', () => {
    const again = shapesScenes({ ...options, count: 5 });
    expect(bytesOf(again, 'image', 5)).toEqual(bytesOf(ds, 'image', 5));
    expect(bytesOf(again, 'segmentation', 5)).toEqual(bytesOf(ds, 'segmentation', 5));
    expect(Buffer.from((ds.get(3)['image'] as ImageExample).data)).toEqual(
      Buffer.from((ds.get(3)['image'] as ImageExample).data),
    );
    const other = shapesScenes({ ...options, seed: 12, count: 5 });
    const a = bytesOf(ds, 'segmentation', 5);
    const b = bytesOf(other, 'segmentation', 5);
    expect(a.filter((buf, i) => buf.equals(b[i]!)).length).toBeLessThan(5);
  });

  it('has scenes that differ from one another and are neither empty nor full', () => {
    const maps = bytesOf(ds, 'segmentation', 40);
    expect(new Set(maps.map((m) => m.toString('base64'))).size).toBe(40);
    const fractions = maps.map((m) => m.filter((v) => v !== 0).length / m.length);
    const mean = fractions.reduce((x, y) => x + y, 0) / fractions.length;
    expect(mean).toBeGreaterThan(0.1);
    expect(mean).toBeLessThan(0.7);
  });

  it('rejects bad options naming them', () => {
    expect(() => shapesScenes({ ...options, numClasses: 1 })).toThrow(
      /shapesScenes: numClasses must be an integer in 2\.\.16, got 1/,
    );
    expect(() => shapesScenes({ ...options, numClasses: 17 })).toThrow(/numClasses must be an integer in 2\.\.16/);
    expect(() => shapesScenes({ ...options, size: 4 })).toThrow(/size must be an integer >= 8, got 4/);
    expect(() => shapesScenes({ ...options, count: 0 })).toThrow(/count must be an integer >= 1, got 0/);
    expect(() => shapesScenes({ ...options, seed: Number.NaN })).toThrow(/seed must be a safe integer, got NaN/);
    expect(() => shapesScenes({ ...options, minShapes: 3, maxShapes: 2 })).toThrow(/maxShapes must be an integer >= 3, got 2/);
    expect(() => ds.get(40)).toThrow(/get: i must be an integer in 0\.\.39, got 40/);
    expect(() => paintClassMap(Uint8Array.from([16]))).toThrow(/classMap\[0\] must be in 0\.\.15, got 16/);
  });
});

describe('dayNightPairs / nightFromDay', () => {
  const options = { count: 6, size: 16, numClasses: 5, seed: 3 };
  const pairs = dayNightPairs(options);

  it('renders the shapesScenes image by day, with its class map', () => {
    const scenes = shapesScenes(options);
    expect(bytesOf(pairs, 'day', 6)).toEqual(bytesOf(scenes, 'image', 6));
    expect(bytesOf(pairs, 'segmentation', 6)).toEqual(bytesOf(scenes, 'segmentation', 6));
    expect(Object.keys(pairs.modalities)).toEqual(['day', 'night', 'segmentation']);
  });

  it('applies brightness and cast exactly when there is no noise', () => {
    const quiet = dayNightPairs({ ...options, night: { brightness: 0.5, cast: [1, 0.5, 2], noiseStd: 0 } });
    for (let i = 0; i < quiet.length; i++) {
      const day = (quiet.get(i)['day'] as ImageExample).data;
      const night = (quiet.get(i)['night'] as ImageExample).data;
      const expected = Array.from(day, (v, k) => Math.min(255, Math.round(v * 0.5 * [1, 0.5, 2][k % 3]!)));
      expect(Array.from(night)).toEqual(expected);
    }
  });

  it('adds seeded Gaussian noise of the requested spread, reproducibly', () => {
    const day = new Uint8Array(3 * 4000).fill(200);
    const night = nightFromDay(day, createRng(5), { brightness: 0.5, cast: [1, 1, 1], noiseStd: 8 });
    let sum = 0;
    let sq = 0;
    for (const v of night) {
      sum += v - 100;
      sq += (v - 100) ** 2;
    }
    const mean = sum / night.length;
    const std = Math.sqrt(sq / night.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan(0.3);
    // Rounding to integers adds variance 1/12.
    expect(Math.abs(std - Math.sqrt(64 + 1 / 12))).toBeLessThan(0.25);
    expect(nightFromDay(day, createRng(5), { brightness: 0.5, cast: [1, 1, 1], noiseStd: 8 })).toEqual(night);
    expect(nightFromDay(day, createRng(6), { brightness: 0.5, cast: [1, 1, 1], noiseStd: 8 })).not.toEqual(night);
    // Each scene's noise is its own, and the same on every call.
    const a = (pairs.get(2)['night'] as ImageExample).data;
    expect((pairs.get(2)['night'] as ImageExample).data).toEqual(a);
    const other = dayNightPairs({ ...options, seed: 4 });
    expect((other.get(2)['night'] as ImageExample).data).not.toEqual(a);
  });

  it('is darker than the day on average and keeps the cold cast', () => {
    let dayMean = 0;
    const nightMeans = [0, 0, 0];
    for (let i = 0; i < pairs.length; i++) {
      const day = (pairs.get(i)['day'] as ImageExample).data;
      const night = (pairs.get(i)['night'] as ImageExample).data;
      for (let k = 0; k < day.length; k++) {
        dayMean += day[k]!;
        nightMeans[k % 3]! += night[k]!;
      }
    }
    expect(nightMeans.reduce((a, b) => a + b, 0)).toBeLessThan(0.6 * dayMean);
    expect(nightMeans[2]!).toBeGreaterThan(nightMeans[0]!);
  });

  it('rejects bad night options at construction', () => {
    expect(() => dayNightPairs({ ...options, night: { brightness: 0 } })).toThrow(
      /nightFromDay: brightness must be in \(0, 1\], got 0/,
    );
    expect(() => dayNightPairs({ ...options, night: { noiseStd: -1 } })).toThrow(/noiseStd must be >= 0, got -1/);
    expect(() => dayNightPairs({ ...options, night: { cast: [1, 1] as unknown as [number, number, number] } })).toThrow(
      /cast must be three gains >= 0/,
    );
    expect(() => nightFromDay(new Uint8Array(4), createRng(1))).toThrow(/day must hold RGB triples, got 4 values/);
  });
});
