import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { runImageLabel, type RunSummary } from './pipeline.js';

const out = mkdtempSync(join(tmpdir(), 'mtd-image-label-'));
let summary: RunSummary;
let numTensors = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  numTensors = tf.memory().numTensors;
  // The whole pipeline on the tiny preset: 10x10 images, 2 training steps per model, 8 samples.
  summary = await runImageLabel({ config: presetConfig('tiny'), out, backend: 'cpu', log: () => undefined, progress: 'off' });
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('runImageLabel (tiny smoke run)', () => {
  it('writes the config, checkpoints, weights, logs, PNGs, metrics.json and report.md', () => {
    const files = [
      'config.json',
      'metrics.json',
      'report.md',
      'loss-curve.png',
      'accuracy-curve.png',
      'samples-mt-diffusion-m.png',
      'samples-mt-diffusion-e.png',
      'samples-ddpm.png',
      'classification.png',
      'mt-diffusion-m/log.jsonl',
      'mt-diffusion-e/log.jsonl',
      'ddpm/log.jsonl',
      'mt-diffusion-m/checkpoints/latest.json',
      'mt-diffusion-e/checkpoints/latest.json',
      'ddpm/checkpoints/latest.json',
      'supervised-m/log.jsonl',
      'supervised-m/model.safetensors',
      'supervised-e/model.safetensors',
    ];
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
    for (const f of files.filter((x) => x.endsWith('.png'))) {
      const png = PNG.sync.read(readFileSync(join(out, f)));
      expect(png.width * png.height, f).toBeGreaterThan(0);
    }
    // Joint samples: each cell holds two 10-px images (zoom 2) side by side; the DDPM's one.
    const joint = PNG.sync.read(readFileSync(join(out, 'samples-mt-diffusion-m.png')));
    const single = PNG.sync.read(readFileSync(join(out, 'samples-ddpm.png')));
    expect(joint.width).toBeGreaterThan(single.width);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).preset).toBe('tiny');
    expect(readFileSync(join(out, 'supervised-m/log.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
  });

  it('trains every model for the preset steps on the same batches, with an accuracy curve for each classifier', () => {
    for (const k of ['mtM', 'mtE', 'ddpm', 'supM', 'supE'] as const) expect(summary.train[k].steps, k).toBe(2);
    for (const k of ['mtM', 'mtE', 'supM', 'supE'] as const) {
      expect(summary.train[k].curve.map((p) => p.step), k).toEqual([1, 2]);
      expect(Number.isFinite(summary.train[k].finalLabelLoss!), k).toBe(true);
    }
    expect(summary.train.ddpm.curve).toEqual([]);
    expect(summary.train.ddpm.finalLabelLoss).toBeUndefined();
  });

  it('compares models of the stated sizes: the -M twin has exactly -M\'s path, the DDPM lacks only the class embedding and the head', () => {
    const p = summary.parameters;
    expect(summary.pathParameters.mtM).toBe(p.supM);
    expect(p.mtM).toBeGreaterThan(p.ddpm);
    expect(p.mtE - p.ddpm).toBeGreaterThan(p.supE);
    expect(summary.pathParameters.mtE).toBe(p.ddpm + p.supE);
  });

  it('reports accuracies, agreement and class counts that are consistent with their sample counts', () => {
    const c = summary.classification;
    expect(c.n).toBe(8);
    for (const a of [c.sampler.mtM, c.sampler.mtE, c.supervised.supM, c.supervised.supE]) {
      // Fractions of 8 images, top-5 never below top-1.
      expect(Number.isInteger(Math.round(a.top1 * 8 * 1e6) / 1e6)).toBe(true);
      expect(a.top5).toBeGreaterThanOrEqual(a.top1);
    }
    expect(c.byNoise.t).toEqual([1, 100]);
    for (const row of Object.values(c.byNoise.top1)) expect(row).toHaveLength(2);
    const h = summary.classHistograms;
    expect(h.generatedLabels.mtM.reduce((a, b) => a + b, 0)).toBe(8);
    expect(h.realTest.reduce((a, b) => a + b, 0)).toBe(8);
    expect(summary.label.lambdaT).toBeGreaterThan(0);
    expect(summary.label.lambdaT).toBeLessThan(0.01);
    expect(summary.label.encodingRms.mtM).toHaveLength(10);
    // The control on real images is the supervised accuracy itself (same 8 test images, same classifier).
    const real = summary.agreementControls.real;
    expect(real.labelVsSupervised!.supM).toBe(c.supervised.supM.top1);
    expect(real.labelVsSupervised!.supE).toBe(c.supervised.supE.top1);
    for (const k of ['mtM', 'mtE'] as const) {
      const a = summary.agreementControls[k];
      for (const v of [a.labelVsHead!, a.labelVsSupervised!.supM, a.supervisedVsFeatureNet!.supE]) {
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    expect(summary.agreementControls.ddpm.labelVsHead).toBeUndefined();
  });

  it('reports Table 2 with fmnist-feature labels, the paper beside them, and the classification comparison', () => {
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunSummary;
    const gen = metrics.generation as Record<string, Record<string, number>>;
    expect(Number.isFinite(gen['mtM']!['FID (fmnist features)'])).toBe(true);
    expect(Number.isFinite(gen['ddpm']!['FID (fmnist features)'])).toBe(true);
    const agree = metrics.jointAgreement as Record<string, number>;
    expect(agree['mtE']).toBeGreaterThanOrEqual(0);
    expect(agree['mtE']).toBeLessThanOrEqual(1);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| model | IS (fmnist features) | FID (fmnist features) | sFID (fmnist features) | Precision (fmnist features) | Recall (fmnist features) |');
    expect(report).toContain('| paper (ImageNet, Inception): MT-Diffusion-M | 15.66 | 33.92 | 21.63 | 0.540 | 0.550 |');
    expect(report).toContain('a different scale');
    expect(report).toContain('lambda_T');
    expect(report).toMatch(/\| ours: MT-Diffusion-E label head \(sampler\) \| \d+ \| \d+\.\d% \| \d+\.\d% \|/);
  });

  it('frees every tensor it made', () => {
    expect(tf.memory().numTensors).toBe(numTensors);
  });
});
