import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { groupNorm, timestepEmbedding, upsample2x } from './layers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = createRng(21);

describe('upsample2x', () => {
  const [B, H, W, C] = [3, 2, 3, 2];
  const x = rng.fillNormal(new Float32Array(B * H * W * C));

  it('repeats every pixel into a 2x2 block (nearest neighbour)', async () => {
    const up = upsample2x(tf.tensor4d(x, [B, H, W, C]));
    expect(up.shape).toEqual([B, 2 * H, 2 * W, C]);
    const got = await up.data();
    for (let n = 0; n < B; n++)
      for (let i = 0; i < 2 * H; i++)
        for (let j = 0; j < 2 * W; j++)
          for (let c = 0; c < C; c++) {
            expect(got[((n * 2 * H + i) * 2 * W + j) * C + c]).toBe(x[((n * H + (i >> 1)) * W + (j >> 1)) * C + c]);
          }
  });

  it('has the right gradient for batch > 1 (the sum over each 2x2 block), unlike cpu ResizeNearestNeighborGrad', async () => {
    const dy = rng.fillNormal(new Float32Array(B * 4 * H * W * C));
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsample2x(t as tf.Tensor4D), tf.tensor4d(dy, [B, 2 * H, 2 * W, C]))))(tf.tensor4d(x, [B, H, W, C]));
    const want = new Float64Array(x.length);
    for (let n = 0; n < B; n++)
      for (let i = 0; i < 2 * H; i++)
        for (let j = 0; j < 2 * W; j++)
          for (let c = 0; c < C; c++) want[((n * H + (i >> 1)) * W + (j >> 1)) * C + c]! += dy[((n * 2 * H + i) * 2 * W + j) * C + c]!;
    expectClose(await g.data(), want, { rtol: 1e-6, atol: 1e-6, label: 'upsample gradient' });
  });
});

describe('groupNorm', () => {
  it('normalises each (example, group) over positions and channels, then applies the affine (float64 reference)', async () => {
    const [B, P, C, G] = [2, 5, 6, 3];
    const x = rng.fillNormal(new Float32Array(B * P * C), 1, 2);
    const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
    const beta = rng.fillNormal(new Float32Array(C));
    const out = groupNorm(tf.tensor3d(x, [B, P, C]), { gamma: tf.variable(tf.tensor1d(gamma)), beta: tf.variable(tf.tensor1d(beta)) }, G);
    const want = new Float64Array(x.length);
    const per = C / G;
    for (let n = 0; n < B; n++)
      for (let g = 0; g < G; g++) {
        const idx: number[] = [];
        for (let p = 0; p < P; p++) for (let c = g * per; c < (g + 1) * per; c++) idx.push((n * P + p) * C + c);
        const mean = idx.reduce((s, i) => s + x[i]!, 0) / idx.length;
        const v = idx.reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / idx.length;
        for (const i of idx) want[i] = ((x[i]! - mean) / Math.sqrt(v + 1e-5)) * gamma[i % C]! + beta[i % C]!;
      }
    expectClose(await out.data(), want, { rtol: 1e-5, atol: 1e-5, label: 'groupNorm' });
  });
});

describe('timestepEmbedding', () => {
  it('is [cos(t f), sin(t f)] with f_i = 10000^(-i/half), zero-padded for odd widths', async () => {
    const t = [0, 1, 17, 999];
    for (const dim of [8, 7]) {
      const got = await timestepEmbedding(tf.tensor1d(t, 'int32'), dim).data();
      const half = Math.floor(dim / 2);
      const want: number[] = [];
      for (const ti of t) {
        const args = Array.from({ length: half }, (_, i) => ti * Math.exp((-Math.log(10000) * i) / half));
        want.push(...args.map(Math.cos), ...args.map(Math.sin), ...(dim % 2 ? [0] : []));
      }
      expectClose(got, want, { rtol: 1e-4, atol: 1e-4, label: `dim ${dim}` });
    }
  });
});
