import * as tf from '@tensorflow/tfjs';
import { disposeBatch, epochLength, epochOrder, makeBatch, type Dataset, type Scale } from '@mtd/datasets';
import { createRng, restoreRng, type Rng, type RngState } from '@mtd/random';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkInt } from './errors.js';

/**
 * One training batch: the clean `z_0` and the data of each modality by name (gaussian: float32
 * `[B, ...]`; categorical: int32 class ids `[B]` or float32 probabilities `[B, K]`). The trainer
 * owns and disposes it.
 */
export interface TrainBatch {
  z0: tf.Tensor;
  values: Record<string, tf.Tensor>;
}

/**
 * Where training batches come from. Resumable: `state()` is plain JSON saved in every checkpoint,
 * and `restore(state)` makes the next `next()` return what an unbroken run would have returned.
 */
export interface DataSource {
  readonly batchSize: number;
  /** The next batch; the caller owns its tensors. */
  next(): TrainBatch;
  state(): unknown;
  restore(state: unknown): void;
}

export interface GeneratorSourceOptions {
  batchSize: number;
  seed: number;
  /** Draws one batch from `rng` (its only source of randomness). */
  draw: (rng: Rng, batchSize: number) => TrainBatch;
}

/**
 * A source that synthesises every batch from a seeded stream (toys, synthetic data). Its position
 * is the stream's state, so resuming continues the same draws.
 */
export function generatorSource(options: GeneratorSourceOptions): DataSource {
  const where = 'generatorSource';
  const batchSize = checkInt(where, 'options.batchSize', options.batchSize, 1);
  const seed = checkInt(where, 'options.seed', options.seed, 0);
  if (typeof options.draw !== 'function') typeFail(where, 'options.draw', 'a function (rng, batchSize) => TrainBatch', options.draw);
  let rng = createRng(seed).fork('data');
  return {
    batchSize,
    next: () => options.draw(rng, batchSize),
    state: () => ({ kind: 'generator', rng: rng.state() }),
    restore(state: unknown) {
      const s = state as { kind?: unknown; rng?: RngState } | null;
      if (s === null || typeof s !== 'object' || s.kind !== 'generator' || s.rng === undefined) {
        rangeFail(`${where}.restore`, 'state', 'a generator source state { kind: "generator", rng }', state);
      }
      rng = restoreRng(s.rng);
    },
  };
}

export interface DatasetSourceOptions {
  batchSize: number;
  /** Seeds the per-epoch shuffle (epoch `e` uses `createRng(seed).fork(e)`, as @mtd/datasets). */
  seed: number;
  /** The dataset key that is `z_0` (an image). */
  z0: string;
  /** Modality name -> dataset key, e.g. `{ label: 'label', masked: 'masked' }`. */
  modalities: Readonly<Record<string, string>>;
  /** Image scaling; '[-1,1]' by default. */
  scale?: Scale;
  /** Pad spatial modalities to `padTo x padTo` (28x28 -> 32x32). */
  padTo?: number;
  /** True by default. */
  shuffle?: boolean;
}

/**
 * Batches of a @mtd/datasets `Dataset`, epoch after epoch in seeded order, dropping the last
 * incomplete batch. Position `{ epoch, batch }`: a resumed run gets the same batches as an
 * unbroken one, also from the middle of an epoch.
 */
export function datasetSource(dataset: Dataset, options: DatasetSourceOptions): DataSource {
  const where = 'datasetSource';
  if (dataset === null || typeof dataset !== 'object' || typeof dataset.get !== 'function') {
    typeFail(where, 'dataset', 'a Dataset from @mtd/datasets', dataset);
  }
  const batchSize = checkInt(where, 'options.batchSize', options.batchSize, 1);
  const seed = checkInt(where, 'options.seed', options.seed, 0);
  const shuffle = options.shuffle ?? true;
  const keys = Object.keys(dataset.modalities);
  const wanted = [options.z0, ...Object.values(options.modalities ?? {})];
  for (const key of wanted) {
    if (!keys.includes(key)) rangeFail(where, 'options.z0 / options.modalities', `keys of ${dataset.name} (${keys.join(', ')})`, key);
  }
  const perEpoch = epochLength(dataset.length, { batchSize });
  if (perEpoch === 0) rangeFail(where, 'options.batchSize', `at most the dataset's ${dataset.length} examples`, batchSize);
  const unique = [...new Set(wanted)];
  let epoch = 0;
  let batch = 0;
  let order: Int32Array | undefined;
  return {
    batchSize,
    next() {
      if (batch === perEpoch) {
        epoch += 1;
        batch = 0;
        order = undefined;
      }
      order ??= epochOrder(dataset.length, { seed, epoch, shuffle });
      const raw = makeBatch(dataset, order.subarray(batch * batchSize, (batch + 1) * batchSize), {
        modalities: unique,
        ...(options.scale !== undefined ? { scale: options.scale } : {}),
        ...(options.padTo !== undefined ? { padTo: options.padTo } : {}),
      });
      batch += 1;
      const values: Record<string, tf.Tensor> = {};
      for (const [name, key] of Object.entries(options.modalities)) values[name] = tf.clone(raw[key]!);
      const z0 = tf.clone(raw[options.z0]!);
      disposeBatch(raw);
      return { z0, values };
    },
    state: () => ({ kind: 'dataset', dataset: dataset.name, epoch, batch }),
    restore(state: unknown) {
      const s = state as { kind?: unknown; dataset?: unknown; epoch?: unknown; batch?: unknown } | null;
      if (s === null || typeof s !== 'object' || s.kind !== 'dataset') rangeFail(`${where}.restore`, 'state', 'a dataset source state', state);
      if (s.dataset !== dataset.name) rangeFail(`${where}.restore`, 'state.dataset', `"${dataset.name}" (the dataset of this source)`, s.dataset);
      epoch = checkInt(`${where}.restore`, 'state.epoch', s.epoch, 0);
      batch = checkInt(`${where}.restore`, 'state.batch', s.batch, 0, perEpoch);
      order = undefined;
    },
  };
}
