import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { assignWeights, exportWeights, readWeights } from '@mtd/example-kit';
import { readCheckpoint } from '@mtd/train';
import { presetConfig } from './config.js';
import { buildModel, checkModels, runMaskedImage, type RunSummary } from './pipeline.js';

const out = mkdtempSync(join(tmpdir(), 'mtd-masked-image-'));
let summary: RunSummary;
let numTensors = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  numTensors = tf.memory().numTensors;
  // The whole pipeline on the tiny preset: 8x8 images, 3 training steps per model, 8 samples.
  summary = await runMaskedImage({ config: presetConfig('tiny'), out, backend: 'cpu', log: () => undefined, progress: 'off' });
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('runMaskedImage (tiny smoke run)', () => {
  it('writes the config, checkpoints, logs, PNGs, metrics.json and report.md', () => {
    const files = [
      'config.json',
      'metrics.json',
      'report.md',
      'loss-curve.png',
      'samples-mt-diffusion-u.png',
      'samples-mt-diffusion-x.png',
      'samples-ddpm.png',
      'restoration-mask5.png',
      'restoration-mask10.png',
      'mt/log.jsonl',
      'mtx/log.jsonl',
      'ddpm/log.jsonl',
      'mt/checkpoints/latest.json',
      'mtx/checkpoints/latest.json',
      'ddpm/checkpoints/latest.json',
    ];
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
    for (const f of files.filter((x) => x.endsWith('.png'))) {
      const png = PNG.sync.read(readFileSync(join(out, f)));
      expect(png.width * png.height, f).toBeGreaterThan(0);
    }
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).preset).toBe('tiny');
  });

  it('keeps every unmasked pixel unchanged, for MT-Diffusion-U, -X and SDEdit, at every Mask-k', () => {
    expect(summary.models).toEqual(['mt', 'mtx', 'ddpm']);
    expect(summary.restoration.map((r) => r.k)).toEqual([5, 10]);
    for (const r of summary.restoration) {
      expect(r.maxUnmaskedChange).toEqual({ mt: 0, mtx: 0, sdedit: 0 });
      expect(Object.keys(r.rms).sort()).toEqual(['cleanMasked', 'mt', 'mtx', 'sdedit']);
      expect(r.maskedFraction).toBeGreaterThan(0);
      // The Clean-Masked pair differs from the original only where something was masked.
      expect(r.rms.cleanMasked).toBeGreaterThanOrEqual(0);
    }
    expect(summary.unmaskedUnchanged).toBe(true);
  });

  it('reports both tables with fmnist-feature labels, the paper beside them, and lambda_T', () => {
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunSummary;
    expect(metrics.lambdaT).toBeGreaterThan(0);
    expect(metrics.lambdaT).toBeLessThan(0.05);
    expect([metrics.train.mt?.steps, metrics.train.mtx?.steps, metrics.train.ddpm?.steps]).toEqual([3, 3, 3]);
    const gen = metrics.generation as Record<string, Record<string, number>>;
    expect(Object.keys(gen['mt']!)).toContain('FID (fmnist features)');
    expect(Number.isFinite(gen['ddpm']!['FID (fmnist features)'])).toBe(true);
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('| model | IS (fmnist features) | FID (fmnist features) | sFID (fmnist features) | Precision (fmnist features) | Recall (fmnist features) |');
    expect(report).toContain('paper (LPIPS, ImageNet): Clean-Masked | 0.311 | 0.414 |');
    expect(report).toContain('lambda_T');
    expect(report).toContain('Every unmasked pixel unchanged');
    expect(report).toContain('| ours: MT-Diffusion-X (fmnist features) |');
    expect(report).toContain('| ours: MT-Diffusion-X |');
  });

  it('frees every tensor it made', () => {
    expect(tf.memory().numTensors).toBe(numTensors);
  });

  it("exports the run's EMA weights to a weights file that loads into a fresh model", async () => {
    const path = join(out, 'mt.safetensors');
    const r = await exportWeights(join(out, 'mt', 'checkpoints'), path);
    expect(r).toMatchObject({ step: 3, ema: true, dataset: summary.dataset });
    const file = await readWeights(path);
    const checkpoint = await readCheckpoint(join(out, 'mt', 'checkpoints'));
    const { model } = buildModel('mt', JSON.parse(file.metadata['config']!));
    try {
      assignWeights(model, file, path);
      for (const v of model.variables) expect(Array.from(await v.variable.data())).toEqual(Array.from(checkpoint.tensors[`ema/${v.name}`]!.data as Float32Array));
    } finally {
      model.dispose();
    }
  });

  it('refuses a model list without the DDPM or an MT variant, naming the argument', () => {
    expect(() => checkModels(['mt'])).toThrow(/runMaskedImage: config.models must list distinct kinds of mt, mtx, ddpm including 'ddpm' and an MT variant, got \["mt"\]/);
    expect(() => checkModels(['ddpm'])).toThrow(/config.models/);
    expect(() => checkModels(['mt', 'mt', 'ddpm'])).toThrow(/config.models/);
    expect(checkModels(['ddpm', 'mtx'])).toEqual(['mtx', 'ddpm']);
  });
});

describe('buildModel', () => {
  it('gives both variants the same U-Net weights; MT-Diffusion-U adds only the masked-image head', async () => {
    const config = presetConfig('tiny');
    const mt = buildModel('mt', config);
    const ddpm = buildModel('ddpm', config);
    try {
      const unetVars = (m: typeof mt) => m.model.variables.filter((v) => v.name.startsWith('unet.'));
      const a = unetVars(mt);
      const b = unetVars(ddpm);
      expect(a.map((v) => v.name)).toEqual(b.map((v) => v.name));
      for (let i = 0; i < a.length; i++) expect(Array.from(await a[i]!.variable.data())).toEqual(Array.from(await b[i]!.variable.data()));
      expect(mt.model.variables.filter((v) => !v.name.startsWith('unet.')).every((v) => v.name.startsWith('heads.masked.'))).toBe(true);
      expect(ddpm.model.variables.length).toBe(a.length);
      expect(mt.modalities.map((m) => m.name)).toEqual(['masked']);
      expect(ddpm.modalities).toEqual([]);
      // -X: one more input channel in the first convolution, the rest of the shapes as -U's.
      const mtx = buildModel('mtx', config);
      try {
        expect(mtx.model.conditioning).toEqual({ masked: 'extra' });
        expect(mt.model.conditioning).toEqual({ masked: 'none' });
        const shapes = (m: typeof mt) => m.model.variables.map((v) => `${v.name}:${v.variable.shape.join('x')}`);
        const differ = shapes(mtx).filter((x, i) => x !== shapes(mt)[i]);
        expect(differ).toHaveLength(1);
        expect(differ[0]).toMatch(/^unet\.input_blocks\.0\.0\.weight:/);
      } finally {
        mtx.model.dispose();
      }
    } finally {
      mt.model.dispose();
      ddpm.model.dispose();
    }
  });

  it('refuses a model list without the DDPM or an MT variant, naming the argument', () => {
    expect(() => checkModels(['mt'])).toThrow(/runMaskedImage: config.models must list distinct kinds of mt, mtx, ddpm including 'ddpm' and an MT variant, got \["mt"\]/);
    expect(() => checkModels(['ddpm'])).toThrow(/config.models/);
    expect(() => checkModels(['mt', 'mt', 'ddpm'])).toThrow(/config.models/);
    expect(checkModels(['ddpm', 'mtx'])).toEqual(['mtx', 'ddpm']);
  });
});
