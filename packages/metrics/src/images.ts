import * as tf from '@tensorflow/tfjs';
import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import { isArrayLike } from './check.js';

/** Images as plain numbers: `data` row-major in the order of `shape` (`[N, H, W, C]`, `[H, W, C]` or `[H, W]`). */
export interface PlainImages {
  readonly data: ArrayLike<number>;
  readonly shape: readonly number[];
}

/** A tfjs tensor (NHWC, HWC or HW) or plain images. */
export type ImageInput = tf.Tensor | PlainImages;

/** A batch read into plain numbers, NHWC. */
export interface ImageBatch {
  readonly data: ArrayLike<number>;
  readonly n: number;
  readonly h: number;
  readonly w: number;
  readonly c: number;
}

/**
 * Reads a tensor or plain images as an NHWC batch of numbers. Tensors are read with the async
 * `data()` (`dataSync` fails on WebGPU under Node) and are not disposed: the caller owns them.
 */
export async function readImages(where: string, arg: string, input: ImageInput): Promise<ImageBatch> {
  let data: ArrayLike<number>;
  let shape: readonly number[];
  if (input instanceof tf.Tensor) {
    shape = input.shape;
    data = (await input.data()) as ArrayLike<number>;
  } else if (input !== null && typeof input === 'object' && isArrayLike(input.data) && Array.isArray(input.shape)) {
    shape = input.shape;
    data = input.data;
  } else {
    failType(where, arg, 'a tf.Tensor or { data, shape } images', input);
  }
  if (shape.length < 2 || shape.length > 4 || shape.some((s) => !Number.isInteger(s) || s < 1)) {
    fail(where, `${arg}.shape`, '[N, H, W, C], [H, W, C] or [H, W] with sizes >= 1', `[${shape.join(', ')}]`);
  }
  const [n, h, w, c] =
    shape.length === 4 ? shape : shape.length === 3 ? [1, ...shape] : [1, shape[0]!, shape[1]!, 1];
  const size = n! * h! * w! * c!;
  if (data.length !== size) {
    throw new RangeError(`${where}: ${arg}.data must have ${size} values for shape [${shape.join(', ')}], got ${data.length}`);
  }
  for (let i = 0; i < size; i++) {
    if (!Number.isFinite(data[i]!)) fail(where, `${arg} (flat index ${i})`, 'finite pixel values', data[i]);
  }
  return { data, n: n!, h: h!, w: w!, c: c! };
}

/** Throws unless two batches have the same NHWC shape. */
export function checkSameShape(where: string, argA: string, a: ImageBatch, argB: string, b: ImageBatch): void {
  if (a.n !== b.n || a.h !== b.h || a.w !== b.w || a.c !== b.c) {
    throw new RangeError(
      `${where}: ${argA} and ${argB} must have the same shape, got [${a.n}, ${a.h}, ${a.w}, ${a.c}] and [${b.n}, ${b.h}, ${b.w}, ${b.c}] (NHWC)`,
    );
  }
}

export function checkDataRange(where: string, dataRange: unknown): number {
  if (typeof dataRange !== 'number' || !(dataRange > 0) || !Number.isFinite(dataRange)) {
    fail(where, 'options.dataRange', 'the finite positive width of the pixel range (2 for [-1, 1], 1 for [0, 1], 255 for bytes)', dataRange);
  }
  return dataRange;
}

/** Per-image values with their mean, what the image metrics return. */
export interface PerImage {
  /** Mean over images (over the images where the value is defined, for `maskedDistance`). */
  readonly mean: number;
  readonly perImage: Float64Array;
}

export function meanOf(values: Float64Array): number {
  let s = 0;
  let count = 0;
  for (const v of values) {
    if (Number.isNaN(v)) continue;
    s += v;
    count++;
  }
  return count === 0 ? Number.NaN : s / count;
}
