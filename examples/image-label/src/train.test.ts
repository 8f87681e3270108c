import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadSafetensors } from '@mtd/io';
import type { Rng } from '@mtd/random';
import type { TrainBatch } from '@mtd/train';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfig, type RunConfig } from './config.js';
import { buildClassifier } from './model.js';
import { curveSteps, trainClassifier } from './train.js';

const dir = mkdtempSync(join(tmpdir(), 'mtd-image-label-train-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('curveSteps', () => {
  it('spaces the points evenly and ends at the last step', () => {
    expect(curveSteps(300, 10)).toEqual([30, 60, 90, 120, 150, 180, 210, 240, 270, 300]);
    expect(curveSteps(10, 3)).toEqual([3, 7, 10]);
    // More points than steps: each step at most once.
    expect(curveSteps(2, 5)).toEqual([1, 2]);
    expect(() => curveSteps(0, 3)).toThrow(/curveSteps: steps must be an integer >= 1, got 0/);
  });
});

/** An easy task: class k is an image of constant brightness -1 + 2k/9, plus a little noise. */
function easyDraw(config: RunConfig) {
  const s = config.imageSize;
  return (rng: Rng, B: number): TrainBatch => {
    const ids = Int32Array.from({ length: B }, () => rng.int(config.classes));
    const x = new Float32Array(B * s * s);
    for (let i = 0; i < B; i++) for (let p = 0; p < s * s; p++) x[i * s * s + p] = -1 + (2 * ids[i]!) / 9 + 0.05 * rng.normal();
    return { z0: tf.tensor4d(x, [B, s, s, 1]), values: { label: tf.tensor1d(ids, 'int32') } };
  };
}

describe('trainClassifier', () => {
  const config = presetConfig('tiny');
  // 4x4 images: the classifier head is size-agnostic (convolutions and a global pool), and the cpu backend's conv gradients are slow.
  config.imageSize = 4;
  config.train = { ...config.train, steps: 8, batchSize: 8, lr: 3e-2, ema: 0 };
  config.classify = { ...config.classify, curvePoints: 2 };

  it('lowers the cross-entropy on an easy task, writes log.jsonl and the weights, and is deterministic', async () => {
    const runs: number[][] = [];
    for (const run of [0, 1]) {
      const c = buildClassifier('supE', config);
      const before = tf.memory().numTensors;
      let evaluations = 0;
      try {
        const result = await trainClassifier({
          label: 'test',
          classifier: c,
          draw: easyDraw(config),
          config,
          dir: join(dir, `run${run}`),
          evaluate: async () => ({ top1: ++evaluations / 10, top5: 1 }),
          log: () => undefined,
          progress: 'off',
        });
        expect(tf.memory().numTensors).toBe(before);
        runs.push(result.losses.loss);
        expect(result.steps).toBe(8);
        expect(result.curve).toEqual([
          { step: 4, top1: 0.1, top5: 1 },
          { step: 8, top1: 0.2, top5: 1 },
        ]);
        const first = result.losses.loss.slice(0, 2).reduce((a, b) => a + b) / 2;
        const last = result.losses.loss.slice(-2).reduce((a, b) => a + b) / 2;
        expect(last).toBeLessThan(first);
        const lines = readFileSync(join(dir, `run${run}`, 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { step: number; loss: number });
        expect(lines.map((l) => l.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        const weights = await loadSafetensors(join(dir, `run${run}`, 'model.safetensors'));
        expect(Object.keys(weights.tensors).sort()).toEqual(c.variables.map((v) => v.name).sort());
        // With ema 0 the saved (EMA) weights are the final weights.
        const v = c.variables[0]!;
        expect(Array.from(weights.tensors[v.name]!.data as Float32Array)).toEqual(Array.from(await v.variable.data()));
      } finally {
        c.dispose();
      }
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(existsSync(join(dir, 'run0', 'model.safetensors'))).toBe(true);
  });

  it('rejects batches without labels', async () => {
    const c = buildClassifier('supE', config);
    try {
      const draw = (_rng: Rng, B: number): TrainBatch => ({ z0: tf.zeros([B, config.imageSize, config.imageSize, 1]), values: {} });
      await expect(trainClassifier({ label: 'test', classifier: c, draw, config, dir: join(dir, 'bad'), log: () => undefined, progress: 'off' })).rejects.toThrow(
        /trainClassifier: draw must give values.label/,
      );
    } finally {
      c.dispose();
    }
  });
});
