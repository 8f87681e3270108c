import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignWeights, readWeights } from '@mtd/example-kit';
import { presetConfig, type RunConfig } from './config.js';
import { buildModel } from './pipeline.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the shipped weights', () => {
  it('load into the MT-Diffusion model the recorded config (the cpu preset) builds, with 64-d fmnist representations', async () => {
    const path = fileURLToPath(new URL('../weights/mt-diffusion-cpu.safetensors', import.meta.url));
    const w = await readWeights(path);
    expect(w.metadata['dataset']).toBe('fashion-mnist');
    const config = JSON.parse(w.metadata['config']!) as RunConfig & { model?: string };
    const { model: _kind, ...rest } = config;
    expect(rest).toMatchObject(presetConfig('cpu'));
    const { model } = buildModel('mt', rest, 64);
    try {
      assignWeights(model, w, path);
      const v = model.variables.at(-1)!;
      expect(Array.from(v.variable.dataSync())).toEqual(Array.from(w.tensors[v.name]!.data as Float32Array));
    } finally {
      model.dispose();
    }
  });
});
