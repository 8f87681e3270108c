import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from './harness.js';
import type { BackendName } from './selectBackend.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

interface DeviceLike {
  createBuffer(descriptor: unknown): unknown;
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe('webgpu uploads of JS values by queue.writeBuffer', () => {
  it('carry float32, int32 and bool values exactly, at odd sizes, into the ops that read them', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(9);
    await withBackend('webgpu', async () => {
      for (const n of [1, 3, 7, 1000, 4099]) {
        const f = rng.fillNormal(new Float32Array(n));
        // Within 2^24: tfjs's WebGPU integer arithmetic goes through float32.
        const i = Int32Array.from({ length: n }, (_, k) => ((k * 7919) % 1000003) - 500000);
        const b = Uint8Array.from({ length: n }, (_, k) => (k % 3 === 0 ? 1 : 0));
        const [ft, it, bt] = [tf.tensor1d(f), tf.tensor1d(i, 'int32'), tf.tensor1d(b, 'bool')];
        // Through a kernel, so the values are read on the GPU, not returned from the CPU copy.
        const [fo, io, bo] = [tf.mul(ft, 1), tf.add(it, 0), tf.logicalNot(tf.logicalNot(bt))];
        expectClose(await fo.data(), Array.from(f), { rtol: 0, atol: 0, label: `float32 x${n}` });
        expect(Array.from(await io.data()), `int32 x${n}`).toEqual(Array.from(i));
        expect(Array.from(await bo.data()), `bool x${n}`).toEqual(Array.from(b));
        // A subarray view uploads its own range, not the start of its buffer.
        const view = tf.tensor1d(f.subarray(1, Math.max(1, n)));
        expectClose(await tf.mul(view, 1).data(), Array.from(f.subarray(1, Math.max(1, n))), { rtol: 0, atol: 0, label: `view x${n}` });
        tf.dispose([ft, it, bt, fo, io, bo, view]);
      }
      await expectNoLeak(() => tf.tidy(() => tf.mul(tf.tensor1d([1, 2, 3]), 2)), 'upload');
    });
  });

  it('create no GPU buffer for a scalar operand once the pool is warm', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await withBackend('webgpu', async () => {
      const device = (tf.backend() as unknown as { device: DeviceLike }).device;
      const x = tf.randomNormal([64, 64], 0, 1, 'float32', 1);
      const step = () => tf.tidy(() => tf.sum(tf.add(tf.mul(x, 0.5), tf.scalar(3))));
      const warm = step();
      await warm.data();
      warm.dispose();
      const create = device.createBuffer.bind(device);
      let created = 0;
      device.createBuffer = (descriptor: unknown) => {
        created += 1;
        return create(descriptor);
      };
      try {
        for (let k = 0; k < 5; k++) {
          const out = step();
          await out.data();
          out.dispose();
        }
      } finally {
        device.createBuffer = create;
      }
      // tfjs's own upload created and destroyed a staging buffer per scalar (10 here); only the
      // read-back's staging buffers remain (one per data() call).
      expect(created).toBeLessThanOrEqual(5);
      x.dispose();
    });
  });
});
