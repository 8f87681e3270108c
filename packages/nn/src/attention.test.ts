import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { attention, type AttentionParams } from './attention.js';
import { ParamStore } from './param-store.js';
import { attentionRef, type AttentionArrays } from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const [B, H, W, C, GROUPS] = [2, 2, 3, 8, 2];

/** Attention variables as an ADM model makes them, with every value randomised (proj_out included, which ADM starts at 0). */
function block(seed: number, contextDim?: number): { p: AttentionParams; arrays: AttentionArrays; store: ParamStore } {
  const store = new ParamStore(createRng(seed));
  const p: AttentionParams = {
    norm: store.groupNorm('norm', C),
    qkv: store.conv1d('qkv', C, 3 * C),
    projOut: store.conv1d('proj_out', C, C, true),
    ...(contextDim !== undefined ? { encoderKv: store.conv1d('encoder_kv', contextDim, 2 * C) } : {}),
  };
  const rng = createRng(seed + 1);
  tf.tidy(() => store.params.forEach((q) => q.variable.assign(tf.tensor(rng.fillNormal(new Float32Array(q.variable.size), 0, 0.5), q.variable.shape))));
  const data = (v: tf.Variable) => v.dataSync() as Float32Array;
  const dense = (d: { weight: tf.Variable; bias: tf.Variable }) => ({ weight: data(d.weight), bias: data(d.bias) });
  const arrays: AttentionArrays = {
    gamma: data(p.norm.gamma), beta: data(p.norm.beta), qkv: dense(p.qkv), projOut: dense(p.projOut),
    ...(p.encoderKv ? { encoderKv: dense(p.encoderKv) } : {}),
  };
  return { p, arrays, store };
}

function dispose(store: ParamStore): void {
  for (const q of store.params) q.variable.dispose();
}

describe('attention', () => {
  const x = createRng(3).fillNormal(new Float32Array(B * H * W * C));

  it('is ADM self-attention (legacy qkv order, 1/sqrt(width) scale, residual) for 1, 2 and 4 heads (float64 reference)', async () => {
    const { p, arrays, store } = block(10);
    for (const heads of [1, 2, 4]) {
      const y = attention(tf.tensor4d(x, [B, H, W, C]), p, heads, GROUPS);
      expect(y.shape).toEqual([B, H, W, C]);
      expectClose(await y.data(), attentionRef(x, B, H * W, C, arrays, heads, GROUPS), { rtol: 1e-4, atol: 1e-4, label: `${heads} heads` });
    }
    dispose(store);
  });

  it('also attends to a context projected by encoder_kv (GLIDE), and ignores a context without encoder_kv (float64 reference)', async () => {
    const [L, D] = [3, 5];
    const ctx = createRng(4).fillNormal(new Float32Array(B * L * D));
    const cross = block(20, D);
    const y = attention(tf.tensor4d(x, [B, H, W, C]), cross.p, 2, GROUPS, tf.tensor3d(ctx, [B, L, D]));
    const want = attentionRef(x, B, H * W, C, cross.arrays, 2, GROUPS, { data: ctx, length: L, dim: D });
    expectClose(await y.data(), want, { rtol: 1e-4, atol: 1e-4, label: 'cross-attention' });
    const self = attentionRef(x, B, H * W, C, cross.arrays, 2, GROUPS);
    expect(want.some((v, i) => Math.abs(v - self[i]!) > 1e-2)).toBe(true); // the context matters
    const plain = block(30);
    const z = attention(tf.tensor4d(x, [B, H, W, C]), plain.p, 2, GROUPS, tf.tensor3d(ctx, [B, L, D]));
    expectClose(await z.data(), attentionRef(x, B, H * W, C, plain.arrays, 2, GROUPS), { rtol: 1e-4, atol: 1e-4, label: 'context ignored' });
    dispose(cross.store);
    dispose(plain.store);
  });

  it('returns one new tensor and keeps no intermediates, with and without context', async () => {
    const { p, store } = block(40, 4);
    const xt = tf.tensor4d(x, [B, H, W, C]);
    const ctx = tf.randomNormal([B, 2, 4]) as tf.Tensor3D;
    await expectNoLeak(async () => {
      attention(xt, p, 2, GROUPS).dispose();
      attention(xt, p, 2, GROUPS, ctx).dispose();
    });
    tf.dispose([xt, ctx]);
    dispose(store);
  });

  it('rejects bad heads, projections and contexts, naming the argument', () => {
    const { p, store } = block(50, 4);
    const xt = tf.zeros([B, H, W, C]) as tf.Tensor4D;
    expect(() => attention(xt, p, 3, GROUPS)).toThrow('attention: heads must be a divisor of the 8 channels of x, got 3');
    expect(() => attention(xt, p, 0, GROUPS)).toThrow('attention: heads must be an integer >= 1, got 0');
    expect(() => attention(tf.zeros([B, H * W, C]) as unknown as tf.Tensor4D, p, 1, GROUPS)).toThrow('attention: x must be a tensor [B, H, W, C], got a float32 tensor of shape [2, 6, 8]');
    expect(() => attention(xt, { ...p, qkv: p.projOut }, 1, GROUPS)).toThrow('attention: p.qkv.weight must be a tensor [8, 24], got a float32 tensor of shape [8, 8]');
    expect(() => attention(xt, { ...p, projOut: p.qkv }, 1, GROUPS)).toThrow('attention: p.projOut.weight must be a tensor [8, 8], got a float32 tensor of shape [8, 24]');
    expect(() => attention(xt, p, 1, GROUPS, tf.zeros([1, 2, 4]) as tf.Tensor3D)).toThrow('attention: context must be a tensor [2, L, D], got a float32 tensor of shape [1, 2, 4]');
    expect(() => attention(xt, p, 1, GROUPS, tf.zeros([B, 2, 3]) as tf.Tensor3D)).toThrow('linear: dense.weight must be a tensor [3, out], got a float32 tensor of shape [4, 16]');
    tf.dispose(xt);
    dispose(store);
  });
});
