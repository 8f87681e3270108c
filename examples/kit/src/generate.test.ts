import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import type { Modality } from '@mtd/sampler';
import { cosineSchedule } from '@mtd/schedule';
import { expectNoLeak } from '@mtd/testkit';
import { asDiffusionModel, mlpModel } from '@mtd/train';
import { generateAll } from './generate.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const table = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
const label: Modality = { name: 'label', kind: 'categorical', classes: 2, encoder: { encode: (p) => tf.matMul(p as tf.Tensor2D, table) }, weight: sqrtAlphaBarWeight(0.1) };
const rep: Modality = { name: 'rep', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.1) };
const model = mlpModel({ dim: 3, modalities: [label, rep], hidden: 8, depth: 2, timeFeatures: 4, seed: 1, gaussianSizes: { rep: 3 } });
afterAll(() => {
  model.dispose();
  table.dispose();
});
const schedule = cosineSchedule({ T: 20 });
const base = { model: asDiffusionModel(model), schedule, modalities: [label, rep], shape: [3], seed: 5, steps: 4 };

describe('generateAll', () => {
  it('gives the same examples for any batch size (per-example seeds) and reads every modality back', async () => {
    const a = await generateAll({ ...base, n: 5, batchSize: 5 });
    const b = await generateAll({ ...base, n: 5, batchSize: 2 });
    expect(a.z0.length).toBe(15);
    expect(Array.from(b.z0)).toEqual(Array.from(a.z0));
    expect(a.values['rep']!.length).toBe(15);
    expect(Array.from(b.values['rep']!)).toEqual(Array.from(a.values['rep']!));
    // Categorical: probabilities [n, K] that sum to one, labels their argmax.
    const probs = a.values['label']!;
    expect(probs.length).toBe(10);
    for (let i = 0; i < 5; i++) {
      expect(probs[2 * i]! + probs[2 * i + 1]!).toBeCloseTo(1, 5);
      expect(a.labels['label']![i]).toBe(probs[2 * i]! >= probs[2 * i + 1]! ? 0 : 1);
    }
  });

  it('passes per-batch known values through and disposes them (no leak)', async () => {
    const seen: [number, number][] = [];
    const known = (first: number, size: number) => {
      seen.push([first, size]);
      return { label: tf.tidy(() => tf.oneHot(tf.fill([size], 1, 'int32') as tf.Tensor1D, 2).toFloat()) };
    };
    await expectNoLeak(async () => {
      const out = await generateAll({ ...base, n: 3, batchSize: 2, known });
      // A known categorical modality comes back as given.
      expect(Array.from(out.labels['label']!)).toEqual([1, 1, 1]);
    });
    expect(seen).toEqual([[0, 2], [2, 1]]);
  });

  it('names bad arguments', async () => {
    await expect(generateAll({ ...base, n: 0, batchSize: 1 })).rejects.toThrow(/generateAll: options.n must be an integer >= 1, got 0/);
    await expect(generateAll({ ...base, n: 2, batchSize: 1.5 })).rejects.toThrow(/generateAll: options.batchSize must be an integer >= 1, got 1.5/);
  });
});
