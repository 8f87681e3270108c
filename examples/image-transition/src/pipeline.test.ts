import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { runImageTransition, segScores, type RunSummary } from './pipeline.js';
import { MODEL_IDS } from './models.js';

const out = mkdtempSync(join(tmpdir(), 'mtd-image-transition-'));
const config = presetConfig('tiny');
let summary: RunSummary;
let numTensors = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  numTensors = tf.memory().numTensors;
  // The whole pipeline on the tiny preset: 8x8 scenes, 2 training steps per model, 8 test scenes per direction.
  summary = await runImageTransition({ config, out, backend: 'cpu', log: () => undefined, progress: 'off' });
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('runImageTransition (tiny smoke run)', () => {
  it('writes the config, checkpoints, logs, PNG grids, metrics.json and report.md', () => {
    const files = ['config.json', 'metrics.json', 'report.md', 'loss-curve.png', 'scene-to-map.png', 'map-to-scene.png', 'night-to-day.png'];
    for (const id of MODEL_IDS) files.push(`${id}/log.jsonl`, `${id}/checkpoints/latest.json`);
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).preset).toBe('tiny');
  });

  it('draws source | generated | ground truth grids with one image per column', () => {
    const s = config.imageSize * 3; // zoom 3 below 32 px
    const g = config.gridImages;
    // Cell = columns * (s + 1) - 1 wide, 2-px gaps, min(g, 4) cells per row.
    const width = (columns: number) => Math.min(g, 4) * (columns * (s + 1) - 1 + 2) + 2;
    for (const [file, columns] of [['scene-to-map.png', 6], ['map-to-scene.png', 3], ['night-to-day.png', 4]] as const) {
      const png = PNG.sync.read(readFileSync(join(out, file)));
      expect(png.width, file).toBe(width(columns));
      expect(png.height, file).toBe(Math.ceil(g / 4) * (s + 2) + 2);
    }
  });

  it('reports Table 4 scores as fractions, and the night -> day scores with honest feature labels', () => {
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunSummary;
    for (const scores of [metrics.sceneToMap.mt, metrics.sceneToMap.baseline, metrics.mapToScene.mt]) {
      for (const v of [scores.pixelAccuracy, scores.classAccuracy, scores.classIoU]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
      expect(scores.perClassAccuracy.length).toBe(config.numClasses);
    }
    for (const id of MODEL_IDS) expect(metrics.train[id].steps).toBe(config.train.steps);
    // The trivial all-background map: its pixel accuracy is the background's share, and it predicts one class.
    const floor = metrics.sceneToMap.allBackground;
    expect(floor.pixelAccuracy).toBeGreaterThan(0);
    expect(floor.classAccuracy).toBeCloseTo(1 / metrics.sceneToMap.allBackground.perClassAccuracy.filter((v) => v !== null && Number.isFinite(v)).length, 12);
    const real = metrics.nightToDay.real;
    // The ground truth scored against itself: the measures' fixed points.
    expect(real.rms).toBe(0);
    expect(real.colourAccuracy).toBe(1);
    const features = real.features as Record<string, number>;
    expect(Math.abs(features['FID (fmnist features)']!)).toBeLessThan(1e-6);
    const mt = metrics.nightToDay.mt.features as Record<string, number>;
    expect(Number.isFinite(mt['FID (fmnist features)'])).toBe(true);
    expect(Number.isFinite(mt['IS (fmnist features)'])).toBe(true);
    expect(metrics.lambdaT).toBeGreaterThan(0);
    expect(metrics.lambdaT).toBeLessThan(0.05);
  });

  it('renders report.md with our tables, the paper beside them, and no unlabelled FID', () => {
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| model | per-pixel acc. | per-class acc. | class IoU |');
    expect(report).toContain('| model | FID (fmnist features) | IS (fmnist features) | RMS to ground truth | colour-class acc. |');
    expect(report).toContain('| paper (night2day, Inception): MT-Diffusion | 37.93 | 3.94 |');
    expect(report).toContain('| paper (night2day, Inception): single-task diffusion | 40.73 | 3.84 |');
    expect(report).toContain('a different scale and dataset');
    expect(report).not.toMatch(/\| FID \|/);
  });

  it('frees every tensor it made', () => {
    expect(tf.memory().numTensors).toBe(numTensors);
  });
});

describe('segScores', () => {
  it('is Table 4\'s triple: pixel accuracy, mean class accuracy, mean IoU (hand-computed case)', () => {
    // target 0 0 1 1, predicted 0 1 1 1: pixel 3/4; class acc (1/2 + 2/2)/2; IoU (1/2 + 2/3)/2.
    const s = segScores(Uint8Array.from([0, 1, 1, 1]), Uint8Array.from([0, 0, 1, 1]), 3);
    expect(s.pixelAccuracy).toBeCloseTo(0.75, 12);
    expect(s.classAccuracy).toBeCloseTo(0.75, 12);
    expect(s.classIoU).toBeCloseTo((1 / 2 + 2 / 3) / 2, 12);
    expect(Number.isNaN(s.perClassAccuracy[2]!)).toBe(true);
  });
});
