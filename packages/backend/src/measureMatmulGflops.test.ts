import { expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { withBackend } from './harness.js';
import { measureMatmulGflops } from './measureMatmulGflops.js';

describe('measureMatmulGflops', () => {
  it('returns a positive, finite rate and leaves no tensors behind', async () => {
    await withBackend('wasm', async () => {
      let rate = 0;
      await expectNoLeak(async () => {
        rate = await measureMatmulGflops(64, { repeats: 2, warmup: 1 });
      });
      expect(Number.isFinite(rate)).toBe(true);
      expect(rate).toBeGreaterThan(0);
    });
  });

  it('runs with no warm-up on cpu and keeps no tensors', async () => {
    await withBackend('cpu', async () => {
      const before = tf.memory().numTensors;
      await measureMatmulGflops(16, { repeats: 1, warmup: 0 });
      expect(tf.memory().numTensors).toBe(before);
    });
  });

  it('rejects bad sizes and options with the argument named', async () => {
    await expect(measureMatmulGflops(0)).rejects.toThrow(new RangeError('measureMatmulGflops: n must be an integer >= 1, got 0'));
    await expect(measureMatmulGflops(8.5)).rejects.toThrow(/n must be an integer >= 1, got 8.5/);
    await expect(measureMatmulGflops(8, { repeats: 0 })).rejects.toThrow(/options.repeats must be an integer >= 1, got 0/);
    await expect(measureMatmulGflops(8, { warmup: -1 })).rejects.toThrow(/options.warmup must be an integer >= 0, got -1/);
  });
});
