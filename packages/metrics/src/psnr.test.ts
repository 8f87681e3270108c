import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { psnr } from './psnr.js';

describe('psnr', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('is Infinity for identical images and matches a hand computation', async () => {
    const a = { data: [0, 0, 0, 0, 1, 1, 1, 1], shape: [2, 2, 2, 1] };
    const b = { data: [0, 0, 0, 1, 1, 1, 1, 1], shape: [2, 2, 2, 1] };
    const r = await psnr(b, a, { dataRange: 1 });
    // Image 0: MSE = 1/4 -> 10 log10(4); image 1: identical.
    expect(r.mse[0]).toBe(0.25);
    expect(r.perImage[0]).toBeCloseTo(10 * Math.log10(4), 12);
    expect(r.perImage[1]).toBe(Infinity);
    expect(r.mean).toBe(Infinity);
    const single = await psnr({ data: [0, 0, 0, 1], shape: [2, 2] }, { data: [0, 0, 0, 0], shape: [2, 2] }, { dataRange: 2 });
    // Range 2 ([-1, 1] data): 10 log10(4 / 0.25).
    expect(single.mean).toBeCloseTo(10 * Math.log10(16), 12);
  });

  it('reads tensors without disposing or leaking them', async () => {
    const x = tf.tensor4d([0.1, 0.2, 0.3, 0.4], [1, 2, 2, 1]);
    const y = tf.tensor4d([0.1, 0.2, 0.3, 0.5], [1, 2, 2, 1]);
    await expectNoLeak(() => psnr(x, y, { dataRange: 1 }), 'psnr');
    const r = await psnr(x, y, { dataRange: 1 });
    const mse = (Math.fround(0.4) - Math.fround(0.5)) ** 2 / 4;
    expect(r.perImage[0]).toBeCloseTo(10 * Math.log10(1 / mse), 10);
    expect(x.isDisposed).toBe(false);
    tf.dispose([x, y]);
  });

  it('rejects bad input', async () => {
    const a = { data: [0, 0, 0, 0], shape: [1, 2, 2, 1] };
    await expect(psnr(a, { data: [0, 0, 0], shape: [1, 3, 1, 1] }, { dataRange: 1 })).rejects.toThrow(
      /psnr: images and reference must have the same shape, got \[1, 2, 2, 1\] and \[1, 3, 1, 1\]/,
    );
    await expect(psnr(a, a, {} as never)).rejects.toThrow(/psnr: options.dataRange must be the finite positive width/);
    await expect(psnr({ data: [0, Number.NaN, 0, 0], shape: [2, 2] }, a, { dataRange: 1 })).rejects.toThrow(
      /images \(flat index 1\) must be finite pixel values, got NaN/,
    );
    await expect(psnr({ data: [0, 0], shape: [2, 2] }, a, { dataRange: 1 })).rejects.toThrow(/images.data must have 4 values/);
    await expect(psnr('x' as never, a, { dataRange: 1 })).rejects.toThrow(TypeError);
  });
});
