import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { FLAT_CONCAT_KERNEL, FLAT_SPLIT_KERNEL } from './flatCopies.js';
import { programsOf } from './programs.testutil.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

const concat = (xs: tf.Tensor[]) => tf.engine().runKernel(FLAT_CONCAT_KERNEL, xs as unknown as tf.NamedTensorMap) as tf.Tensor;
const split = (x: tf.Tensor, shapes: number[][]) => tf.engine().runKernel(FLAT_SPLIT_KERNEL, { x }, { shapes } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("MtdFlatConcat / MtdFlatSplit as buffer copies (webgpu, selectBackend's flatCopies: 'copies', the default)", () => {
  it('concatenate and split exactly (float32, int32, bool, empty pieces, fresh host tensors), dispatch no program, leak nothing, survive the source being disposed before the submit', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    try {
      await selectBackend('webgpu');
      for (const dtype of ['float32', 'int32', 'bool'] as const) {
        const shapes = [[2, 3], [0], [5], [1, 1, 4], [7]];
        let next = 0;
        const values = shapes.map((s) => Array.from({ length: s.reduce((a, d) => a * d, 1) }, () => (dtype === 'bool' ? next++ % 2 : dtype === 'int32' ? next++ - 9 : (next++ % 11) * 0.375 - 1)));
        // Made on the host: their values are uploaded by the kernel itself.
        const xs = shapes.map((s, i) => tf.tensor(values[i]!, s, dtype));
        const { out: flat, programs } = await programsOf(() => concat(xs));
        expect(programs).toEqual([]);
        expect(flat.shape).toEqual([values.flat().length]);
        expect(flat.dtype).toBe(dtype);
        expect(Array.from(await flat.data()), dtype).toEqual(values.flat());
        // The pieces of a vector computed on the GPU and disposed at once, before anything is submitted.
        const doubled = tf.mul(flat, dtype === 'bool' ? 1 : 2);
        const pieces = split(dtype === 'bool' ? tf.cast(doubled, 'bool') : doubled, shapes);
        doubled.dispose();
        for (const [i, piece] of pieces.entries()) {
          expect(piece.shape).toEqual(shapes[i]);
          expect(Array.from(await piece.data()), `${dtype} piece ${i}`).toEqual(values[i]!.map((v) => (dtype === 'bool' ? v : 2 * v)));
        }
        await expectNoLeak(() => concat(xs), `concat ${dtype}`);
        await expectNoLeak(() => tf.tidy(() => split(concat(xs), shapes)[3]!.clone()), `split ${dtype}`);
        tf.dispose([...xs, flat, ...pieces]);
      }
      const x = tf.ones([4]);
      expect(() => split(x, [[3]])).toThrow(/MtdFlatSplit: x must be 1-D with 3 elements \(the shapes' sizes\), got \[4\]/);
      x.dispose();
      await selectBackend('webgpu', { webgpu: { flatCopies: 'programs' } });
      expect(tf.getKernel(FLAT_SPLIT_KERNEL, 'webgpu')).toBeUndefined();
      await expect(selectBackend('webgpu', { webgpu: { flatCopies: 'none' as 'copies' } })).rejects.toThrow(/options\.webgpu\.flatCopies must be 'copies' or 'programs', got none/);
    } finally {
      await selectBackend('webgpu');
    }
    expect(tf.getKernel(FLAT_CONCAT_KERNEL, 'webgpu')).toBeDefined();
  });
});
