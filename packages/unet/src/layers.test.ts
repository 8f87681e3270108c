import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { timestepEmbedding, upsample2x } from './layers.js';

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
