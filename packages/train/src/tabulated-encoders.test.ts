import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { middleMlpHead } from '@mtd/heads';
import { createRng } from '@mtd/random';
import { sample, type CategoricalModality, type GaussianModality } from '@mtd/sampler';
import { cosineSchedule } from '@mtd/schedule';
import { createUNet } from '@mtd/unet';
import { asDiffusionModel } from './model.js';
import { mtModel } from './mt-model.js';
import { tabulateCategoricalEncoders } from './tabulated-encoders.js';
import { useCpu } from './test-setup.testutil.js';
import { unetLabelEncoder } from './unet-label-encoder.js';

beforeAll(useCpu);

describe('tabulateCategoricalEncoders', () => {
  test('joint samples are bit for bit those with the U-Net label encoder, with one U-Net pass per step instead of two; no leaks', async () => {
    const u = createUNet({ imageSize: 8, inChannels: 1, baseChannels: 8, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 4, numClasses: 3 }, { seed: 4 });
    // ADM zero-inits the output conv, which would make every encoding zero: perturb everything.
    const rng = createRng(9);
    for (const v of u.variables) tf.tidy(() => v.assign(tf.add(v, tf.mul(0.05, tf.tensor(rng.fillNormal(new Float32Array(v.size)), v.shape)))));
    const label: CategoricalModality = { name: 'label', kind: 'categorical', classes: 3, encoder: unetLabelEncoder({ unet: u, classes: 3 }), weight: sqrtAlphaBarWeight(0.5) };
    const side: GaussianModality = { name: 'side', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.1) };
    const head = middleMlpHead({ name: 'label', inChannels: 8, outDim: 3, kind: 'categorical', seed: 2 });
    const model = mtModel({ unet: u, heads: { label: head }, modalities: [label, side], conditioning: { label: 'none', side: 'none' } });
    const schedule = cosineSchedule({ T: 30 });
    const sideValue = tf.zeros([2, 8, 8, 1]);
    const run = async (modalities: readonly (CategoricalModality | GaussianModality)[]) => {
      let kernels = 0;
      const info = await tf.profile(async () => {
        const r = await sample({ model: asDiffusionModel(model), schedule, modalities, shape: [8, 8, 1], batchSize: 2, seed: 5, steps: 3, known: { side: sideValue } });
        const out = { z0: Array.from(await r.z0.data()), probs: Array.from(await (r.modalities['label'] as { probs: tf.Tensor }).probs.data()) };
        tf.dispose(r as unknown as tf.TensorContainer);
        return out as unknown as tf.TensorContainer;
      });
      kernels = info.kernels.filter((k) => k.name === 'Conv2D' || k.name === 'FusedConv2D').length;
      return { result: info.result as unknown as { z0: number[]; probs: number[] }, kernels };
    };
    const direct = await run([label, side]);
    const before = tf.memory().numTensors;
    const tab = tabulateCategoricalEncoders([label, side]);
    expect(tab.modalities[1]).toBe(side);
    const tabulated = await run(tab.modalities);
    tab.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // Bit for bit: the table is exactly the U-Net's encodings (eye @ table adds only exact zeros).
    expect(tabulated.result.z0).toEqual(direct.result.z0);
    expect(tabulated.result.probs).toEqual(direct.result.probs);
    // The U-Net's convolutions run once per step (plus the table once), not twice.
    expect(tabulated.kernels).toBeLessThan(direct.kernels * 0.6);
    model.dispose();
    sideValue.dispose();
  });

  test('names a bad argument', () => {
    expect(() => tabulateCategoricalEncoders('label' as never)).toThrow(/tabulateCategoricalEncoders: modalities must be an array of Modality/);
  });
});
