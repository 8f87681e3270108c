import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { buildClassifier, buildSchedule, buildVariant, type ClassifierKind, type VariantKind } from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

// The gpu preset cannot be run here (no GPU); this checks that its models build and run a forward
// pass, so a config error does not wait for someone with a GPU to find it.
describe('the gpu preset', () => {
  it('builds -M, -E, the DDPM and both supervised classifiers, each running on a 32x32 batch', () => {
    const config = presetConfig('gpu');
    const s = config.imageSize;
    const schedule = buildSchedule(config);
    for (const kind of ['mtM', 'mtE', 'ddpm'] as VariantKind[]) {
      const { model } = buildVariant(kind, config, schedule);
      try {
        tf.tidy(() => {
          const out = model.forward({ zt: tf.randomNormal([1, s, s, 1], 0, 1, 'float32', 1), t: tf.tensor1d([500], 'int32'), known: {} });
          expect(out.eps.shape, kind).toEqual([1, s, s, 1]);
          if (kind !== 'ddpm') expect(out.heads['label']!.shape, kind).toEqual([1, config.classes]);
        });
      } finally {
        model.dispose();
      }
    }
    for (const kind of ['supM', 'supE'] as ClassifierKind[]) {
      const classifier = buildClassifier(kind, config);
      try {
        tf.tidy(() => {
          expect(classifier.logits(tf.zeros([1, s, s, 1])).shape, kind).toEqual([1, config.classes]);
        });
      } finally {
        classifier.dispose();
      }
    }
  });
});
