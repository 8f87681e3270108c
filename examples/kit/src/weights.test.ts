import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { saveSafetensors } from '@mtd/io';
import { mlpModel } from '@mtd/train';
import { assignWeights, readWeights, saveWeights, weightsOf } from './weights.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const make = (seed: number) => mlpModel({ dim: 2, modalities: [], hidden: 4, depth: 2, timeFeatures: 2, seed });

describe('weights files', () => {
  it('round-trip a model bit for bit with metadata, without leaking tensors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kit-weights-'));
    const a = make(1);
    const b = make(2);
    try {
      const path = join(dir, 'w.safetensors');
      await saveWeights(path, await weightsOf(a), { config: '{"x":1}' });
      const file = await readWeights(path);
      expect(file.metadata['config']).toBe('{"x":1}');
      const before = tf.memory().numTensors;
      assignWeights(b, file);
      expect(tf.memory().numTensors).toBe(before);
      for (let i = 0; i < a.variables.length; i++) expect(Array.from(b.variables[i]!.variable.dataSync())).toEqual(Array.from(a.variables[i]!.variable.dataSync()));
    } finally {
      a.dispose();
      b.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses a file of another format, a missing or misshapen variable, and extra tensors, changing nothing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kit-weights-'));
    const a = make(1);
    try {
      const other = join(dir, 'other.safetensors');
      await saveSafetensors(other, { x: { dtype: 'F32', shape: [1], data: Float32Array.of(1) } });
      await expect(readWeights(other)).rejects.toThrow(/readWeights: .*other.safetensors must be a weights file \(metadata format "mtd-weights"\), got format null/);
      const w = { tensors: await weightsOf(a), metadata: {} };
      const first = a.variables[0]!;
      const original = Array.from(first.variable.dataSync());
      const missing = { ...w, tensors: { ...w.tensors } };
      delete missing.tensors[a.variables[1]!.name];
      expect(() => assignWeights(a, missing)).toThrow(new RegExp(`assignWeights: weights must hold "${a.variables[1]!.name}"`));
      const shaped = { ...w, tensors: { ...w.tensors, [first.name]: { dtype: 'F32' as const, shape: [1], data: Float32Array.of(0) } } };
      expect(() => assignWeights(a, shaped, 'file.safetensors')).toThrow(/assignWeights: file.safetensors ".*" must have shape \[.*\], got \[1\]/);
      const extra = { ...w, tensors: { ...w.tensors, stray: { dtype: 'F32' as const, shape: [1], data: Float32Array.of(0) } } };
      expect(() => assignWeights(a, extra)).toThrow(/holds tensors the model does not have: stray/);
      expect(Array.from(first.variable.dataSync())).toEqual(original);
    } finally {
      a.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
