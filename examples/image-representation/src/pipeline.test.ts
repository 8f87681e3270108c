import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadImages, openImages } from '@mtd/example-kit';
import { createRng } from '@mtd/random';
import { expectNoLeak } from '@mtd/testkit';
import { presetConfig } from './config.js';
import { buildModel, drawBatch, runImageRepresentation, REP, type RunSummary } from './pipeline.js';

const out = mkdtempSync(join(tmpdir(), 'mtd-image-representation-'));
let summary: RunSummary;
let numTensors = 0;

beforeAll(async () => {
  await tf.setBackend('cpu');
  numTensors = tf.memory().numTensors;
  // The whole pipeline on the tiny preset: 8x8 images, 3 training steps per model, 8 joint samples.
  summary = await runImageRepresentation({ config: presetConfig('tiny'), out, backend: 'cpu', log: () => undefined, progress: 'off' });
}, 120_000);

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('runImageRepresentation (tiny smoke run)', () => {
  it('writes the config, checkpoints, logs, PNGs, metrics.json and report.md', () => {
    const files = [
      'config.json',
      'metrics.json',
      'report.md',
      'loss-curve.png',
      'samples-mt-diffusion.png',
      'samples-ddpm.png',
      'conditional.png',
      'mt/log.jsonl',
      'ddpm/log.jsonl',
      'mt/checkpoints/latest.json',
      'ddpm/checkpoints/latest.json',
    ];
    for (const f of files) expect(existsSync(join(out, f)), f).toBe(true);
    for (const f of files.filter((x) => x.endsWith('.png'))) {
      const png = PNG.sync.read(readFileSync(join(out, f)));
      expect(png.width * png.height, f).toBeGreaterThan(0);
    }
    // Three columns (image | agreement bar | nearest training image) make the MT grid wider than the DDPM's.
    const mt = PNG.sync.read(readFileSync(join(out, 'samples-mt-diffusion.png')));
    const ddpm = PNG.sync.read(readFileSync(join(out, 'samples-ddpm.png')));
    expect(mt.width).toBeGreaterThan(ddpm.width);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).preset).toBe('tiny');
  });

  it('reports generation metrics on fmnist features for both models and cosines in [-1, 1] for every agreement row', () => {
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8')) as RunSummary;
    expect(metrics.train.mt.steps).toBe(3);
    expect(metrics.train.ddpm.steps).toBe(3);
    expect(metrics.featureNet.dim).toBe(64);
    for (const kind of ['mt', 'ddpm'] as const) {
      expect(Object.keys(metrics.generation[kind])).toContain('FID (fmnist features)');
      expect(Number.isFinite(metrics.generation[kind]['FID (fmnist features)'])).toBe(true);
    }
    const a = metrics.agreement;
    expect(a.joint.n).toBe(8);
    expect(a.otherImage.n).toBe(8);
    expect(a.conditional.n).toBe(4);
    for (const row of [a.joint, a.otherImage, a.conditional]) {
      expect(Math.abs(row.cosine)).toBeLessThanOrEqual(1);
      expect(Math.abs(row.cosineRaw)).toBeLessThanOrEqual(1);
    }
    // Real pairs exist whenever two of the 8 test images share a class and two differ.
    expect(a.realDifferentClass.n).toBeGreaterThan(0);
    expect(metrics.lambdaT).toBeGreaterThan(0);
    expect(metrics.lambdaMax).toBeGreaterThan(metrics.lambdaT);
    expect(metrics.encodingRms).toBeGreaterThanOrEqual(0);
    expect(metrics.parameters.mt).toBeGreaterThan(metrics.parameters.ddpm);
  });

  it('says the paper has no table for E4 and names the metrics honestly', () => {
    const report = readFileSync(join(out, 'report.md'), 'utf8');
    expect(report).toContain('The paper has no table for this experiment');
    expect(report).toContain('| model | IS (fmnist features) | FID (fmnist features) | sFID (fmnist features) | Precision (fmnist features) | Recall (fmnist features) |');
    expect(report).toContain('generated representation vs embedding of its generated image');
    expect(report).toContain('real test images, same class');
    expect(report).toContain('lambda_T');
    expect(report).not.toMatch(/\| FID \|/);
  });

  it('frees every tensor it made', () => {
    expect(tf.memory().numTensors).toBe(numTensors);
  });
});

describe('buildModel / drawBatch', () => {
  it('gives both variants the same U-Net weights; MT-Diffusion adds only the representation head and routes it through cross-attention', async () => {
    const config = presetConfig('tiny');
    const mt = buildModel('mt', config, 6);
    const ddpm = buildModel('ddpm', config, 6);
    try {
      const unetVars = (m: typeof mt) => m.model.variables.filter((v) => v.name.startsWith('unet.'));
      const a = unetVars(mt);
      const b = unetVars(ddpm);
      expect(a.map((v) => v.name)).toEqual(b.map((v) => v.name));
      expect(a.map((v) => v.name)).toContain('unet.middle_block.1.encoder_kv.weight');
      for (let i = 0; i < a.length; i++) expect(Array.from(await a[i]!.variable.data())).toEqual(Array.from(await b[i]!.variable.data()));
      expect(mt.model.variables.filter((v) => !v.name.startsWith('unet.')).every((v) => v.name.startsWith(`heads.${REP}.`))).toBe(true);
      // Linear -> ReLU -> Linear: two weight matrices.
      expect(mt.model.variables.filter((v) => v.name.startsWith(`heads.${REP}.`)).map((v) => v.name)).toEqual([`heads.${REP}.0.weight`, `heads.${REP}.0.bias`, `heads.${REP}.2.weight`, `heads.${REP}.2.bias`]);
      expect(mt.model.conditioning).toEqual({ [REP]: 'context' });
      expect(mt.modalities.map((m) => m.name)).toEqual([REP]);
      expect(ddpm.modalities).toEqual([]);
    } finally {
      mt.model.dispose();
      ddpm.model.dispose();
    }
  });

  it('draws the same images for both variants, each with its own representation row; leaks nothing once disposed', async () => {
    const { dataset, name } = await openImages('train');
    const train = loadImages(dataset, name, 5, 8);
    const D = 3;
    const reps = Float32Array.from({ length: 5 * D }, (_, k) => Math.floor(k / D));
    const a = drawBatch(train, reps, D, 4, createRng(1), 'mt');
    const b = drawBatch(train, reps, D, 4, createRng(1), 'ddpm');
    try {
      expect(Array.from(a.z0.dataSync())).toEqual(Array.from(b.z0.dataSync()));
      expect(Object.keys(b.values)).toEqual([]);
      const r = a.values[REP]!.arraySync() as number[][];
      const images = a.z0.arraySync() as number[][][][];
      // Row i's representation value names the training image it came from.
      r.forEach((row, i) => {
        expect(row).toEqual([row[0], row[0], row[0]]);
        const j = row[0]!;
        expect(images[i]!.flat(2)).toEqual(Array.from(train.data.subarray(j * 64, (j + 1) * 64)));
      });
    } finally {
      tf.dispose([a.z0, b.z0, ...Object.values(a.values)]);
    }
    await expectNoLeak(() => {
      const c = drawBatch(train, reps, D, 2, createRng(2), 'mt');
      tf.dispose([c.z0, ...Object.values(c.values)]);
    });
  });
});
