import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignWeights, readWeights } from '@mtd/example-kit';
import { presetConfig, type RunConfig } from './config.js';
import { buildModel, type ModelId } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const shipped: [ModelId, string][] = [
  ['mtSeg', '../weights/mt-diffusion-scene-map-cpu.safetensors'],
  ['mtDay', '../weights/mt-diffusion-day-night-cpu.safetensors'],
];

describe('the shipped weights', () => {
  for (const [id, file] of shipped) {
    it(`${file} loads into the ${id} model its recorded config (the cpu preset) builds`, async () => {
      const path = fileURLToPath(new URL(file, import.meta.url));
      const w = await readWeights(path);
      const config = JSON.parse(w.metadata['config']!) as RunConfig & { model: string };
      const { model: recorded, ...rest } = config;
      expect(recorded).toBe(id);
      expect(rest).toEqual(presetConfig('cpu'));
      const { model } = buildModel(id, rest);
      try {
        assignWeights(model, w, path);
        const v = model.variables[0]!;
        expect(Array.from(v.variable.dataSync())).toEqual(Array.from(w.tensors[v.name]!.data as Float32Array));
      } finally {
        model.dispose();
      }
    });
  }
});
