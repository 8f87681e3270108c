import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run.js';
import { midChainWarning } from './train-command.js';

/*
 * Smoke tests of `mtd train`, `mtd sample` and `mtd eval` on tiny configs (cpu backend): the
 * commands run end to end, write what they say, and refuse bad input with a message that names it.
 */

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtd-cli-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  const lines: string[] = [];
  return { lines, log: (l: string) => void lines.push(l), text: () => lines.join('\n') };
}

const mixture = {
  seed: 1,
  data: { dataset: 'mixture', batchSize: 16 },
  schedule: { kind: 'cosine', T: 20 },
  model: { type: 'mlp', hidden: 8, depth: 2, timeFeatures: 4 },
  modalities: { label: { weight: 0.05 } },
  train: { steps: 2, lr: 1e-3, warmupSteps: 1, clipGradNorm: 1, ema: 0.9 },
};

async function writeConfig(name: string, config: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, JSON.stringify(config));
  return path;
}

describe('mtd train / sample / eval on the mixture toy', () => {
  it('trains 2 steps, resumes to 3, samples labels and points, evaluates', async () => {
    const config = await writeConfig('mixture.json', mixture);
    const out = join(dir, 'mixture-run');
    const train = capture();
    expect(await runCli(['train', '--config', config, '--out', out, '--backend', 'cpu', '--progress', 'off'], train.log)).toBe(0);
    expect(train.text()).toMatch(/backend: cpu/);
    expect(train.text()).toMatch(/modality label: .*lambda_T = /);
    expect(train.text()).toMatch(/done: step 2, loss [0-9.]+, [0-9.]+ steps\/s/);
    const log = (await readFile(join(out, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { step: number });
    expect(log.map((r) => r.step)).toEqual([1, 2]);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ seed: 1, train: { steps: 2 } });

    // Overlapped steps (and a submit size, which only webgpu uses): the same losses.
    const overlapped = join(dir, 'mixture-overlapped');
    expect(await runCli(['train', '--config', config, '--out', overlapped, '--backend', 'cpu', '--progress', 'off', '--overlap-steps', '--submit-batch', '256'], capture().log)).toBe(0);
    const lossesOf = async (run: string) => (await readFile(join(run, 'log.jsonl'), 'utf8')).trim().split('\n').map((l) => (JSON.parse(l) as { loss: number }).loss);
    expect(await lossesOf(overlapped)).toEqual(await lossesOf(out));
    await expect(runCli(['train', '--config', config, '--out', join(dir, 'x'), '--submit-batch', '0'], capture().log)).rejects.toThrow('mtd train: --submit-batch must be an integer >= 1, got "0"');

    // The same --out again is refused; --resume continues it.
    await expect(runCli(['train', '--config', config, '--out', out, '--backend', 'cpu', '--progress', 'off'], capture().log)).rejects.toThrow(/already holds a run .*pass --resume/);
    const resumed = capture();
    expect(await runCli(['train', '--config', config, '--out', out, '--backend', 'cpu', '--progress', 'off', '--resume', '--steps', '3'], resumed.log)).toBe(0);
    expect(resumed.text()).toMatch(/resumed from .*checkpoint-00000002.safetensors at step 2/);
    expect(resumed.text()).toMatch(/done: step 3/);
    const other = await writeConfig('mixture-other.json', { ...mixture, train: { ...mixture.train, lr: 5e-3 } });
    await expect(runCli(['train', '--config', other, '--out', out, '--backend', 'cpu', '--resume', '--progress', 'off'], capture().log)).rejects.toThrow(/the config differs from the one the run .* was trained with/);

    const samples = join(dir, 'mixture-samples');
    const s = capture();
    expect(await runCli(['sample', '--checkpoint', join(out, 'checkpoints'), '--out', samples, '--n', '5', '--batch', '2', '--steps', '5', '--backend', 'cpu'], s.log)).toBe(0);
    const json = JSON.parse(await readFile(join(samples, 'samples.json'), 'utf8')) as { step: number; points: number[][]; label: number[]; labelProbs: number[][] };
    expect(json.step).toBe(3);
    expect(json.points).toHaveLength(5);
    expect(json.label).toHaveLength(5);
    expect(json.label.every((k) => k >= 0 && k < 3)).toBe(true);
    expect(json.labelProbs[0]).toHaveLength(3);
    const given = capture();
    expect(await runCli(['sample', '--checkpoint', join(out, 'checkpoints'), '--out', samples, '--n', '2', '--steps', '3', '--label', '2', '--guidance', '2', '--backend', 'cpu'], given.log)).toBe(0);
    expect(JSON.parse(await readFile(join(samples, 'samples.json'), 'utf8'))).toMatchObject({ given: { label: 2 } });
    await expect(runCli(['sample', '--checkpoint', join(out, 'checkpoints'), '--label', '3', '--backend', 'cpu'], capture().log)).rejects.toThrow('mtd sample: --label must be a class in 0..2, got 3');

    const e = capture();
    expect(await runCli(['eval', '--checkpoint', join(out, 'checkpoints'), '--out', join(dir, 'mixture-eval'), '--n', '6', '--steps', '4', '--backend', 'cpu'], e.log)).toBe(0);
    const ev = JSON.parse(await readFile(join(dir, 'mixture-eval', 'eval.json'), 'utf8')) as Record<string, { [k: string]: unknown }>;
    expect(ev['joint']!['frequencies']).toHaveLength(3);
    expect(ev['conditional']!['hitRate']).toBeGreaterThanOrEqual(0);
    expect(ev['labelReadout']!['top1']).toBeGreaterThanOrEqual(0);
    expect(e.text()).toMatch(/total variation to the mixture/);
  }, 60_000);
});

describe('mtd train / sample on images', () => {
  it('a tiny U-Net on synthetic scenes with a Mask-k modality: 2 steps, then a PNG grid', async () => {
    const config = await writeConfig('shapes.json', {
      data: { dataset: 'shapes', batchSize: 2, size: 8, count: 8, maskK: 1 },
      schedule: { T: 10 },
      model: { type: 'unet', baseChannels: 4, channelMults: [1], numResBlocks: 1, groups: 2 },
      modalities: { masked: { weight: 0.1 } },
      train: { steps: 2, lr: 1e-3 },
    });
    const out = join(dir, 'shapes-run');
    expect(await runCli(['train', '--config', config, '--out', out, '--backend', 'cpu', '--progress', 'off', '--seed', '4'], capture().log)).toBe(0);
    const samples = join(dir, 'shapes-samples');
    expect(await runCli(['sample', '--checkpoint', join(out, 'checkpoints'), '--out', samples, '--n', '3', '--steps', '2', '--backend', 'cpu'], capture().log)).toBe(0);
    const png = PNG.sync.read(await readFile(join(samples, 'samples.png')));
    // 3 images of 8x8 in a 2-column grid with 1-pixel borders.
    expect([png.width, png.height]).toEqual([2 * 9 + 1, 2 * 9 + 1]);
    const masked = PNG.sync.read(await readFile(join(samples, 'masked.png')));
    expect(masked.width).toBe(19);
    const e = capture();
    expect(await runCli(['eval', '--checkpoint', join(out, 'checkpoints'), '--out', join(dir, 'shapes-eval'), '--n', '2', '--steps', '2', '--backend', 'cpu'], e.log)).toBe(0);
    expect(e.text()).toMatch(/generation metrics .*skipped/);
    // Constrained restoration of held-out Mask-k images: measured, and every kept pixel exact.
    expect(e.text()).toMatch(/restoration PSNR on masked pixels \(2 held-out\)/);
    const report = JSON.parse(await readFile(join(dir, 'shapes-eval', 'eval.json'), 'utf8'));
    expect(report.restoration.examples).toBe(2);
    expect(report.restoration.maxKeptPixelChange).toBe(0);
    expect(Number.isFinite(report.restoration.restored.psnr)).toBe(true);
    expect(Number.isFinite(report.restoration.cleanMasked.psnr)).toBe(true);
  }, 60_000);
});

describe('bad input', () => {
  it('config errors name the file and the field; usage errors exit with 2', async () => {
    const bad = await writeConfig('bad.json', { ...mixture, model: { type: 'mlp', hidden: 'x' } });
    await expect(runCli(['train', '--config', bad, '--backend', 'cpu'], capture().log)).rejects.toThrow(`mtd train: ${bad}: config.model.hidden must be an integer >= 1, got "x"`);
    const broken = join(dir, 'broken.json');
    await writeFile(broken, '{ "data": ');
    await expect(runCli(['train', '--config', broken], capture().log)).rejects.toThrow(/mtd train: .*broken.json is not valid JSON/);
    await expect(runCli(['train', '--config', join(dir, 'missing.json')], capture().log)).rejects.toThrow(/mtd train: cannot read --config .*missing.json/);
    const usage = capture();
    expect(await runCli(['train'], usage.log)).toBe(2);
    expect(usage.text()).toMatch(/mtd train: --config is required[\s\S]*usage: mtd/);
    expect(await runCli(['sample', '--frobnicate'], capture().log)).toBe(2);
    await expect(runCli(['train', '--config', bad, '--backend', 'gpu'], capture().log)).rejects.toThrow('mtd train: --backend must be one of auto, tensorflow, webgpu, wasm, cpu, got "gpu"');
    await expect(runCli(['sample', '--checkpoint', dir, '--n', 'many'], capture().log)).rejects.toThrow('mtd sample: --n must be an integer >= 1, got "many"');
    await expect(runCli(['sample', '--checkpoint', dir, '--backend', 'cpu'], capture().log)).rejects.toThrow(/mtd sample: cannot read --checkpoint .*holds no readable latest.json/);
  });
});

describe('midChainWarning', () => {
  it('warns when lambda_t peaks past the limit, naming the modality and the factor', () => {
    expect(midChainWarning('masked', 3.55)).toBeUndefined();
    expect(midChainWarning('masked', 10)).toBeUndefined();
    expect(midChainWarning('masked', 71)).toMatch(/lambda_t of modality masked reaches 71.0 mid-chain.*about 7.1x smaller/);
    expect(midChainWarning('x', 20, 40)).toBeUndefined();
  });
});
