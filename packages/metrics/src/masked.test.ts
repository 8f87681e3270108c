import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { maskedDistance } from './masked.js';

describe('maskedDistance', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });
  // Two 2x2 grey images; the mask keeps the top row of image 0 and everything of image 1.
  const reference = { data: [0, 0, 0, 0, 1, 1, 1, 1], shape: [2, 2, 2, 1] };
  const restored = { data: [0, 0, 0.5, -0.5, 1, 1, 1, 1], shape: [2, 2, 2, 1] };
  const mask = { data: [1, 1, 0, 0, 1, 1, 1, 1], shape: [2, 2, 2, 1] };

  it('measures only the masked pixels, hand-computed', async () => {
    const r = await maskedDistance(restored, reference, mask, { dataRange: 2 });
    expect(Array.from(r.count)).toEqual([2, 0]);
    expect(r.mse[0]).toBe(0.25);
    expect(r.l1[0]).toBe(0.5);
    expect(r.maxAbs[0]).toBe(0.5);
    expect(r.psnr[0]).toBeCloseTo(10 * Math.log10(4 / 0.25), 12);
    // Image 1 has no masked pixel: undefined, and left out of the means.
    expect(r.mse[1]).toBeNaN();
    expect(r.images).toBe(1);
    expect(r.meanMse).toBe(0.25);
    expect(r.meanL1).toBe(0.5);
  });

  it("region 'kept' checks that unmasked pixels are unchanged", async () => {
    const r = await maskedDistance(restored, reference, mask, { dataRange: 2, region: 'kept' });
    expect(Array.from(r.count)).toEqual([2, 4]);
    expect(r.maxAbsOverall).toBe(0);
    expect(r.meanMse).toBe(0);
    expect(r.meanPsnr).toBe(Infinity);
  });

  it('shares a one-channel or [N, H, W] mask across channels', async () => {
    // One 2x1 RGB image; the mask hides pixel 1.
    const a = { data: [0, 0, 0, 1, 2, 3], shape: [1, 2, 1, 3] };
    const b = { data: [0, 0, 0, 0, 0, 0], shape: [1, 2, 1, 3] };
    const r1 = await maskedDistance(a, b, { data: [1, 0], shape: [1, 2, 1, 1] }, { dataRange: 1 });
    const r2 = await maskedDistance(a, b, { data: [1, 0], shape: [1, 2, 1] }, { dataRange: 1 });
    const r3 = await maskedDistance(a, b, { data: [1, 1, 1, 0, 0, 0], shape: [1, 2, 1, 3] }, { dataRange: 1 });
    for (const r of [r1, r2, r3]) {
      expect(r.count[0]).toBe(3);
      expect(r.mse[0]).toBeCloseTo(14 / 3, 14);
      expect(r.l1[0]).toBe(2);
    }
  });

  it('reads tensors without leaking', async () => {
    const x = tf.ones([1, 3, 3, 1]);
    const y = tf.zeros([1, 3, 3, 1]);
    const m = tf.zeros([1, 3, 3, 1]);
    await expectNoLeak(() => maskedDistance(x, y, m, { dataRange: 1 }), 'maskedDistance');
    const r = await maskedDistance(x, y, m, { dataRange: 1 });
    expect(r.meanMse).toBe(1);
    tf.dispose([x, y, m]);
  });

  it('rejects bad input', async () => {
    await expect(maskedDistance(restored, reference, { data: [1, 0.5, 0, 0, 1, 1, 1, 1], shape: [2, 2, 2, 1] }, { dataRange: 2 })).rejects.toThrow(
      /maskedDistance: mask \(flat index 1\) must be 0 \(masked\) or 1 \(kept\), got 0.5/,
    );
    await expect(maskedDistance(restored, reference, { data: [1, 0, 0], shape: [3, 1] }, { dataRange: 2 })).rejects.toThrow(
      /mask must be \[N, H, W\], \[N, H, W, 1\] or \[N, H, W, C\]/,
    );
    await expect(maskedDistance(restored, reference, mask, { dataRange: 2, region: 'all' as never })).rejects.toThrow(
      /options.region must be 'masked' or 'kept'/,
    );
  });
});
