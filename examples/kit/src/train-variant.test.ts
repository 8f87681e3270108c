import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { cosineSchedule } from '@mtd/schedule';
import { mlpModel } from '@mtd/train';
import { parameterCount, trainVariant } from './train-variant.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const config = { seed: 3, steps: 6, batchSize: 4, lr: 1e-2, warmupSteps: 0, clipGradNorm: 1, ema: 0.5, checkpointEvery: 3 };
const draw = (rng: { normal(): number }, B: number) => ({ z0: tf.tensor2d(Array.from({ length: B * 2 }, () => 0.5 + 0.1 * rng.normal()), [B, 2]), values: {} });

describe('trainVariant', () => {
  it('trains, records one loss per step, writes checkpoints and the log, and leaves the EMA weights in the model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kit-train-'));
    const model = mlpModel({ dim: 2, modalities: [], hidden: 8, depth: 2, timeFeatures: 4, seed: 0 });
    try {
      const before = model.variables.map((v) => v.variable.dataSync().slice());
      const lines: string[] = [];
      const tensors = tf.memory().numTensors;
      const seen: number[] = [];
      const r = await trainVariant({ label: 'toy', model, modalities: [], schedule: cosineSchedule({ T: 50 }), draw, config, dir, progress: 'off', log: (l) => lines.push(l), onStep: (s) => void seen.push(s.step) });
      expect(seen).toEqual([1, 2, 3, 4, 5, 6]);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(r.steps).toBe(6);
      expect(r.losses.loss).toHaveLength(6);
      expect(r.losses.noise).toHaveLength(6);
      expect(r.finalNoiseLoss).toBe(r.losses.noise[5]);
      expect(r.losses.loss.every(Number.isFinite)).toBe(true);
      expect(lines[0]).toBe(`training toy (${parameterCount(model)} parameters), 6 steps at batch 4`);
      expect(model.variables.some((v, i) => v.variable.dataSync().some((x, j) => x !== before[i]![j]))).toBe(true);
      expect((await readFile(join(dir, 'log.jsonl'), 'utf8')).trim().split('\n').length).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(await readFile(join(dir, 'checkpoints', 'latest.json'), 'utf8'))).toBeTruthy();
      // The same config and draw give the same losses (seeded data stream and timesteps).
      const again = mlpModel({ dim: 2, modalities: [], hidden: 8, depth: 2, timeFeatures: 4, seed: 0 });
      const r2 = await trainVariant({ label: 'toy', model: again, modalities: [], schedule: cosineSchedule({ T: 50 }), draw, config, dir: join(dir, 'again'), progress: 'off', log: () => {} });
      again.dispose();
      expect(r2.losses.loss).toEqual(r.losses.loss);
    } finally {
      model.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parameterCount', () => {
  it('sums the sizes of the variables', () => {
    const model = mlpModel({ dim: 2, modalities: [], hidden: 3, depth: 1, timeFeatures: 2, seed: 0 });
    try {
      expect(parameterCount(model)).toBe(model.variables.reduce((s, v) => s + v.variable.shape.reduce((a, b) => a * b, 1), 0));
      expect(parameterCount(model)).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  });
});
