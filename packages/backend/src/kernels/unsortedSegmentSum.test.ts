import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import type { BackendName } from '../selectBackend.js';
import { unsortedSegmentSumViaMatMul } from './unsortedSegmentSum.js';

/** out[s] = sum of rows i with ids[i] = s; ids outside [0, numSegments) dropped. */
function segmentSumRef(x: ArrayLike<number>, rows: number, rowSize: number, ids: ArrayLike<number>, numSegments: number): Float64Array {
  const out = new Float64Array(numSegments * rowSize);
  for (let i = 0; i < rows; i++) {
    const s = ids[i]!;
    if (s < 0 || s >= numSegments) continue;
    for (let k = 0; k < rowSize; k++) out[s * rowSize + k] = out[s * rowSize + k]! + x[i * rowSize + k]!;
  }
  return out;
}

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

describe('unsortedSegmentSumViaMatMul', () => {
  it('matches the float64 reference, repeated and out-of-range ids included', async () => {
    await withBackend('cpu', async () => {
      const rng = createRng(4);
      const x = rng.fillNormal(new Float32Array(7 * 3 * 5));
      const ids = Int32Array.from([2, 0, 2, 5, -1, 4, 0]);
      const out = tf.tidy(() => unsortedSegmentSumViaMatMul(tf.tensor3d(x, [7, 3, 5]), tf.tensor1d(ids, 'int32'), 5));
      expect(out.shape).toEqual([5, 3, 5]);
      expectClose(await out.data(), segmentSumRef(x, 7, 15, ids, 5), { rtol: 1e-6, atol: 1e-6 });
      out.dispose();
    });
  });

  it('takes rank-2 ids over the leading two axes and int32 data', async () => {
    await withBackend('cpu', async () => {
      const x = Int32Array.from({ length: 2 * 3 * 2 }, (_, i) => i - 4);
      const ids = Int32Array.from([1, 0, 1, 2, 2, 0]);
      const out = tf.tidy(() => unsortedSegmentSumViaMatMul(tf.tensor3d(x, [2, 3, 2], 'int32'), tf.tensor2d(ids, [2, 3], 'int32'), 3));
      expect(out.dtype).toBe('int32');
      expect(Array.from(await out.data())).toEqual(Array.from(segmentSumRef(x, 6, 2, ids, 3)));
      out.dispose();
    });
  });

  it('leaves no tensors behind', async () => {
    await withBackend('cpu', async () => {
      const x = tf.ones([4, 2]);
      const ids = tf.tensor1d([0, 1, 0, 1], 'int32');
      await expectNoLeak(() => unsortedSegmentSumViaMatMul(x, ids, 2));
      tf.dispose([x, ids]);
    });
  });

  it('lets tf.gather (an embedding lookup) train on wasm: its gradient matches the reference', async (ctx) => {
    if (!backends.includes('wasm')) ctx.skip();
    await withBackend('wasm', async () => {
      const rng = createRng(9);
      const table = rng.fillNormal(new Float32Array(6 * 4));
      const dy = rng.fillNormal(new Float32Array(5 * 4));
      const ids = Int32Array.from([3, 1, 3, 0, 5]);
      const t = tf.tensor2d(table, [6, 4]);
      const w = tf.tensor2d(dy, [5, 4]);
      const idx = tf.tensor1d(ids, 'int32');
      const g = tf.grad((tt: tf.Tensor) => tf.sum(tf.mul(tf.gather(tt, idx), w)))(t);
      expectClose(await g.data(), segmentSumRef(dy, 5, 4, ids, 6), { rtol: 1e-6, atol: 1e-6 });
      tf.dispose([t, w, idx, g]);
    });
  });
});
