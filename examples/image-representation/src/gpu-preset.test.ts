import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { buildModel } from './pipeline.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The gpu preset cannot be run here (no GPU); this checks that its models build and run a forward
// pass, so a config error does not wait for someone with a GPU to find it.
describe('the gpu preset', () => {
  it('builds MT-Diffusion and the DDPM, each running on a 32x32 batch (MT: the 64-d representation estimate)', () => {
    const config = presetConfig('gpu');
    const s = config.imageSize;
    for (const kind of ['mt', 'ddpm'] as const) {
      const { model } = buildModel(kind, config, 64);
      try {
        tf.tidy(() => {
          const out = model.forward({ zt: tf.randomNormal([1, s, s, 1], 0, 1, 'float32', 1), t: tf.tensor1d([500], 'int32'), known: {} });
          expect(out.eps.shape, kind).toEqual([1, s, s, 1]);
          if (kind === 'mt') expect(Object.values(out.heads)[0]!.shape, kind).toEqual([1, 64]);
        });
      } finally {
        model.dispose();
      }
    }
  });
});
