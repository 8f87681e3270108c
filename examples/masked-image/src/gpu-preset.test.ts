import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { buildModel, checkModels } from './pipeline.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The gpu preset cannot be run here (no GPU); this checks that its models build and run a forward
// pass, so a config error does not wait for someone with a GPU to find it.
describe('the gpu preset', () => {
  it('builds every model it lists, and each maps a 32x32 z_t to eps and the masked-image estimate', () => {
    const config = presetConfig('gpu');
    const s = config.imageSize;
    for (const kind of checkModels(config.models)) {
      const { model } = buildModel(kind, config);
      try {
        tf.tidy(() => {
          const out = model.forward({ zt: tf.randomNormal([1, s, s, 1], 0, 1, 'float32', 1), t: tf.tensor1d([500], 'int32'), known: {} });
          expect(out.eps.shape, kind).toEqual([1, s, s, 1]);
          if (kind !== 'ddpm') expect(out.heads['masked']!.shape, kind).toEqual([1, s, s, 1]);
          expect(Number.isFinite(tf.sum(out.eps).dataSync()[0]!)).toBe(true);
        });
      } finally {
        model.dispose();
      }
    }
  });
});
