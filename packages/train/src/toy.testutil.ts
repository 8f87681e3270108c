import * as tf from '@tensorflow/tfjs';
import { mixtureLabel, mixtureToy, sampleMixture, type MixtureToy } from '@mtd/sampler/toy';
import type { CategoricalModality } from '@mtd/sampler';
import { generatorSource, type DataSource } from './data.js';
import { mlpModel, type MlpModel } from './mlp-model.js';

/**
 * The 2-D mixture toy of @mtd/sampler/toy as training data: `z_0` is the point, the label
 * modality its component. `nanAt` poisons the batch with that 1-based index (divergence tests).
 */
export interface ToySetup {
  toy: MixtureToy;
  label: CategoricalModality;
  model(seed: number, hidden?: number): MlpModel;
  data(options: { batchSize: number; seed: number; nanAt?: number }): DataSource;
  dispose(): void;
}

export function toySetup(T = 200): ToySetup {
  const toy = mixtureToy({ T });
  const label = mixtureLabel(toy);
  return {
    toy,
    label: label.modality,
    model: (seed, hidden = 16) => mlpModel({ dim: 2, modalities: [label.modality], hidden, depth: 2, timeFeatures: 8, seed }),
    data({ batchSize, seed, nanAt }) {
      let drawn = 0;
      return generatorSource({
        batchSize,
        seed,
        draw: (rng, B) => {
          drawn += 1;
          const { x, k } = sampleMixture(toy, B, rng.nextUint32());
          if (drawn === nanAt) x[0] = Number.NaN;
          return { z0: tf.tensor2d(x, [B, 2]), values: { label: tf.tensor1d(k, 'int32') } };
        },
      });
    },
    dispose: label.dispose,
  };
}
