import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWeights } from '@mtd/example-kit';
import { presetConfig } from './config.js';
import { runDemo, SHIPPED_WEIGHTS } from './demo.js';
import { buildModel } from './pipeline.js';

const out = mkdtempSync(join(tmpdir(), 'mtd-demo-'));
beforeAll(async () => {
  await tf.setBackend('cpu');
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('the shipped weights', () => {
  it('fit the model their recorded config builds, and record what they were trained on', async () => {
    const file = await readWeights(SHIPPED_WEIGHTS);
    expect(file.metadata['dataset']).toBe('fashion-mnist');
    expect(file.metadata['weights']).toBe('EMA');
    const config = JSON.parse(file.metadata['config']!);
    // Recorded before the -X variant existed: every other field is the cpu preset's.
    const { models: _models, xDropout: _xDropout, ...older } = presetConfig('cpu');
    expect(config).toMatchObject({ ...older, model: 'mt' });
    const { model } = buildModel('mt', config);
    try {
      expect(Object.keys(file.tensors).sort()).toEqual(model.variables.map((v) => v.name).sort());
      for (const v of model.variables) expect(file.tensors[v.name]!.shape).toEqual(v.variable.shape);
    } finally {
      model.dispose();
    }
  });
});

describe('runDemo', () => {
  it('trains briefly when the weights cannot be used, then generates, restores (kept pixels exact) and reports, leak-free', async () => {
    const before = tf.memory().numTensors;
    const lines: string[] = [];
    const dir = join(out, 'fallback');
    const r = await runDemo({ out: dir, backend: 'cpu', weights: join(out, 'missing.safetensors'), config: presetConfig('tiny'), trainSteps: 2, samples: 3, restorations: 2, steps: 3, log: (l) => lines.push(l) });
    expect(tf.memory().numTensors).toBe(before);
    expect(r.model).toMatch(/trained here for 2 steps .*a config was given/);
    expect(r.maxUnmaskedChange).toBe(0);
    expect([r.samples, r.restorations, r.maskK]).toEqual([3, 2, 10]);
    expect(Number.isFinite(r.rms.restored) && Number.isFinite(r.rms.cleanMasked)).toBe(true);
    for (const f of ['samples.png', 'restoration.png', 'metrics.json', 'report.md']) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(dir, 'metrics.json'), 'utf8'))).toMatchObject({ maxUnmaskedChange: 0, samples: 3 });
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain('largest change of an unmasked pixel | 0 |');
    expect(lines.at(-1)).toMatch(/^wrote .*samples.png, .*restoration.png, .*metrics.json, .*report.md in [\d.]+ s$/);
  });

  it('loads the shipped weights when the data they were trained on is installed', async () => {
    const dir = join(out, 'shipped');
    const r = await runDemo({ out: dir, backend: 'cpu', samples: 2, restorations: 2, steps: 2, trainSteps: 1, log: () => undefined });
    if (r.dataset === 'fashion-mnist') expect(r.model).toMatch(/^shipped MT-Diffusion-U weights \(EMA of step 700, trained on fashion-mnist/);
    else expect(r.model).toMatch(/trained here for 1 steps .*trained on fashion-mnist, but the data here is/);
    expect(r.maxUnmaskedChange).toBe(0);
  });
});
