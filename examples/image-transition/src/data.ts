import { dayNightPairs, nightFromDay, paintClassMap, SCENE_PALETTE, shapesScenes, type ImageExample, type SegmentationExample } from '@mtd/datasets';
import { createRng, type Rng } from '@mtd/random';

/**
 * The image pairs of E1, as plain NHWC float arrays in [-1, 1] (3 channels).
 *
 * Both pairs come from the project's seeded synthetic scenes (@mtd/datasets): coloured shapes on
 * a flat background with the per-pixel class map that produced them.
 * - (scene, segmentation map): the map enters the diffusion space as its colour-coded image
 *   (like a Cityscapes label image), painted with `LABEL_PALETTE`. That palette is NOT the
 *   scene's: the datasets' day rendering is exactly `SCENE_PALETTE[class]`, so a map painted with
 *   it would be the scene itself and "translation" would be the identity. The scene is the day
 *   rendering under a random per-scene light level and colour cast with sensor noise
 *   (`sceneUnderLight`), so it is not a flat palette image either.
 * - (night, day): `dayNightPairs` as they come (day = palette image, night = dark, cold-cast,
 *   noisy copy).
 */

export type Rgb = readonly [number, number, number];

/**
 * Which `SCENE_PALETTE` colour paints class `c` in a segmentation map. A derangement (no class
 * keeps its scene colour) ordered greedily so that the first K colours are far apart for every
 * K: the smallest pairwise distance is 175 (0..255 units) for K <= 6, 124 for K <= 8, 50 for 16.
 */
export const LABEL_ORDER: readonly number[] = Object.freeze([14, 15, 3, 4, 8, 2, 7, 1, 0, 11, 6, 12, 10, 5, 9, 13]);

/** Colour of class `c` in a segmentation-map image (RGB, 0..255). */
export const LABEL_PALETTE: readonly Rgb[] = Object.freeze(LABEL_ORDER.map((i) => SCENE_PALETTE[i]! as Rgb));

/** A class map painted with `LABEL_PALETTE` (uint8 RGB, `[H, W, 3]` row-major). */
export function paintLabels(classMap: Uint8Array): Uint8Array {
  if (!(classMap instanceof Uint8Array)) throw new TypeError(`paintLabels: classMap must be a Uint8Array, got ${describe(classMap)}`);
  const remapped = new Uint8Array(classMap.length);
  for (let p = 0; p < classMap.length; p++) {
    const c = classMap[p]!;
    if (c >= LABEL_ORDER.length) throw new RangeError(`paintLabels: classMap[${p}] must be in 0..${LABEL_ORDER.length - 1}, got ${c}`);
    remapped[p] = LABEL_ORDER[c]!;
  }
  return paintClassMap(remapped);
}

/**
 * Decodes colour images (NHWC, 3 channels, [-1, 1]) to class maps by the nearest colour of
 * `palette` (0..255 units, Euclidean in RGB; ties go to the lower class; a NaN pixel gets class
 * 0). This is how a generated segmentation-map image becomes classes (with `LABEL_PALETTE`), and
 * how a generated scene or day image is read back (with `SCENE_PALETTE`).
 */
export function nearestColourClasses(images: Float32Array, n: number, size: number, palette: readonly Rgb[]): Uint8Array {
  const where = 'nearestColourClasses';
  if (!(images instanceof Float32Array)) throw new TypeError(`${where}: images must be a Float32Array, got ${describe(images)}`);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`${where}: size must be an integer >= 1, got ${String(size)}`);
  if (images.length !== n * size * size * 3) throw new RangeError(`${where}: images must hold n * size * size * 3 = ${n * size * size * 3} values, got ${images.length}`);
  if (!Array.isArray(palette) || palette.length < 1 || palette.length > 256 || palette.some((c) => !Array.isArray(c) || c.length !== 3 || c.some((v) => !Number.isFinite(v)))) {
    throw new RangeError(`${where}: palette must be 1..256 RGB triples of finite numbers, got ${describe(palette)}`);
  }
  const K = palette.length;
  const flat = new Float64Array(K * 3);
  palette.forEach((c, k) => flat.set(c, 3 * k));
  const out = new Uint8Array(n * size * size);
  for (let p = 0; p < out.length; p++) {
    const r = (images[3 * p]! + 1) * 127.5;
    const g = (images[3 * p + 1]! + 1) * 127.5;
    const b = (images[3 * p + 2]! + 1) * 127.5;
    let best = 0;
    let bestD = Number.POSITIVE_INFINITY;
    for (let k = 0; k < K; k++) {
      const dr = r - flat[3 * k]!;
      const dg = g - flat[3 * k + 1]!;
      const db = b - flat[3 * k + 2]!;
      const d = dr * dr + dg * dg + db * db;
      if (d < bestD) {
        bestD = d;
        best = k;
      }
    }
    out[p] = best;
  }
  return out;
}

/** uint8 values (0..255) into `out` at `offset` as `2 v / 255 - 1`, i.e. [-1, 1]. */
export function toSigned(values: Uint8Array, out: Float32Array, offset: number): void {
  if (offset < 0 || offset + values.length > out.length) throw new RangeError(`toSigned: offset must leave room for ${values.length} values in ${out.length}, got ${offset}`);
  for (let k = 0; k < values.length; k++) out[offset + k] = (2 * values[k]!) / 255 - 1;
}

/** The lighting of a scene "photo": light level, per-channel cast spread, sensor noise (0..255 units). */
export const SCENE_LIGHT = Object.freeze({ minBrightness: 0.8, maxBrightness: 1, castSpread: 0.1, noiseStd: 5 });

/**
 * The day rendering under one random daylight: `nightFromDay` with a light level uniform in
 * [0.8, 1], a per-channel gain uniform in [0.9, 1.1] and noise of std 5, all drawn from `rng`.
 */
export function sceneUnderLight(day: Uint8Array, rng: Rng): Uint8Array {
  const { minBrightness, maxBrightness, castSpread, noiseStd } = SCENE_LIGHT;
  const brightness = minBrightness + (maxBrightness - minBrightness) * rng.uniform();
  const cast = [0, 1, 2].map(() => 1 - castSpread + 2 * castSpread * rng.uniform()) as [number, number, number];
  return nightFromDay(day, rng, { brightness, cast, noiseStd });
}

export interface SceneOptions {
  count: number;
  size: number;
  numClasses: number;
  seed: number;
  minShapes: number;
  maxShapes: number;
}

/** (scene, segmentation map) pairs: `[n, size, size, 3]` each in [-1, 1], and the class maps `[n, size, size]`. */
export interface ScenePairs {
  name: string;
  n: number;
  size: number;
  numClasses: number;
  scene: Float32Array;
  map: Float32Array;
  classes: Uint8Array;
}

/** Renders `count` scenes of `shapesScenes(options)` with their label images (see the file comment). */
export function loadScenePairs(options: SceneOptions): ScenePairs {
  const { count, size, numClasses, seed, minShapes, maxShapes } = options;
  const dataset = shapesScenes({ count, size, numClasses, seed, minShapes, maxShapes });
  const P = size * size;
  const scene = new Float32Array(count * P * 3);
  const map = new Float32Array(count * P * 3);
  const classes = new Uint8Array(count * P);
  const light = createRng(seed).fork('scene-light');
  for (let i = 0; i < count; i++) {
    const ex = dataset.get(i);
    const day = (ex['image'] as ImageExample).data as Uint8Array;
    const cls = (ex['segmentation'] as SegmentationExample).data as Uint8Array;
    toSigned(sceneUnderLight(day, light.fork(i)), scene, i * P * 3);
    toSigned(paintLabels(cls), map, i * P * 3);
    classes.set(cls, i * P);
  }
  return { name: dataset.name, n: count, size, numClasses, scene, map, classes };
}

/** (night, day) pairs: `[n, size, size, 3]` each in [-1, 1], and the class maps `[n, size, size]`. */
export interface DayNightSet {
  name: string;
  n: number;
  size: number;
  numClasses: number;
  night: Float32Array;
  day: Float32Array;
  classes: Uint8Array;
}

/** Renders `count` pairs of `dayNightPairs(options)` (default night: brightness 0.35, cold cast, noise 6). */
export function loadDayNight(options: SceneOptions): DayNightSet {
  const { count, size, numClasses, seed, minShapes, maxShapes } = options;
  const dataset = dayNightPairs({ count, size, numClasses, seed, minShapes, maxShapes });
  const P = size * size;
  const night = new Float32Array(count * P * 3);
  const day = new Float32Array(count * P * 3);
  const classes = new Uint8Array(count * P);
  for (let i = 0; i < count; i++) {
    const ex = dataset.get(i);
    toSigned((ex['night'] as ImageExample).data as Uint8Array, night, i * P * 3);
    toSigned((ex['day'] as ImageExample).data as Uint8Array, day, i * P * 3);
    classes.set((ex['segmentation'] as SegmentationExample).data as Uint8Array, i * P);
  }
  return { name: dataset.name, n: count, size, numClasses, night, day, classes };
}

/**
 * `B` examples drawn with replacement from `n`, the same indices for every array (each holding
 * `n` examples of `per` values): a training batch's aligned (target, source) pair.
 */
export function drawAligned(rng: Rng, B: number, n: number, per: number, arrays: readonly Float32Array[]): Float32Array[] {
  for (const [k, a] of arrays.entries()) {
    if (a.length !== n * per) throw new RangeError(`drawAligned: arrays[${k}] must hold n * per = ${n * per} values, got ${a.length}`);
  }
  const out = arrays.map(() => new Float32Array(B * per));
  for (let b = 0; b < B; b++) {
    const j = rng.int(n);
    arrays.forEach((a, k) => out[k]!.set(a.subarray(j * per, (j + 1) * per), b * per));
  }
  return out;
}

function describe(x: unknown): string {
  if (x === null) return 'null';
  if (Array.isArray(x)) return `an array of length ${x.length}`;
  if (ArrayBuffer.isView(x)) return `a ${x.constructor.name}`;
  return typeof x;
}
