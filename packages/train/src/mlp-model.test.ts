import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import type { Modality } from '@mtd/sampler';
import { expectNoLeak } from '@mtd/testkit';
import { mlpModel } from './mlp-model.js';
import { asDiffusionModel, checkTrainableModel } from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const table = tf.tensor2d([[1, 0, 0], [0, 1, 0]]);
afterAll(() => table.dispose());
const label: Modality = { name: 'label', kind: 'categorical', classes: 2, encoder: { encode: (p) => tf.matMul(p as tf.Tensor2D, table) }, weight: sqrtAlphaBarWeight(0.1) };
const rep: Modality = { name: 'rep', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.1) };

describe('mlpModel', () => {
  const model = mlpModel({ dim: 3, modalities: [label, rep], hidden: 8, depth: 3, timeFeatures: 4, seed: 2, gaussianSizes: { rep: 3 } });
  afterAll(() => model.dispose());
  const zt = tf.tensor2d([[0.1, -0.2, 0.3], [1, 2, -1]]);
  const t = tf.tensor1d([3, 40], 'int32');
  const p = tf.tensor2d([[1, 0], [0, 1]]);
  const r = tf.tensor2d([[0.5, 0.5, 0.5], [-1, 0, 1]]);
  afterAll(() => tf.dispose([zt, t, p, r]));

  test('eps shaped like z_t, logits [B, K], gaussian heads [B, size]; a TrainableModel with named variables', () => {
    tf.tidy(() => {
      const out = model.forward({ zt, t, known: {} });
      expect(out.eps.shape).toEqual([2, 3]);
      expect(out.heads['label']!.shape).toEqual([2, 2]);
      expect(out.heads['rep']!.shape).toEqual([2, 3]);
    });
    expect(checkTrainableModel('test', 'model', model)).toBe(model);
    expect(model.variables.map((v) => v.name)).toEqual([
      'layers.0.weight', 'layers.0.bias', 'layers.1.weight', 'layers.1.bias', 'context.1.weight',
      'layers.2.weight', 'layers.2.bias', 'context.2.weight', 'out.weight', 'out.bias',
    ]);
    // Input: z (3) + label (2 + flag) + rep (3 + flag) + time (4).
    expect(model.variables[0]!.variable.shape).toEqual([3 + 3 + 4 + 4, 8]);
  });

  test('the conditioning path: a dropped example (presence 0) is exactly the unknown input; a known one differs', () => {
    tf.tidy(() => {
      const none = model.forward({ zt, t, known: {} }).eps.arraySync() as number[][];
      const both = model.forward({ zt, t, known: { label: p, rep: r } }).eps.arraySync() as number[][];
      const mixed = model.forward({ zt, t, known: { label: p, rep: r }, present: { label: tf.tensor1d([0, 1]), rep: tf.tensor1d([0, 1]) } }).eps.arraySync() as number[][];
      expect(mixed[0]).toEqual(none[0]);
      expect(mixed[1]).toEqual(both[1]);
      expect(both[0]).not.toEqual(none[0]);
    });
  });

  test('examples are independent (the sampler needs it): a batch of 2 equals two batches of 1', () => {
    tf.tidy(() => {
      const whole = model.forward({ zt, t, known: { label: p } }).eps.arraySync() as number[][];
      const one = model.forward({ zt: tf.slice(zt, [1, 0], [1, 3]), t: tf.slice(t, [1], [1]), known: { label: tf.slice(p, [1, 0], [1, 2]) } }).eps.arraySync() as number[][];
      expect(one[0]).toEqual(whole[1]);
    });
  });

  test('same seed, same weights; the sampler view runs; no leaks', async () => {
    const again = mlpModel({ dim: 3, modalities: [label, rep], hidden: 8, depth: 3, timeFeatures: 4, seed: 2, gaussianSizes: { rep: 3 } });
    expect(Array.from(again.variables[2]!.variable.dataSync())).toEqual(Array.from(model.variables[2]!.variable.dataSync()));
    again.dispose();
    const view = asDiffusionModel(model);
    await expectNoLeak(() => tf.tidy(() => view({ zt, t, known: { label: p } }).eps));
    const present = tf.tensor1d([1, 0]);
    await expectNoLeak(() => model.forward({ zt, t, known: { label: p, rep: r }, present: { rep: present } }));
    present.dispose();
  });

  test('bad options and inputs are named', () => {
    expect(() => mlpModel({ dim: 0, modalities: [] })).toThrow('mlpModel: options.dim must be an integer >= 1, got 0');
    expect(() => mlpModel({ dim: 2, modalities: [label], conditioning: ['lable'] })).toThrow('mlpModel: options.conditioning must be modality names (label), got "lable"');
    expect(() => mlpModel({ dim: 2, modalities: [label], timeFeatures: 5 })).toThrow('mlpModel: options.timeFeatures must be an even integer, got 5');
    expect(() => model.forward({ zt: tf.zeros([2, 4]), t, known: {} })).toThrow(/MlpModel.forward: input.zt must be a float32 tensor \[B, 3\]/);
    expect(() => model.forward({ zt, t, known: { rep: tf.zeros([2, 4]) } })).toThrow(/input.known.rep must be 3 values per example/);
  });
});
