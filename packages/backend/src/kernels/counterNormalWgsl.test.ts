import { counterNormals } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { COUNTER_NORMAL_KERNEL } from './counterNormalWgsl.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

const run = (keys: number[], counter: number, size: number) =>
  tf.engine().runKernel(COUNTER_NORMAL_KERNEL, { keys: tf.tensor2d(Int32Array.from(keys), [keys.length / 2, 2], 'int32') }, { counter, size }) as tf.Tensor;

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("MtdCounterNormal (webgpu, selectBackend's noise: 'wgsl', the default)", () => {
  it("equals @mtd/random's float64 counterNormals (odd sizes, several rows, keys and counters with the top bit set), leaks nothing, and goes with noise: 'host'", async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    try {
      await selectBackend('webgpu');
      const cases: Array<[keys: number[], counter: number, size: number]> = [
        [[0, 0], 0, 1],
        [[1, 2], 7, 2],
        [[0xffffffff, 0x80000000], 0xffffffff, 9],
        [[3, 4, 0x9e3779b9, 0x7f4a7c15, 5, 6], 123, 33],
        [[0x12345678, 0x9abcdef0], 2, 70_001],
      ];
      for (const [keys, counter, size] of cases) {
        const rows = keys.length / 2;
        const out = run(keys, counter, size);
        expect(out.shape).toEqual([rows, size]);
        expect(out.dtype).toBe('float32');
        const ref = counterNormals(keys, counter, size, new Float64Array(rows * size));
        // Only float32 log, cos, sin and the angle's rounding differ: on lavapipe by at most
        // 2.6e-5 over a million draws (the largest near u1 = 1, where log's absolute error is
        // divided by a tiny radius). A wrong word or index is off by O(1).
        expectClose(await out.data(), ref, { rtol: 1e-5, atol: 5e-5, label: `keys ${keys} counter ${counter} size ${size}` });
        out.dispose();
      }
      await expectNoLeak(() => {
        const keys = tf.tensor2d([1, 2], [1, 2], 'int32');
        const out = tf.engine().runKernel(COUNTER_NORMAL_KERNEL, { keys }, { counter: 0, size: 5 }) as tf.Tensor;
        keys.dispose();
        return out;
      }, 'counter normal');
      expect(() => run([1, 2], -1, 3)).toThrow(/MtdCounterNormal: counter must be an integer in 0\.\.2\^32-1, got -1/);
      expect(() => run([1, 2], 0, 0)).toThrow(/MtdCounterNormal: size must be an integer >= 1/);
      const floatKeys = tf.tensor2d([1, 2], [1, 2]);
      expect(() => tf.engine().runKernel(COUNTER_NORMAL_KERNEL, { keys: floatKeys }, { counter: 0, size: 2 })).toThrow(
        /MtdCounterNormal: keys must be an int32 tensor \[R >= 1, 2\], got float32 \[1, 2\]/,
      );
      floatKeys.dispose();
      await selectBackend('webgpu', { webgpu: { noise: 'host' } });
      expect(tf.getKernel(COUNTER_NORMAL_KERNEL, 'webgpu')).toBeUndefined();
      await expect(selectBackend('webgpu', { webgpu: { noise: 'gpu' as 'wgsl' } })).rejects.toThrow(/options\.webgpu\.noise must be 'host' or 'wgsl', got gpu/);
    } finally {
      await selectBackend('webgpu');
    }
    expect(tf.getKernel(COUNTER_NORMAL_KERNEL, 'webgpu')).toBeDefined();
  });
});
