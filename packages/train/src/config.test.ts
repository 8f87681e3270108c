import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectNoLeak } from '@mtd/testkit';
import { validateConfig } from './config.js';
import { buildExperiment } from './experiment.js';
import { useCpu } from './test-setup.testutil.js';
import { Trainer } from './trainer.js';

beforeAll(useCpu);

const mixture = {
  data: { dataset: 'mixture', batchSize: 8 },
  schedule: { kind: 'cosine', T: 50 },
  model: { type: 'mlp', hidden: 8, depth: 2 },
  modalities: { label: { weight: 0.05 } },
  train: { steps: 2, lr: 1e-3 },
};
const shapes = {
  seed: 3,
  data: { dataset: 'shapes', batchSize: 2, size: 8, count: 10, maskK: 2 },
  schedule: { T: 20 },
  model: { type: 'unet', baseChannels: 4, channelMults: [1], numResBlocks: 1, groups: 2 },
  modalities: { masked: { weight: { kind: 'constant', w: 0.01, form: 'wPrime' } } },
  train: { steps: 2, lr: 1e-3, clipGradNorm: 1, ema: false },
};

describe('validateConfig', () => {
  test('fills in the defaults', () => {
    const c = validateConfig(mixture);
    expect(c.seed).toBe(0);
    expect(c.model).toEqual({ type: 'mlp', hidden: 8, depth: 2, timeFeatures: 16 });
    expect(c.modalities['label']).toEqual({
      weight: { kind: 'sqrtAlphaBar', c: 0.05 },
      encoder: 'embedding',
      encoderGradient: false,
      head: 'linear',
      conditioning: 'input',
      conditionDropout: 0.5,
      headWeight: 1,
    });
    expect(c.train).toMatchObject({ steps: 2, lr: 1e-3, beta1: 0.9, beta2: 0.999, ema: 0.999, rho: 0.1, warmupSteps: 0, keepCheckpoints: 2, logEvery: 1 });
    const s = validateConfig(shapes);
    expect(s.modalities['masked']).toMatchObject({ encoder: 'identity', head: 'output', conditioning: 'extra', weight: { kind: 'constant', w: 0.01, form: 'wPrime' } });
    expect(s.model).toMatchObject({ attentionResolutions: [], numHeads: 1, dropout: 0, useScaleShiftNorm: false });
  });

  test.each([
    [{ ...mixture, model: { type: 'mlp', hidden: 'x' } }, 'config.model.hidden must be an integer >= 1, got "x"'],
    [{ ...shapes, model: { ...shapes.model, baseChannels: 'x' } }, 'config.model.baseChannels must be an integer >= 1, got "x"'],
    [{ ...mixture, train: { steps: 2 } }, 'config.train.lr must be a number > 0, got undefined'],
    [{ ...mixture, train: { steps: 2, lr: 1e-3, stpes: 3 } }, 'config.train.stpes is not a known field (known: '],
    [{ ...mixture, data: { dataset: 'cifar', batchSize: 2 } }, 'config.data.dataset must be one of "mixture", "fashion-mnist", "mnist", "shapes", "day-night", got "cifar"'],
    [{ ...mixture, modalities: { masked: {} } }, 'config.modalities.masked must be a modality of the mixture dataset (label), got "an unknown name"'],
    [{ ...shapes, data: { ...shapes.data, maskK: undefined } }, 'config.data.maskK must be set (an integer >= 1) when the masked modality is used, got undefined'],
    [{ ...mixture, modalities: { label: { encoder: 'unet' } } }, 'config.modalities.label.encoder must be "embedding" for an MLP model, got "unet"'],
    [{ ...mixture, model: { type: 'unet', baseChannels: 4, channelMults: [1], numResBlocks: 1 } }, 'config.model.type must be "mlp" for the mixture dataset (2-D points), got "unet"'],
    [{ ...mixture, train: { steps: 1, lr: 1, ema: 2 } }, 'config.train.ema must be a decay in [0, 1] or false, got 2'],
    [{ ...mixture, modalities: { label: { weight: -1 } } }, 'config.modalities.label.weight must be a number >= 0 (c of w_t = c sqrt(alphaBar_t)) or a weight object, got -1'],
    [{ ...shapes, model: { ...shapes.model, channelMults: [] } }, 'config.model.channelMults must be a non-empty list of integers >= 1, got an array of length 0'],
    [[], 'config must be an object, got an array of length 0'],
  ])('names the bad field (%#)', (json, message) => {
    expect(() => validateConfig(json)).toThrow(message);
  });
});

describe('buildExperiment', () => {
  test('the mixture config: an MLP on [2] with the toy label; trains; leaks nothing', async () => {
    const exp = await buildExperiment(validateConfig(mixture));
    expect(exp.shape).toEqual([2]);
    expect(exp.isImage).toBe(false);
    expect(exp.modalities.map((m) => [m.name, m.kind])).toEqual([['label', 'categorical']]);
    const trainer = new Trainer({ ...exp.trainerOptions(1), data: exp.trainingData(1) });
    await expectNoLeak(async () => {
      const r = await trainer.trainStep();
      expect(Number.isFinite(r.loss)).toBe(true);
    });
    const b = exp.evaluationBatch(5, 2);
    expect(b.z0.shape).toEqual([5, 2]);
    tf.dispose([b.z0, ...Object.values(b.values)]);
    trainer.dispose();
    exp.dispose();
  });

  test('the shapes config: a U-Net with the masked image on the extra path and an output-block head', async () => {
    const exp = await buildExperiment(validateConfig(shapes));
    expect(exp.shape).toEqual([8, 8, 3]);
    const names = exp.model.variables.map((v) => v.name);
    expect(names).toContain('heads.masked.2.weight');
    expect(names.find((n) => n.startsWith('unet.input_blocks.0.0.weight'))).toBeDefined();
    const trainer = new Trainer({ ...exp.trainerOptions(1), data: exp.trainingData(1) });
    const r = await trainer.trainStep();
    expect(Object.keys(r.terms)).toEqual(['masked']);
    expect(trainer.ema).toBeUndefined();
    const b = exp.evaluationBatch(3, 1);
    expect(b.z0.shape).toEqual([3, 8, 8, 3]);
    expect(b.values['masked']!.shape).toEqual([3, 8, 8, 3]);
    tf.dispose([b.z0, ...Object.values(b.values)]);
    trainer.dispose();
    exp.dispose();
  });

  test('restorationBatch: held-out originals, their masked copies and keep masks shaped like the images; none without masks', async () => {
    const exp = await buildExperiment(validateConfig(shapes));
    await expectNoLeak(async () => {
      const r = exp.restorationBatch(4, 2)!;
      expect(r.original.shape).toEqual([4, 8, 8, 3]);
      expect(r.masked.shape).toEqual([4, 8, 8, 3]);
      expect(r.keep.shape).toEqual([4, 8, 8, 3]);
      const [o, m, k] = [await r.original.data(), await r.masked.data(), await r.keep.data()];
      let masked = 0;
      for (let i = 0; i < o.length; i++) {
        expect(k[i] === 0 || k[i] === 1).toBe(true);
        if (k[i] === 1) expect(m[i]).toBe(o[i]);
        else {
          expect(m[i]).toBe(-1); // the zero pixel value in [-1, 1]
          masked++;
        }
      }
      expect(masked).toBeGreaterThan(0);
      // The same held-out images as evaluationBatch with the same seed.
      const b = exp.evaluationBatch(4, 2);
      expect(Array.from(await b.z0.data())).toEqual(Array.from(o));
      expect(Array.from(await b.values['masked']!.data())).toEqual(Array.from(m));
      tf.dispose([r.original, r.masked, r.keep, b.z0, ...Object.values(b.values)]);
    }, 'restorationBatch');
    exp.dispose();
    const toy = await buildExperiment(validateConfig(mixture));
    expect(toy.restorationBatch(4, 2)).toBeUndefined();
    toy.dispose();
  });
});
