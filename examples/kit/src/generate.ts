import * as tf from '@tensorflow/tfjs';
import { sample, type RestorationOptions, type SampleOptions } from '@mtd/sampler';

export interface GenerateAllOptions extends Omit<SampleOptions, 'batchSize' | 'firstExample' | 'known' | 'z0Known' | 'restoration'> {
  /** Examples to generate in all. */
  n: number;
  /** Examples per `sample` call (memory bound); the result does not depend on it (per-example seeds). */
  batchSize: number;
  /** Known modality values of examples `first .. first + size - 1`; disposed after the batch. */
  known?: (first: number, size: number) => Record<string, tf.Tensor>;
  /** A known `z_0` for the batch (generate the modalities from given images); disposed after the batch. */
  z0Known?: (first: number, size: number) => tf.Tensor;
  /** Restoration inputs for the batch; their tensors are disposed after the batch. */
  restoration?: (first: number, size: number) => RestorationOptions;
}

export interface Generated {
  /** `[n, ...shape]` row-major. */
  z0: Float32Array;
  /** Per modality: a gaussian modality's values, a categorical one's probabilities `[n, K]`. */
  values: Record<string, Float32Array>;
  /** Per categorical modality: the argmax labels `[n]`. */
  labels: Record<string, Int32Array>;
}

/**
 * `n` examples from `sample` in batches, read back into plain arrays. Every example's noise comes
 * from `(seed, example index)` (the sampler's `firstExample`), so the output is the same for any
 * `batchSize`.
 */
export async function generateAll(options: GenerateAllOptions): Promise<Generated> {
  const where = 'generateAll';
  const { n, batchSize, known, z0Known, restoration, ...rest } = options;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: options.n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`${where}: options.batchSize must be an integer >= 1, got ${String(batchSize)}`);
  const per = rest.shape.reduce((a, b) => a * b, 1);
  const z0 = new Float32Array(n * per);
  const values: Record<string, Float32Array> = {};
  const labels: Record<string, Int32Array> = {};
  for (let first = 0; first < n; first += batchSize) {
    const size = Math.min(batchSize, n - first);
    const batchKnown = known?.(first, size);
    const batchZ0 = z0Known?.(first, size);
    const batchRestoration = restoration?.(first, size);
    try {
      const result = await sample({
        ...rest,
        batchSize: size,
        firstExample: first,
        ...(batchKnown ? { known: batchKnown } : {}),
        ...(batchZ0 ? { z0Known: batchZ0 } : {}),
        ...(batchRestoration ? { restoration: batchRestoration } : {}),
      });
      try {
        z0.set((await result.z0.data()) as Float32Array, first * per);
        for (const [name, m] of Object.entries(result.modalities)) {
          const t = m.kind === 'gaussian' ? m.value : m.probs;
          const width = t.size / size;
          const data = (await t.data()) as Float32Array;
          (values[name] ??= new Float32Array(n * width)).set(data, first * width);
          if (m.kind === 'categorical') (labels[name] ??= new Int32Array(n)).set((await m.labels.data()) as Int32Array, first);
        }
      } finally {
        tf.dispose(result as unknown as tf.TensorContainer);
      }
    } finally {
      tf.dispose([...Object.values(batchKnown ?? {}), ...(batchZ0 ? [batchZ0] : []), ...(batchRestoration ? [batchRestoration.image, batchRestoration.keep] : [])]);
    }
  }
  return { z0, values, labels };
}
