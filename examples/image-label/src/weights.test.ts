import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { assignWeights, readWeights } from '@mtd/example-kit';
import { presetConfig, type RunConfig } from './config.js';
import { buildSchedule, buildVariant, type VariantKind } from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const shipped: [VariantKind, string][] = [
  ['mtM', '../weights/mt-diffusion-m-cpu.safetensors'],
  ['mtE', '../weights/mt-diffusion-e-cpu.safetensors'],
];

describe('the shipped weights', () => {
  for (const [kind, file] of shipped) {
    it(`${file} loads into the ${kind} model its recorded config (the cpu preset) builds`, async () => {
      const path = fileURLToPath(new URL(file, import.meta.url));
      const w = await readWeights(path);
      expect(w.metadata['dataset']).toBe('fashion-mnist');
      const config = JSON.parse(w.metadata['config']!) as RunConfig & { model: string };
      const { model: _label, ...rest } = config;
      expect(rest).toEqual(presetConfig('cpu'));
      const { model } = buildVariant(kind, rest, buildSchedule(rest));
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
