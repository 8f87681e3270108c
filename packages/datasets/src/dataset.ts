/**
 * The `Dataset` contract: a fixed-length, random-access collection of examples, each a record of
 * named modalities (an image and its label, an image and its mask, a scene and its class map, the
 * same scene by day and by night...).
 *
 * Examples are compact typed arrays, never tfjs tensors: a dataset of 60k images stays a few tens of
 * MB of plain memory, and tensors are made per batch by `batches` (batches.ts) and disposed by the
 * caller.
 */

/** An image stored as `H x W x C`, row-major, channels last (the layout of a tfjs NHWC batch). */
export interface ImageSpec {
  readonly kind: 'image';
  /** `[height, width, channels]`. */
  readonly shape: readonly [number, number, number];
  /**
   * How `data` encodes intensities: `'uint8'` is 0..255 (value / 255 is the intensity),
   * `'float32'` is already in [0, 1]. Either way 0 is black.
   */
  readonly dtype: 'uint8' | 'float32';
}

/** One class index per example. */
export interface LabelSpec {
  readonly kind: 'label';
  readonly numClasses: number;
  /** Human-readable class names, index = class, when the dataset has them. */
  readonly classNames?: readonly string[];
}

/** A per-pixel class map (`H x W`, row-major); class 0 is the background by convention. */
export interface SegmentationSpec {
  readonly kind: 'segmentation';
  /** `[height, width]`. */
  readonly shape: readonly [number, number];
  readonly numClasses: number;
}

/** A binary per-pixel mask (`H x W`, row-major): 1 keeps the pixel, 0 masks it out. */
export interface MaskSpec {
  readonly kind: 'mask';
  /** `[height, width]`. */
  readonly shape: readonly [number, number];
}

export type ModalitySpec = ImageSpec | LabelSpec | SegmentationSpec | MaskSpec;

export interface ImageExample {
  readonly kind: 'image';
  readonly shape: readonly [number, number, number];
  /** Uint8Array: 0..255; Float32Array: [0, 1]. Length `H * W * C`. */
  readonly data: Uint8Array | Float32Array;
}

export interface LabelExample {
  readonly kind: 'label';
  readonly numClasses: number;
  /** The class index, an integer in 0..numClasses-1. */
  readonly value: number;
}

export interface SegmentationExample {
  readonly kind: 'segmentation';
  readonly shape: readonly [number, number];
  readonly numClasses: number;
  /** Class per pixel, length `H * W`. */
  readonly data: Uint8Array | Int32Array;
}

export interface MaskExample {
  readonly kind: 'mask';
  readonly shape: readonly [number, number];
  /** 1 = kept, 0 = masked out; length `H * W`. */
  readonly data: Uint8Array;
}

export type ModalityExample = ImageExample | LabelExample | SegmentationExample | MaskExample;

/**
 * A random-access dataset. `get(i)` returns views into the dataset's storage where it can (no
 * copy): treat the returned arrays as read-only.
 */
export interface Dataset {
  /** A short identifier, e.g. `'fashion-mnist/train'`. */
  readonly name: string;
  readonly length: number;
  /** What `get(i)` returns, by modality name. */
  readonly modalities: Readonly<Record<string, ModalitySpec>>;
  /** Example `i` (an integer in `0..length-1`) as a record keyed like `modalities`. */
  get(i: number): Record<string, ModalityExample>;
}

/** Throws unless `i` is an integer index into a dataset of `length` examples. */
export function checkIndex(where: string, i: number, length: number): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) {
    throw new RangeError(`${where}: i must be an integer in 0..${length - 1}, got ${String(i)}`);
  }
}

/** Throws unless `value` is an integer >= `min`. */
export function checkInt(where: string, name: string, value: unknown, min: number): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${String(value)}`);
  }
}

/**
 * A view of `dataset` restricted to `indices` (in that order): how splits and subsets are made
 * without copying any example.
 */
export function subset(dataset: Dataset, indices: ArrayLike<number>, name?: string): Dataset {
  const where = 'subset';
  const picked = Int32Array.from(indices as ArrayLike<number>);
  for (let j = 0; j < picked.length; j++) {
    const i = indices[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= dataset.length) {
      throw new RangeError(
        `${where}: indices[${j}] must be an integer in 0..${dataset.length - 1}, got ${String(i)}`,
      );
    }
  }
  const length = picked.length;
  return {
    name: name ?? `${dataset.name}[subset ${length}]`,
    length,
    modalities: dataset.modalities,
    get(i: number) {
      checkIndex(`${name ?? 'subset'}.get`, i, length);
      return dataset.get(picked[i]!);
    },
  };
}
