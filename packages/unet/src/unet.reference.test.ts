import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { decodeSafetensors, type SafeTensor } from '@mtd/io';
import { maxAbsDiff } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUNet, type UNetConfig } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/**
 * `fixtures/*.safetensors` come from `scripts/adm_reference.py`: an independent float64 numpy
 * port of guided-diffusion's UNetModel (NCHW, PyTorch layouts), with random weights everywhere
 * (zero-initialised layers included) under PyTorch state_dict names. Loading those weights by
 * name and matching its outputs checks the names, the layout conversion and the whole forward.
 */
async function fixture(name: string) {
  const file = decodeSafetensors(new Uint8Array(await readFile(new URL(`./fixtures/${name}.safetensors`, import.meta.url))));
  const weights: Record<string, SafeTensor> = {};
  const rest: Record<string, SafeTensor> = {};
  for (const [k, v] of Object.entries(file.tensors)) (k.startsWith('input.') || k.startsWith('expected.') ? rest : weights)[k] = v;
  return { config: JSON.parse(file.metadata.config!) as UNetConfig, weights, rest };
}

/** NCHW plain data -> NHWC tensor. */
function nhwc(t: SafeTensor): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor4d(t.data as Float32Array, t.shape as [number, number, number, number]), [0, 2, 3, 1]));
}

async function relErr(actual: tf.Tensor, expectedNchw: SafeTensor): Promise<number> {
  const want = nhwc(expectedNchw);
  const [a, e] = [await actual.data(), await want.data()];
  want.dispose();
  expect(actual.shape).toEqual(want.shape);
  const scale = Math.max(...Array.from(e, Math.abs));
  return maxAbsDiff(a, e) / scale;
}

describe('UNet against the numpy port of guided-diffusion (PyTorch names and layouts)', () => {
  for (const name of ['adm-full', 'adm-plain']) {
    it(`${name}: eps and both taps agree within 1e-5 of the largest value`, async () => {
      const { config, weights, rest } = await fixture(name);
      const unet = createUNet(config);
      unet.fromSafeTensorRecord(weights);
      const input = {
        x: nhwc(rest['input.x']!),
        t: tf.tensor1d(rest['input.t']!.data as Int32Array, 'int32'),
        ...(rest['input.y'] ? { classLabels: tf.tensor1d(rest['input.y'].data as Int32Array, 'int32') } : {}),
        ...(rest['input.context'] ? { context: tf.tensor3d(rest['input.context'].data as Float32Array, rest['input.context'].shape as [number, number, number]) } : {}),
        ...(rest['input.extra'] ? { extra: nhwc(rest['input.extra']) } : {}),
      };
      const out = unet.forward(input);
      expect(await relErr(out.eps, rest['expected.eps']!)).toBeLessThan(1e-5);
      expect(await relErr(out.taps.middle, rest['expected.middle']!)).toBeLessThan(1e-5);
      expect(await relErr(out.taps.decoderFeatures, rest['expected.decoderFeatures']!)).toBeLessThan(1e-5);
      tf.dispose([out.eps, out.taps.middle, out.taps.decoderFeatures, ...Object.values(input)]);
      unet.dispose();
    });
  }
});
