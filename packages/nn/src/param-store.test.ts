import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '@mtd/random';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParamStore } from './param-store.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function disposeAll(store: ParamStore): void {
  for (const p of store.params) p.variable.dispose();
}

async function values(v: tf.Variable): Promise<Float32Array> {
  return (await v.data()) as Float32Array;
}

describe('ParamStore', () => {
  it('names variables as PyTorch state_dict keys, with tfjs shapes and file layouts', () => {
    const s = new ParamStore(createRng(1));
    const conv = s.conv2d('block.conv', 3, 4, 6);
    const qkv = s.conv1d('attn.qkv', 6, 18);
    const fc = s.linear('fc', 6, 2);
    const norm = s.groupNorm('norm', 6);
    const emb = s.embedding('label_emb', 5, 8);
    expect(s.params.map((p) => [p.name, p.layout, p.variable.shape])).toEqual([
      ['block.conv.weight', 'conv2d', [3, 3, 4, 6]],
      ['block.conv.bias', 'plain', [6]],
      ['attn.qkv.weight', 'conv1d', [6, 18]],
      ['attn.qkv.bias', 'plain', [18]],
      ['fc.weight', 'linear', [6, 2]],
      ['fc.bias', 'plain', [2]],
      ['norm.weight', 'plain', [6]],
      ['norm.bias', 'plain', [6]],
      ['label_emb.weight', 'plain', [5, 8]],
    ]);
    expect(s.params.map((p) => p.variable)).toEqual([conv.weight, conv.bias, qkv.weight, qkv.bias, fc.weight, fc.bias, norm.gamma, norm.beta, emb]);
    expect(s.params.every((p) => p.variable.trainable && p.variable.dtype === 'float32')).toBe(true);
    disposeAll(s);
  });

  it('draws each variable from rng.fork(name): the seed and the name fix it, creation order does not', async () => {
    const a = new ParamStore(createRng(7));
    const b = new ParamStore(createRng(7));
    const aConv = a.conv2d('c', 3, 2, 4);
    const aFc = a.linear('fc', 5, 3);
    const bFc = b.linear('fc', 5, 3); // other order, and an extra layer in between
    b.embedding('other', 3, 3);
    const bConv = b.conv2d('c', 3, 2, 4);
    expect(await values(aConv.weight)).toEqual(await values(bConv.weight));
    expect(await values(aFc.bias)).toEqual(await values(bFc.bias));
    // Exactly PyTorch's bound 1/sqrt(fan_in) drawn from the named child stream.
    const bound = 1 / Math.sqrt(2 * 3 * 3);
    const want = createRng(7).fork('c.weight').fillUniform(new Float32Array(3 * 3 * 2 * 4), -bound, bound);
    expect(await values(aConv.weight)).toEqual(want);
    const c = new ParamStore(createRng(8));
    expect(await values(c.conv2d('c', 3, 2, 4).weight)).not.toEqual(await values(aConv.weight));
    [a, b, c].forEach(disposeAll);
  });

  it('initialises like PyTorch: uniform +-1/sqrt(fan_in), GroupNorm 1/0, embeddings N(0, 1), zero layers exactly 0', async () => {
    const s = new ParamStore(createRng(3));
    const checkUniform = async (v: tf.Variable, fanIn: number) => {
      const x = await values(v);
      const bound = 1 / Math.sqrt(fanIn);
      expect(x.every((u) => Math.abs(u) <= bound)).toBe(true);
      // U(-a, a) has variance a^2 / 3; with n >= 256 draws the sample variance is within 25%.
      const variance = x.reduce((t, u) => t + u * u, 0) / x.length;
      expect(variance / (bound * bound / 3)).toBeGreaterThan(0.75);
      expect(variance / (bound * bound / 3)).toBeLessThan(1.25);
    };
    await checkUniform(s.conv2d('conv', 3, 8, 16).weight, 8 * 9);
    await checkUniform(s.linear('fc', 32, 32).weight, 32);
    await checkUniform(s.conv1d('qkv', 16, 48).weight, 16);
    await checkUniform(s.linear('wide', 64, 512).bias, 64);
    const norm = s.groupNorm('gn', 5);
    expect(Array.from(await values(norm.gamma))).toEqual([1, 1, 1, 1, 1]);
    expect(Array.from(await values(norm.beta))).toEqual([0, 0, 0, 0, 0]);
    const emb = await values(s.embedding('emb', 64, 32));
    const mean = emb.reduce((t, u) => t + u, 0) / emb.length;
    const variance = emb.reduce((t, u) => t + (u - mean) ** 2, 0) / emb.length;
    expect(Math.abs(mean)).toBeLessThan(0.1); // 2048 draws: 4.5 standard errors
    expect(Math.abs(variance - 1)).toBeLessThan(0.15);
    for (const zero of [s.conv2d('z1', 3, 4, 4, true), s.conv1d('z2', 4, 4, true), s.linear('z3', 4, 4, true)]) {
      expect((await values(zero.weight)).every((u) => u === 0)).toBe(true);
      expect((await values(zero.bias)).every((u) => u === 0)).toBe(true);
    }
    disposeAll(s);
  });

  it('leaks no intermediate tensors: disposing the params frees everything it made', async () => {
    await expectNoLeak(async () => {
      const s = new ParamStore(createRng(1));
      s.conv2d('a', 3, 2, 2);
      s.conv1d('b', 2, 6, true);
      s.linear('c', 2, 2);
      s.groupNorm('d', 2);
      s.embedding('e', 2, 2);
      disposeAll(s);
    });
  });

  it('rejects duplicate names and bad sizes, naming the method and the argument', () => {
    const s = new ParamStore(createRng(1));
    s.linear('fc', 2, 2);
    expect(() => s.linear('fc', 2, 2)).toThrow('ParamStore.linear: parameter names must be unique in a store, got "fc.weight" twice');
    expect(() => s.groupNorm('fc', 2)).toThrow(/ParamStore\.groupNorm: .* got "fc\.weight" twice/);
    expect(() => s.conv2d('c', 0, 2, 2)).toThrow('ParamStore.conv2d: k must be an integer >= 1, got 0');
    expect(() => s.conv1d('q', 2, 1.5)).toThrow('ParamStore.conv1d: cout must be an integer >= 1, got 1.5');
    expect(() => s.linear('', 2, 2)).toThrow('ParamStore.linear: name must be a non-empty string, got ""');
    expect(() => s.groupNorm('n', -1)).toThrow('ParamStore.groupNorm: channels must be an integer >= 1, got -1');
    expect(() => s.embedding('e', 3, Number.NaN)).toThrow('ParamStore.embedding: dim must be an integer >= 1, got NaN');
    expect(() => new ParamStore(42 as unknown as Rng)).toThrow('ParamStore: rng must be an Rng from @mtd/random, got 42');
    expect(s.params.map((p) => p.name)).toEqual(['fc.weight', 'fc.bias']);
    disposeAll(s);
  });
});
