import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { ssim, ssimWindow } from './ssim.js';

/**
 * Direct reference: for each valid window position, weighted stats with the 2-D Gaussian and
 * centred sums (sum w (x - mu)^2), one channel of an H x W image.
 */
function ssimReference(x: number[], y: number[], h: number, w: number, range: number): number {
  const g = Array.from({ length: 11 }, (_, i) => Math.exp(-((i - 5) ** 2) / (2 * 1.5 ** 2)));
  const gs = g.reduce((a, b) => a + b, 0);
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  let sum = 0;
  let count = 0;
  for (let oy = 0; oy + 11 <= h; oy++) {
    for (let ox = 0; ox + 11 <= w; ox++) {
      let mx = 0;
      let my = 0;
      for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
        const wt = (g[i]! * g[j]!) / (gs * gs);
        mx += wt * x[(oy + i) * w + ox + j]!;
        my += wt * y[(oy + i) * w + ox + j]!;
      }
      let vx = 0;
      let vy = 0;
      let cxy = 0;
      for (let i = 0; i < 11; i++) for (let j = 0; j < 11; j++) {
        const wt = (g[i]! * g[j]!) / (gs * gs);
        const dx = x[(oy + i) * w + ox + j]! - mx;
        const dy = y[(oy + i) * w + ox + j]! - my;
        vx += wt * dx * dx;
        vy += wt * dy * dy;
        cxy += wt * dx * dy;
      }
      sum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
      count++;
    }
  }
  return sum / count;
}

describe('ssim', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  const rng = createRng(12);
  const noise = (n: number, scale = 1): number[] => Array.from({ length: n }, () => scale * rng.uniform());

  it('uses the normalised 11-tap Gaussian with sigma 1.5', () => {
    const g = ssimWindow();
    expect(g.length).toBe(11);
    expect(g.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 15);
    expect(g[5]! / g[4]!).toBeCloseTo(Math.exp(1 / 4.5), 14);
  });

  it('is exactly 1 for identical images', async () => {
    const x = noise(16 * 14 * 3);
    const r = await ssim({ data: x, shape: [1, 16, 14, 3] }, { data: x, shape: [1, 16, 14, 3] }, { dataRange: 1 });
    expect(r.perImage[0]).toBe(1);
    expect(r.mean).toBe(1);
  });

  it('two constant images: (2ab + C1) / (a^2 + b^2 + C1)', async () => {
    const a = new Array<number>(121).fill(0.2);
    const b = new Array<number>(121).fill(0.7);
    const c1 = (0.01 * 2) ** 2;
    const r = await ssim({ data: a, shape: [11, 11] }, { data: b, shape: [11, 11] }, { dataRange: 2 });
    expect(r.mean).toBeCloseTo((2 * 0.2 * 0.7 + c1) / (0.2 ** 2 + 0.7 ** 2 + c1), 13);
  });

  it('matches the direct two-pass reference on random images, per channel then averaged', async () => {
    const h = 19;
    const w = 15;
    const x = noise(2 * h * w * 2, 2).map((v) => v - 1);
    const y = x.map((v) => v + 0.3 * (rng.uniform() - 0.5));
    const r = await ssim({ data: x, shape: [2, h, w, 2] }, { data: y, shape: [2, h, w, 2] }, { dataRange: 2 });
    for (let img = 0; img < 2; img++) {
      let expected = 0;
      for (let ch = 0; ch < 2; ch++) {
        const pick = (arr: number[]): number[] =>
          Array.from({ length: h * w }, (_, p) => arr[(img * h * w + p) * 2 + ch]!);
        expected += ssimReference(pick(x), pick(y), h, w, 2) / 2;
      }
      expect(r.perImage[img]).toBeCloseTo(expected, 12);
      expect(r.perImage[img]).toBeLessThan(1);
    }
  });

  it('reads tensors without leaking', async () => {
    const x = tf.randomUniform([2, 12, 12, 1], 0, 1, 'float32', 1);
    const y = tf.randomUniform([2, 12, 12, 1], 0, 1, 'float32', 2);
    await expectNoLeak(() => ssim(x, y, { dataRange: 1 }), 'ssim');
    tf.dispose([x, y]);
  });

  it('rejects bad input', async () => {
    const small = { data: new Array<number>(100).fill(0), shape: [10, 10] };
    await expect(ssim(small, small, { dataRange: 1 })).rejects.toThrow(/ssim: images must be at least 11x11 pixels \(the window size\), got "10x10"/);
    const big = { data: new Array<number>(144).fill(0), shape: [12, 12] };
    await expect(ssim(big, big, { dataRange: 0 })).rejects.toThrow(/ssim: options.dataRange must be/);
  });
});
