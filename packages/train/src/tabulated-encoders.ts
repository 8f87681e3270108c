import * as tf from '@tensorflow/tfjs';
import { frozenEncoder } from '@mtd/aggregation';
import type { Modality } from '@mtd/sampler';
import { typeFail } from '@mtd/errors';

export interface TabulatedModalities {
  /** The same modalities, each categorical one's encoder replaced by a lookup in its table. */
  readonly modalities: readonly Modality[];
  /** Frees the tables. */
  dispose(): void;
}

/**
 * For sampling with fixed weights: encodes each categorical modality's `K` one-hot vectors once
 * and returns modalities whose encoders are `p @ table`. The sampler re-encodes the head's
 * estimate at every step, and `unetLabelEncoder` computes its table with a U-Net pass at batch
 * `K` each time; with the table fixed, a step costs one U-Net pass instead of two. Exact for
 * encoders linear in the probabilities, which every categorical encoder here is (MATH.md 5.3:
 * `E(p) = sum_k p_k e_k`). Gaussian modalities are passed through unchanged. Only valid while the
 * weights do not change: build it after training, dispose it after sampling.
 */
export function tabulateCategoricalEncoders(modalities: readonly Modality[]): TabulatedModalities {
  if (!Array.isArray(modalities)) typeFail('tabulateCategoricalEncoders', 'modalities', 'an array of Modality', modalities);
  const tables: tf.Tensor[] = [];
  const out = modalities.map((m): Modality => {
    if (m.kind !== 'categorical') return m;
    const K = m.classes;
    let each: number[] = [];
    const table = tf.tidy(() => {
      const e = m.encoder.encode(tf.eye(K));
      each = e.shape.slice(1);
      return tf.reshape(e, [K, -1]) as tf.Tensor2D;
    });
    tables.push(table);
    const encode = (p: tf.Tensor) => tf.tidy(() => tf.reshape(tf.matMul(p as tf.Tensor2D, table), [p.shape[0]!, ...each]));
    return { ...m, encoder: frozenEncoder(encode, `${m.encoder.name ?? 'encoder'}, tabulated`) };
  });
  return { modalities: out, dispose: () => tf.dispose(tables) };
}
