import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { checkInt, type Dataset, type ModalityExample, type ModalitySpec } from './dataset.js';

/**
 * The streaming batcher: turns a `Dataset` of typed arrays into tfjs tensors one batch at a time,
 * so a dataset never sits in (GPU or CPU backend) memory as tensors: only the batch the caller holds.
 *
 * Per modality kind, a batch holds:
 * - `image`: float32 `[B, H, W, C]`, scaled to [-1, 1] (`u / 127.5 - 1` for uint8 `u`, `2 v - 1`
 *   for float32 `v`) or [0, 1] (`u / 255`, `v`), computed in float64 and rounded once to float32.
 * - `label`: int32 `[B]`; with `oneHot`, also `<key>OneHot` float32 `[B, numClasses]`.
 * - `segmentation`: int32 `[B, H, W]`.
 * - `mask`: float32 `[B, H, W, 1]` of 0/1 (1 = kept).
 *
 * With `padTo`, every spatial modality is padded to `padTo x padTo`, centred (an odd margin puts the
 * extra row/column at the bottom/right): images with black (-1 in [-1, 1], 0 in [0, 1]),
 * segmentation maps with class 0 (background), masks with 1 (the padding is not a masked patch).
 * This is how 28x28 MNIST-style images become the 32x32 the U-Net expects.
 */
export type Batch = Record<string, tf.Tensor>;

export type Scale = '[-1,1]' | '[0,1]';

export interface BatchOptions {
  batchSize: number;
  /** Seeds the shuffle: epoch `e` uses `createRng(seed).fork(e)`. */
  seed: number;
  /** True by default; false keeps dataset order (evaluation). */
  shuffle?: boolean;
  /** True by default: drop the last incomplete batch, so every batch has `batchSize` examples. */
  dropLast?: boolean;
  /** Image scaling; '[-1,1]' (the diffusion models' range) by default. */
  scale?: Scale;
  /** Pad every spatial modality to `padTo x padTo`, centred (e.g. 32 for 28x28 images). */
  padTo?: number;
  /** The modalities to batch (default: all the dataset has). */
  modalities?: readonly string[];
  /** Add `<key>OneHot` float32 `[B, K]` beside each label modality. */
  oneHot?: boolean;
  /** First epoch (0 by default): resuming at epoch e reproduces the batches an unbroken run had. */
  epoch?: number;
  /** Number of epochs to stream (1 by default; Infinity streams for ever). */
  epochs?: number;
}

/** Number of batches one epoch yields. */
export function epochLength(dataset: Dataset | number, options: { batchSize: number; dropLast?: boolean }): number {
  const where = 'epochLength';
  const length = typeof dataset === 'number' ? dataset : dataset.length;
  checkInt(where, 'length', length, 0);
  checkInt(where, 'batchSize', options.batchSize, 1);
  const dropLast = options.dropLast ?? true;
  return dropLast ? Math.floor(length / options.batchSize) : Math.ceil(length / options.batchSize);
}

/** The order in which epoch `epoch` visits the examples: a seeded permutation, or 0..n-1 unshuffled. */
export function epochOrder(length: number, options: { seed: number; epoch: number; shuffle?: boolean }): Int32Array {
  const where = 'epochOrder';
  checkInt(where, 'length', length, 0);
  checkInt(where, 'epoch', options.epoch, 0);
  if (typeof options.seed !== 'number' || !Number.isSafeInteger(options.seed)) {
    throw new RangeError(`${where}: seed must be a safe integer, got ${String(options.seed)}`);
  }
  if (options.shuffle === false) return Int32Array.from({ length }, (_, i) => i);
  return createRng(options.seed).fork(options.epoch).permutation(length);
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: Batch): void {
  for (const t of Object.values(batch)) t.dispose();
}

interface Plan {
  readonly key: string;
  readonly spec: ModalitySpec;
  /** Spatial size before and after padding, and the top/left offsets. */
  readonly h: number;
  readonly w: number;
  readonly outH: number;
  readonly outW: number;
  readonly top: number;
  readonly left: number;
}

function plan(where: string, dataset: Dataset, options: Pick<BatchOptions, 'modalities' | 'padTo'>): Plan[] {
  const keys = options.modalities ?? Object.keys(dataset.modalities);
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new RangeError(`${where}: modalities must be a non-empty list of ${dataset.name}'s modalities, got ${String(keys)}`);
  }
  const padTo = options.padTo;
  if (padTo !== undefined) checkInt(where, 'padTo', padTo, 1);
  return keys.map((key) => {
    const spec = dataset.modalities[key];
    if (spec === undefined) {
      throw new RangeError(
        `${where}: modalities must name modalities of ${dataset.name} (${Object.keys(dataset.modalities).join(', ')}), got ${key}`,
      );
    }
    if (spec.kind === 'label') return { key, spec, h: 1, w: 1, outH: 1, outW: 1, top: 0, left: 0 };
    const [h, w] = spec.shape;
    if (padTo === undefined) return { key, spec, h, w, outH: h, outW: w, top: 0, left: 0 };
    if (padTo < h || padTo < w) {
      throw new RangeError(`${where}: padTo must be >= the ${key} size ${h}x${w}, got ${padTo}`);
    }
    return { key, spec, h, w, outH: padTo, outW: padTo, top: Math.floor((padTo - h) / 2), left: Math.floor((padTo - w) / 2) };
  });
}

function badExample(where: string, dataset: Dataset, index: number, key: string, what: string): RangeError {
  return new RangeError(`${where}: ${dataset.name}.get(${index}).${key} ${what}`);
}

/**
 * Builds one batch from the examples at `indices`, in that order (the batcher's building block;
 * also handy for a fixed evaluation batch). The caller owns the tensors: `disposeBatch` them.
 */
export function makeBatch(
  dataset: Dataset,
  indices: ArrayLike<number>,
  options: Pick<BatchOptions, 'scale' | 'padTo' | 'modalities' | 'oneHot'> = {},
): Batch {
  const where = 'makeBatch';
  const scale = options.scale ?? '[-1,1]';
  if (scale !== '[-1,1]' && scale !== '[0,1]') throw new RangeError(`${where}: scale must be '[-1,1]' or '[0,1]', got ${String(scale)}`);
  const plans = plan(where, dataset, options);
  const b = indices.length;
  if (b < 1) throw new RangeError(`${where}: indices must not be empty`);
  const examples: Array<Record<string, ModalityExample>> = [];
  for (let n = 0; n < b; n++) examples.push(dataset.get(indices[n]!));

  // Fill every array first, then make the tensors: an invalid example throws before any tensor exists.
  const arrays: Array<[string, Float32Array | Int32Array, number[], 'float32' | 'int32']> = [];
  for (const p of plans) {
    const { key, spec, h, w, outH, outW, top, left } = p;
    if (spec.kind === 'label') {
      const labels = new Int32Array(b);
      const oneHot = options.oneHot ? new Float32Array(b * spec.numClasses) : undefined;
      for (let n = 0; n < b; n++) {
        const ex = examples[n]![key];
        const value = ex?.kind === 'label' ? ex.value : Number.NaN;
        if (!Number.isInteger(value) || value < 0 || value >= spec.numClasses) {
          throw badExample(where, dataset, indices[n]!, key, `must be a label in 0..${spec.numClasses - 1}, got ${ex?.kind === 'label' ? value : ex?.kind}`);
        }
        labels[n] = value;
        if (oneHot) oneHot[n * spec.numClasses + value] = 1;
      }
      arrays.push([key, labels, [b], 'int32']);
      if (oneHot) arrays.push([`${key}OneHot`, oneHot, [b, spec.numClasses], 'float32']);
      continue;
    }
    const c = spec.kind === 'image' ? spec.shape[2] : 1;
    const plane = outH * outW * c;
    let out: Float32Array | Int32Array;
    let mul = 1;
    let add = 0;
    if (spec.kind === 'segmentation') {
      out = new Int32Array(b * plane); // padding = class 0
    } else if (spec.kind === 'mask') {
      out = new Float32Array(b * plane).fill(1); // padding is kept, not masked
    } else {
      const unit = spec.dtype === 'uint8' ? 255 : 1;
      // [-1,1]: x / (unit / 2) - 1, as one float64 expression per value.
      mul = scale === '[-1,1]' ? 2 / unit : 1 / unit;
      add = scale === '[-1,1]' ? -1 : 0;
      out = new Float32Array(b * plane).fill(add); // padding = black
    }
    const exact = spec.kind === 'image' && scale === '[-1,1]';
    const unitHalf = spec.kind === 'image' && spec.dtype === 'uint8' ? 127.5 : 0.5;
    for (let n = 0; n < b; n++) {
      const ex = examples[n]![key];
      if (ex === undefined || ex.kind !== spec.kind || !('data' in ex) || ex.data.length !== h * w * c) {
        throw badExample(where, dataset, indices[n]!, key, `must be ${spec.kind} data of ${h}*${w}*${c} values, got ${ex === undefined ? 'nothing' : `${ex.kind}${'data' in ex ? ` of ${ex.data.length} values` : ''}`}`);
      }
      const src = ex.data;
      const base = n * plane;
      for (let y = 0; y < h; y++) {
        const rowOut = base + ((top + y) * outW + left) * c;
        const rowIn = y * w * c;
        if (spec.kind === 'image') {
          // Division by 127.5 (or 0.5) is correctly rounded, so [-1,1] values are exact to float32.
          if (exact) for (let k = 0; k < w * c; k++) out[rowOut + k] = src[rowIn + k]! / unitHalf - 1;
          else for (let k = 0; k < w * c; k++) out[rowOut + k] = src[rowIn + k]! * mul + add;
        } else {
          for (let k = 0; k < w * c; k++) out[rowOut + k] = src[rowIn + k]!;
        }
      }
      if (spec.kind === 'segmentation') {
        for (let k = 0; k < h * w; k++) {
          const v = src[k]!;
          if (!(v >= 0 && v < spec.numClasses)) {
            throw badExample(where, dataset, indices[n]!, key, `must hold classes in 0..${spec.numClasses - 1}, got ${v}`);
          }
        }
      }
    }
    const shape = spec.kind === 'segmentation' ? [b, outH, outW] : [b, outH, outW, c];
    arrays.push([key, out, shape, spec.kind === 'segmentation' ? 'int32' : 'float32']);
  }
  const batch: Batch = {};
  for (const [key, data, shape, dtype] of arrays) batch[key] = tf.tensor(data, shape, dtype);
  return batch;
}

/**
 * Streams batches: epoch after epoch, each in its seeded order, `batchSize` examples per batch
 * (the last smaller one only with `dropLast: false`). Tensors exist only for the batch being
 * yielded; dispose each with `disposeBatch` when done. A plain generator: use `for ... of` or
 * `for await ... of`.
 */
export function batches(dataset: Dataset, options: BatchOptions): Generator<Batch, void, undefined> {
  const where = 'batches';
  const { batchSize, seed, shuffle = true, dropLast = true, epoch = 0, epochs = 1 } = options;
  checkInt(where, 'batchSize', batchSize, 1);
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  checkInt(where, 'epoch', epoch, 0);
  if (epochs !== Number.POSITIVE_INFINITY) checkInt(where, 'epochs', epochs, 1);
  if (options.scale !== undefined && options.scale !== '[-1,1]' && options.scale !== '[0,1]') {
    throw new RangeError(`${where}: scale must be '[-1,1]' or '[0,1]', got ${String(options.scale)}`);
  }
  plan(where, dataset, options);
  const perEpoch = epochLength(dataset.length, { batchSize, dropLast });
  if (perEpoch === 0) {
    throw new RangeError(
      `${where}: ${dataset.name} has ${dataset.length} examples, too few for one batch of ${batchSize}${dropLast ? ' with dropLast' : ''}`,
    );
  }
  // Validation above runs at the call; the generator below runs lazily, one batch per next().
  return (function* stream() {
    for (let e = epoch; e < epoch + epochs; e++) {
      const order = epochOrder(dataset.length, { seed, epoch: e, shuffle });
      for (let k = 0; k < perEpoch; k++) {
        yield makeBatch(dataset, order.subarray(k * batchSize, Math.min((k + 1) * batchSize, order.length)), options);
      }
    }
  })();
}
