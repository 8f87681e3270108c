import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupNorm } from './group-norm.js';
import type { Norm } from './param-store.js';
import { groupNormRef } from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = createRng(21);

function norm(gamma: Float32Array, beta: Float32Array): Norm {
  return { gamma: tf.variable(tf.tensor1d(gamma)), beta: tf.variable(tf.tensor1d(beta)) };
}

describe('groupNorm', () => {
  it('normalises each (example, group) over positions and channels, then applies the affine (float64 reference)', async () => {
    const [B, P, C, G] = [2, 5, 6, 3];
    const x = rng.fillNormal(new Float32Array(B * P * C), 1, 2);
    const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
    const beta = rng.fillNormal(new Float32Array(C));
    const out = groupNorm(tf.tensor3d(x, [B, P, C]), norm(gamma, beta), G);
    const want = groupNormRef(x, B, P, C, gamma, beta, G);
    expectClose(await out.data(), want, { rtol: 1e-5, atol: 1e-5, label: 'groupNorm' });
  });

  it('works on NHWC images and on [B, C] (one position), keeping the shape (float64 reference)', async () => {
    const [B, H, W, C, G] = [2, 3, 4, 8, 4];
    const x = rng.fillNormal(new Float32Array(B * H * W * C), -0.5, 3);
    const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
    const beta = rng.fillNormal(new Float32Array(C));
    const image = groupNorm(tf.tensor4d(x, [B, H, W, C]), norm(gamma, beta), G);
    expect(image.shape).toEqual([B, H, W, C]);
    expectClose(await image.data(), groupNormRef(x, B, H * W, C, gamma, beta, G), { rtol: 1e-5, atol: 1e-5, label: 'NHWC' });
    const flat = x.subarray(0, B * C);
    const vector = groupNorm(tf.tensor2d(flat, [B, C]), norm(gamma, beta), G);
    expectClose(await vector.data(), groupNormRef(flat, B, 1, C, gamma, beta, G), { rtol: 1e-5, atol: 1e-5, label: '[B, C]' });
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const x = tf.randomNormal([2, 3, 3, 4]);
    const p = norm(new Float32Array(4).fill(1), new Float32Array(4));
    await expectNoLeak(async () => {
      groupNorm(x, p, 2).dispose();
    });
    tf.dispose([x, p.gamma, p.beta]);
  });

  it('rejects bad groups and affine shapes, naming the argument', () => {
    const x = tf.zeros([1, 2, 2, 6]);
    const p = norm(new Float32Array(6), new Float32Array(6));
    expect(() => groupNorm(x, p, 4)).toThrow('groupNorm: groups must be a divisor of the 6 channels of x, got 4');
    expect(() => groupNorm(x, p, 0)).toThrow('groupNorm: groups must be an integer >= 1, got 0');
    expect(() => groupNorm(tf.zeros([6]), p, 2)).toThrow('groupNorm: x must be a tensor [B, ..., C], got a float32 tensor of shape [6]');
    const short = norm(new Float32Array(3), new Float32Array(6));
    expect(() => groupNorm(x, short, 2)).toThrow('groupNorm: norm.gamma must be a tensor [6], got a float32 tensor of shape [3]');
    const badBeta = norm(new Float32Array(6), new Float32Array(2));
    expect(() => groupNorm(x, badBeta, 2)).toThrow('groupNorm: norm.beta must be a tensor [6], got a float32 tensor of shape [2]');
    tf.dispose([x, p.gamma, p.beta, short.gamma, short.beta, badBeta.gamma, badBeta.beta]);
  });
});
