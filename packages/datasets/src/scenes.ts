import { createRng, type Rng } from '@mtd/random';
import { checkIndex, checkInt, type Dataset, type ImageSpec, type SegmentationSpec } from './dataset.js';

/**
 * Seeded synthetic scenes for the image-transition experiment (EXPERIMENTS.md E1): flat coloured
 * shapes on a flat background, with the per-pixel class map that produced them, and the same
 * scene "by night". Everything is a pure function of (seed, index), so scene `i` is the same
 * whatever `count` is, and nothing is stored: `get(i)` renders on demand.
 */

/**
 * The fixed colour of each class (RGB, 0..255) in the day image; class 0 is the background. The
 * colours are far apart so a class map can be read back from a day image by nearest colour.
 */
export const SCENE_PALETTE: ReadonlyArray<readonly [number, number, number]> = Object.freeze(
  (
    [
      [70, 80, 90], // 0 background (slate)
      [230, 50, 50], // 1 red
      [60, 180, 75], // 2 green
      [50, 100, 230], // 3 blue
      [250, 215, 40], // 4 yellow
      [245, 130, 40], // 5 orange
      [150, 60, 200], // 6 purple
      [70, 230, 230], // 7 cyan
      [240, 70, 200], // 8 magenta
      [185, 245, 60], // 9 lime
      [250, 190, 200], // 10 pink
      [0, 128, 128], // 11 teal
      [160, 100, 40], // 12 brown
      [255, 250, 205], // 13 cream
      [128, 0, 0], // 14 maroon
      [255, 255, 255], // 15 white
    ] as const
  ).map((c) => Object.freeze([...c] as [number, number, number])),
);

/** Largest supported class count (background included): one palette colour per class. */
export const MAX_SCENE_CLASSES = SCENE_PALETTE.length;

/** The outline of class `c >= 1` is `SCENE_SHAPES[(c - 1) % SCENE_SHAPES.length]`. */
export const SCENE_SHAPES = Object.freeze(['circle', 'square', 'triangle', 'diamond', 'cross', 'ring'] as const);
export type SceneShape = (typeof SCENE_SHAPES)[number];

/** One shape placed in a scene (pixel units; the image spans [0, size) on both axes). */
export interface PlacedShape {
  readonly shape: SceneShape;
  readonly classIndex: number;
  readonly cx: number;
  readonly cy: number;
  /** Circumradius: every shape fits in the circle of this radius around its centre. */
  readonly radius: number;
  /** Rotation in radians. */
  readonly angle: number;
}

const SQRT3 = Math.sqrt(3);

/** Whether the point (u, v), in shape units (radius 1, unrotated, y down), is inside `shape`. */
export function insideShape(shape: SceneShape, u: number, v: number): boolean {
  switch (shape) {
    case 'circle':
      return u * u + v * v <= 1;
    case 'square':
      // Half side 1 / sqrt(2): the square inscribed in the unit circle.
      return Math.abs(u) <= Math.SQRT1_2 && Math.abs(v) <= Math.SQRT1_2;
    case 'triangle':
      // Equilateral, vertices (0, -1), (+-sqrt(3)/2, 1/2).
      return v <= 0.5 && SQRT3 * u - v <= 1 && -SQRT3 * u - v <= 1;
    case 'diamond':
      return Math.abs(u) + Math.abs(v) <= 1;
    case 'cross': {
      const au = Math.abs(u);
      const av = Math.abs(v);
      return (au <= 0.3 && av <= 0.95) || (av <= 0.3 && au <= 0.95);
    }
    case 'ring': {
      const r2 = u * u + v * v;
      return r2 <= 1 && r2 >= 0.3025; // inner radius 0.55
    }
  }
}

/**
 * Paints `shape` into a `size x size` class map (row-major), sampling each pixel at its centre, so
 * the map and the rendered image agree exactly (no anti-aliasing).
 */
export function drawShape(classMap: Uint8Array, size: number, shape: PlacedShape): void {
  const { cx, cy, radius, angle, classIndex } = shape;
  const cos = Math.cos(angle);
  const sin = Math.sin(angle);
  const y0 = Math.max(0, Math.floor(cy - radius));
  const y1 = Math.min(size - 1, Math.ceil(cy + radius));
  const x0 = Math.max(0, Math.floor(cx - radius));
  const x1 = Math.min(size - 1, Math.ceil(cx + radius));
  for (let y = y0; y <= y1; y++) {
    for (let x = x0; x <= x1; x++) {
      const dx = x + 0.5 - cx;
      const dy = y + 0.5 - cy;
      // Rotate the pixel by -angle into the shape's frame.
      const u = (cos * dx + sin * dy) / radius;
      const v = (-sin * dx + cos * dy) / radius;
      if (insideShape(shape.shape, u, v)) classMap[y * size + x] = classIndex;
    }
  }
}

export interface ShapesScenesOptions {
  count: number;
  /** Image side in pixels (>= 8). */
  size: number;
  /** Classes including the background, 2..MAX_SCENE_CLASSES. */
  numClasses: number;
  seed: number;
  /** Fewest shapes per scene (>= 1), 1 by default. */
  minShapes?: number;
  /** Most shapes per scene, 4 by default. */
  maxShapes?: number;
}

interface SceneConfig {
  readonly count: number;
  readonly size: number;
  readonly numClasses: number;
  readonly seed: number;
  readonly minShapes: number;
  readonly maxShapes: number;
}

function checkSceneOptions(where: string, options: ShapesScenesOptions): SceneConfig {
  const { count, size, numClasses, seed, minShapes = 1, maxShapes = 4 } = options ?? ({} as ShapesScenesOptions);
  checkInt(where, 'count', count, 1);
  checkInt(where, 'size', size, 8);
  if (!Number.isInteger(numClasses) || numClasses < 2 || numClasses > MAX_SCENE_CLASSES) {
    throw new RangeError(`${where}: numClasses must be an integer in 2..${MAX_SCENE_CLASSES}, got ${String(numClasses)}`);
  }
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  }
  checkInt(where, 'minShapes', minShapes, 1);
  checkInt(where, 'maxShapes', maxShapes, minShapes);
  return { count, size, numClasses, seed, minShapes, maxShapes };
}

/**
 * The shapes of scene `index`: `minShapes..maxShapes` of them, each of a uniform class in
 * 1..numClasses-1, circumradius uniform in [0.12, 0.28] x size, centre uniform in the image
 * (shapes may be cut by the border and overlap; later ones are drawn on top), uniform rotation.
 */
export function sceneShapes(config: SceneConfig, index: number): PlacedShape[] {
  const rng = createRng(config.seed).fork('shapes-scene').fork(index);
  const n = config.minShapes + rng.int(config.maxShapes - config.minShapes + 1);
  const shapes: PlacedShape[] = [];
  for (let k = 0; k < n; k++) {
    const classIndex = 1 + rng.int(config.numClasses - 1);
    const radius = config.size * (0.12 + 0.16 * rng.uniform());
    shapes.push({
      shape: SCENE_SHAPES[(classIndex - 1) % SCENE_SHAPES.length]!,
      classIndex,
      cx: config.size * rng.uniform(),
      cy: config.size * rng.uniform(),
      radius,
      angle: 2 * Math.PI * rng.uniform(),
    });
  }
  return shapes;
}

function renderClassMap(config: SceneConfig, index: number): Uint8Array {
  const map = new Uint8Array(config.size * config.size);
  for (const shape of sceneShapes(config, index)) drawShape(map, config.size, shape);
  return map;
}

/** The day image of a class map: every pixel is exactly `SCENE_PALETTE[class]`. */
export function paintClassMap(classMap: Uint8Array): Uint8Array {
  const out = new Uint8Array(classMap.length * 3);
  for (let p = 0; p < classMap.length; p++) {
    const colour = SCENE_PALETTE[classMap[p]!];
    if (colour === undefined) throw new RangeError(`paintClassMap: classMap[${p}] must be in 0..${MAX_SCENE_CLASSES - 1}, got ${classMap[p]}`);
    out[3 * p] = colour[0];
    out[3 * p + 1] = colour[1];
    out[3 * p + 2] = colour[2];
  }
  return out;
}

/**
 * Scenes of coloured shapes with their class maps. Modalities: `image` (uint8 `[size, size, 3]`,
 * the day rendering: pixel colour = `SCENE_PALETTE[class]`) and `segmentation` (uint8
 * `[size, size]`, `numClasses` classes, 0 = background).
 */
export function shapesScenes(options: ShapesScenesOptions): Dataset {
  const where = 'shapesScenes';
  const config = checkSceneOptions(where, options);
  const { count, size, numClasses, seed } = config;
  const imageShape = Object.freeze([size, size, 3] as const);
  const segShape = Object.freeze([size, size] as const);
  const name = `shapes-scenes/${numClasses}c-${size}px-seed${seed}`;
  return {
    name,
    length: count,
    modalities: Object.freeze({
      image: { kind: 'image', shape: imageShape, dtype: 'uint8' } satisfies ImageSpec,
      segmentation: { kind: 'segmentation', shape: segShape, numClasses } satisfies SegmentationSpec,
    }),
    get(i: number) {
      checkIndex(`${name}.get`, i, count);
      const classMap = renderClassMap(config, i);
      return {
        image: { kind: 'image', shape: imageShape, data: paintClassMap(classMap) },
        segmentation: { kind: 'segmentation', shape: segShape, numClasses, data: classMap },
      };
    },
  };
}

export interface NightOptions {
  /** Overall light level, in (0, 1]; 0.35 by default. */
  brightness?: number;
  /** Per-channel RGB gain on top of `brightness` (a cold moonlight cast by default). */
  cast?: readonly [number, number, number];
  /** Standard deviation of the additive Gaussian sensor noise, in 0..255 units; 6 by default. */
  noiseStd?: number;
}

const DEFAULT_CAST: readonly [number, number, number] = Object.freeze([0.7, 0.85, 1.3]) as readonly [number, number, number];

/**
 * A night version of an RGB uint8 image: `round(clamp(day * brightness * cast[c] + noiseStd * n,
 * 0, 255))` with `n` standard normals from `rng`, one per value.
 */
export function nightFromDay(day: Uint8Array, rng: Rng, options: NightOptions = {}): Uint8Array {
  const where = 'nightFromDay';
  const { brightness = 0.35, cast = DEFAULT_CAST, noiseStd = 6 } = options;
  if (!(brightness > 0 && brightness <= 1)) throw new RangeError(`${where}: brightness must be in (0, 1], got ${String(brightness)}`);
  if (!Array.isArray(cast) || cast.length !== 3 || cast.some((g) => typeof g !== 'number' || !(g >= 0))) {
    throw new RangeError(`${where}: cast must be three gains >= 0, got ${String(cast)}`);
  }
  if (!(noiseStd >= 0)) throw new RangeError(`${where}: noiseStd must be >= 0, got ${String(noiseStd)}`);
  if (day.length % 3 !== 0) throw new RangeError(`${where}: day must hold RGB triples, got ${day.length} values`);
  const gains = cast.map((g) => g * brightness);
  const out = new Uint8Array(day.length);
  for (let k = 0; k < day.length; k++) {
    const noise = noiseStd > 0 ? noiseStd * rng.normal() : 0;
    const v = day[k]! * gains[k % 3]! + noise;
    out[k] = Math.min(255, Math.max(0, Math.round(v)));
  }
  return out;
}

export interface DayNightOptions extends ShapesScenesOptions {
  night?: NightOptions;
}

/**
 * The same scenes as `shapesScenes` with the same options (same seed, same shapes), by day and by
 * night. Modalities: `day` (uint8 RGB, exactly the `shapesScenes` image), `night` (uint8 RGB, see
 * `nightFromDay`; its noise is seeded per scene) and `segmentation`.
 */
export function dayNightPairs(options: DayNightOptions): Dataset {
  const where = 'dayNightPairs';
  const config = checkSceneOptions(where, options);
  const nightOptions = options.night ?? {};
  // Validate the night options now rather than on the first get().
  nightFromDay(new Uint8Array(3), createRng(0), nightOptions);
  const { count, size, numClasses, seed } = config;
  const imageShape = Object.freeze([size, size, 3] as const);
  const segShape = Object.freeze([size, size] as const);
  const imageSpec: ImageSpec = { kind: 'image', shape: imageShape, dtype: 'uint8' };
  const name = `day-night/${numClasses}c-${size}px-seed${seed}`;
  const noiseRoot = createRng(seed).fork('night-noise');
  return {
    name,
    length: count,
    modalities: Object.freeze({
      day: imageSpec,
      night: imageSpec,
      segmentation: { kind: 'segmentation', shape: segShape, numClasses } satisfies SegmentationSpec,
    }),
    get(i: number) {
      checkIndex(`${name}.get`, i, count);
      const classMap = renderClassMap(config, i);
      const day = paintClassMap(classMap);
      return {
        day: { kind: 'image', shape: imageShape, data: day },
        night: { kind: 'image', shape: imageShape, data: nightFromDay(day, noiseRoot.fork(i), nightOptions) },
        segmentation: { kind: 'segmentation', shape: segShape, numClasses, data: classMap },
      };
    },
  };
}
