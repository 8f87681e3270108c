import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeSafetensors } from '@mtd/io';
import { loadModelWeights, readCheckpoint, writeCheckpoint, type CheckpointState } from './checkpoint.js';
import { toySetup } from './toy.testutil.js';
import { Trainer } from './trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});
const setup = toySetup();
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtd-ckpt-'));
});
afterAll(async () => {
  setup.dispose();
  await rm(dir, { recursive: true, force: true });
});

const state = (step: number): CheckpointState => ({
  format: 'mtd.train.checkpoint',
  version: 1,
  step,
  rng: { algorithm: 'xoshiro128**', s: [1, 2, 3, 4], spare: null, key: 5 },
  data: { kind: 'generator' },
  adam: { count: step },
  ema: null,
  config: { a: 1 },
  variables: ['w'],
});

describe('checkpoint files', () => {
  test('safetensors (tensors + state) then latest.json, both atomic; old files pruned; no temp files left', async () => {
    const d = join(dir, 'files');
    const w = { dtype: 'F32' as const, shape: [2], data: new Float32Array([1, 2]) };
    for (const step of [1, 2, 3]) await writeCheckpoint(d, { 'model/w': w }, state(step), 2);
    expect((await readdir(d)).sort()).toEqual(['checkpoint-00000002.safetensors', 'checkpoint-00000003.safetensors', 'latest.json']);
    const latest = JSON.parse(await readFile(join(d, 'latest.json'), 'utf8')) as Record<string, unknown>;
    expect(latest).toMatchObject({ file: 'checkpoint-00000003.safetensors', step: 3, config: { a: 1 } });
    const fromDir = await readCheckpoint(d);
    const fromFile = await readCheckpoint(join(d, 'checkpoint-00000002.safetensors'));
    expect(fromDir.state).toEqual(state(3));
    expect(fromFile.state.step).toBe(2);
    expect(Array.from(fromDir.tensors['model/w']!.data as Float32Array)).toEqual([1, 2]);
  });

  test('a folder without latest.json or a file without the state is refused with a clear message', async () => {
    const d = join(dir, 'empty');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(d, { recursive: true });
    await writeFile(join(dir, 'plain.safetensors'), encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([0]) } }));
    await expect(readCheckpoint(d)).rejects.toThrow(/readCheckpoint: .*empty holds no readable latest.json .*is it a checkpoint folder written by the trainer\?/);
    await expect(readCheckpoint(join(dir, 'plain.safetensors'))).rejects.toThrow(/readCheckpoint: path must be a checkpoint with "mtd.train.state" metadata \(written by the trainer\)/);
  });
});

describe('loadModelWeights', () => {
  test('loads the EMA weights by default, the trained ones with ema: false; checks names and shapes first', async () => {
    const model = setup.model(1);
    const trainer = new Trainer({ model, schedule: setup.toy.schedule, modalities: [setup.label], data: setup.data({ batchSize: 8, seed: 1 }), seed: 1, optimizer: { lr: 0.05 }, ema: { decay: 0.5, warmup: false } });
    await trainer.train({ steps: 3, checkpointDir: join(dir, 'weights'), progress: 'off' });
    const ckpt = await readCheckpoint(join(dir, 'weights'));
    const fresh = setup.model(2);
    loadModelWeights(fresh, ckpt);
    const [name] = [fresh.variables[0]!.name];
    expect(Array.from(await fresh.variables[0]!.variable.data())).toEqual(Array.from(ckpt.tensors[`ema/${name}`]!.data as Float32Array));
    loadModelWeights(fresh, ckpt, { ema: false });
    expect(Array.from(await fresh.variables[0]!.variable.data())).toEqual(Array.from(await model.variables[0]!.variable.data()));
    expect(ckpt.tensors[`ema/${name}`]!.data).not.toEqual(ckpt.tensors[`model/${name}`]!.data);
    const wide = setup.model(2, 24);
    expect(() => loadModelWeights(wide, ckpt)).toThrow(/loadModelWeights: the checkpoint's "ema\/layers.0.weight" shape must be \[14, 24\], got \[14, 16\]/);
    [trainer, model, fresh, wide].forEach((x) => x.dispose());
  });
});
