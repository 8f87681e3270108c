import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { availableBackends, withBackend, type BackendName } from '@mtd/backend';
import { beforeAll, describe, expect, test } from 'vitest';
import { flatConcat, flatSplit } from './flat-kernels.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = (await availableBackends()).filter((b) => b === 'cpu' || b === 'wasm' || b === 'webgpu');
  await tf.setBackend('cpu');
});

const shapesArb = fc.array(fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), { minLength: 1, maxLength: 6 });
const sizeOf = (s: readonly number[]) => s.reduce((a, d) => a * d, 1);

describe('flatConcat and flatSplit (the same cases on every backend here)', () => {
  test('flatConcat is the concat of the flattened tensors, flatSplit its inverse, in one engine kernel each, leaking nothing', async () => {
    expect(backends).toContain('cpu');
    for (const backend of backends) {
      await withBackend(backend, async () => {
        const cases = fc.sample(fc.tuple(shapesArb, fc.constantFrom<'float32' | 'int32'>('float32', 'int32')), { numRuns: 12, seed: 7 });
        for (const [shapes, dtype] of cases) {
          let next = 0;
          const values = shapes.map((s) => Array.from({ length: sizeOf(s) }, () => (dtype === 'int32' ? next++ : (next++ % 7) - 3.25)));
          const tensors = shapes.map((s, i) => tf.tensor(values[i]!, s, dtype));
          const before = tf.memory().numTensors;
          const info = await tf.profile(() => {
            const flat = flatConcat(tensors);
            const parts = flatSplit(flat, shapes);
            return [flat, ...parts];
          });
          // One tensor flattens by a reshape (no data moves).
          expect(info.kernels.map((k) => k.name), backend).toEqual([shapes.length === 1 ? 'Reshape' : 'MtdFlatConcat', 'MtdFlatSplit']);
          tf.dispose(info.result as tf.Tensor[]);
          const flat = flatConcat(tensors);
          expect(flat.shape).toEqual([values.flat().length]);
          expect(flat.dtype).toBe(dtype);
          expect(Array.from(await flat.data()), `${backend} ${JSON.stringify(shapes)}`).toEqual(values.flat());
          const parts = flatSplit(flat, shapes);
          for (const [i, part] of parts.entries()) {
            expect(part.shape).toEqual(shapes[i]);
            expect(Array.from(await part.data()), `${backend} part ${i}`).toEqual(values[i]);
          }
          tf.dispose([flat, ...parts]);
          expect(tf.memory().numTensors, `${backend} leak`).toBe(before);
          tf.dispose(tensors);
        }
      });
    }
  });

  test('leak-free on every backend', async () => {
    for (const backend of backends) {
      await withBackend(backend, () => {
        const xs = [tf.ones([2, 3]), tf.zeros([4])];
        const before = tf.memory().numTensors;
        tf.dispose(tf.tidy(() => flatSplit(flatConcat(xs), [[3], [7]])));
        flatConcat([xs[1]!]).dispose();
        expect(tf.memory().numTensors, backend).toBe(before);
        tf.dispose(xs);
      });
    }
  });

  test('names the bad argument', () => {
    expect(() => flatConcat([])).toThrow(/flatConcat: tensors must not be empty/);
    const [a, b] = [tf.ones([2]), tf.ones([2], 'int32')];
    expect(() => flatConcat([a, b])).toThrow(/flatConcat: tensors\[1\] must be float32 like tensors\[0\], got int32/);
    expect(() => flatSplit(a, [[3]])).toThrow(/flatSplit: flat must be a 1-D tensor of 3 elements \(the shapes' sizes\), got \[2\]/);
    tf.dispose([a, b]);
  });
});
