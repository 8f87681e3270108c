import { identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { middleMlpHead } from '@mtd/heads';
import type { Modality } from '@mtd/sampler';
import { createUNet } from '@mtd/unet';
import * as tf from '@tensorflow/tfjs';
import { generatorSource, type DataSource } from './data.js';
import { mtModel, type MtModel } from './mt-model.js';
import { unetLabelEncoder } from './unet-label-encoder.js';

/** Side of the tiny U-Net's images: one level, no downsampling (a step ~10x cheaper than 8x8). */
export const TINY = 4;

/**
 * A tiny U-Net multi-task model for training tests: a label through the U-Net's class encoder and
 * a masked image on the extra channels, with a label head. `dropout`: the U-Net's (host-drawn).
 */
export function tinyUNetModel(options: { dropout?: number } = {}): { model: MtModel; modalities: Modality[] } {
  const u = createUNet({ imageSize: TINY, inChannels: 1, baseChannels: 4, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 2, numClasses: 3, extraChannels: 1, dropout: options.dropout ?? 0 }, { seed: 9 });
  const label: Modality = { name: 'label', kind: 'categorical', classes: 3, encoder: unetLabelEncoder({ unet: u, classes: 3 }), weight: sqrtAlphaBarWeight(0.5) };
  const masked: Modality = { name: 'masked', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.2) };
  const heads = { label: middleMlpHead({ name: 'label', inChannels: 4, outDim: 3, kind: 'categorical', seed: 1 }) };
  return { model: mtModel({ unet: u, heads, modalities: [label, masked] }), modalities: [label, masked] };
}

/** Random images, labels and 70%-kept masked images for `tinyUNetModel`; `poisonAt`: the batch (1-based) whose first pixel is NaN. */
export function tinyUNetData(options: { batchSize: number; poisonAt?: number }): DataSource {
  let drawn = 0;
  return generatorSource({
    batchSize: options.batchSize,
    seed: 4,
    draw: (rng, n) => {
      drawn += 1;
      const img = rng.fillNormal(new Float32Array(n * TINY * TINY));
      if (drawn === options.poisonAt) img[0] = Number.NaN;
      const keep = Float32Array.from({ length: n * TINY * TINY }, () => (rng.uniform() < 0.7 ? 1 : 0));
      return {
        z0: tf.tensor4d(img, [n, TINY, TINY, 1]),
        values: {
          label: tf.tensor1d(Int32Array.from({ length: n }, () => rng.int(3)), 'int32'),
          masked: tf.tensor4d(img.map((v, i) => v * keep[i]!), [n, TINY, TINY, 1]),
        },
      };
    },
  });
}
