import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { buildModel, type ModelId } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The gpu preset cannot be run here (no GPU); this checks that its models build and run a forward
// pass, so a config error does not wait for someone with a GPU to find it.
describe('the gpu preset', () => {
  it('builds all four models, each mapping a 32x32 RGB z_t to eps (and the MT models to the other image)', () => {
    const config = presetConfig('gpu');
    const s = config.imageSize;
    for (const id of ['mtSeg', 'baseSeg', 'mtDay', 'baseDay'] as ModelId[]) {
      const { model, spec } = buildModel(id, config);
      try {
        tf.tidy(() => {
          const out = model.forward({ zt: tf.randomNormal([1, s, s, 3], 0, 1, 'float32', 1), t: tf.tensor1d([500], 'int32'), known: {} });
          expect(out.eps.shape, id).toEqual([1, s, s, 3]);
          if (spec.mt) expect(out.heads[spec.modality]!.shape, id).toEqual([1, s, s, 3]);
        });
      } finally {
        model.dispose();
      }
    }
  });
});
