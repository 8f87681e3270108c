import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { filterGradientSplits } from './conv2dBackprop.js';
import { conv2dBackpropFilterWgsl } from './conv2dFilterGradWgsl.js';
import { CASES, makeData, tfPad, TOL, type Case } from './convCases.testutil.js';
import { conv2dBackpropFilterRef, f64 } from './reference.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

// Past one 32x32 tile in both output axes (r = 3*3*5 = 45, 37 output channels) and long enough
// (2 x 18 x 18 = 648 rows) to be split; and a split whose last slab is short.
const BIG: Case[] = [
  { label: 'two tiles each way, split', x: [2, 18, 18, 5], k: [3, 3], outC: 37, strides: [1, 1], pad: 'same' },
  { label: 'short last slab', x: [3, 11, 13, 2], k: [3, 3], outC: 3, strides: [1, 1], pad: 'same' },
];

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe('conv2dBackpropFilterWgsl (the WGSL implicit GEMM)', () => {
  it('matches the float64 reference on odd shapes, strides and every padding kind', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await withBackend('webgpu', async () => {
      for (const [i, c] of [...CASES, ...BIG].entries()) {
        const d = makeData(c, 500 + i);
        const x = tf.tensor4d(d.x, c.x);
        const dy = tf.tensor4d(d.dy, d.dyShape);
        const dW = conv2dBackpropFilterWgsl({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) });
        expect(dW.shape, c.label).toEqual(d.wShape);
        const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
        expectClose(await dW.data(), ref, { ...TOL, label: `wgsl dW ${c.label}` });
        tf.dispose([x, dy, dW]);
      }
    });
  });

  it('splits long reductions, handles NCHW, leaks nothing and refuses other backends', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    // 648 rows, 2 x 2 tiles: 2 slabs; refUNet's 32x32x64 layer at batch 256: 16 slabs.
    expect(filterGradientSplits(648, 45, 37)).toBe(2);
    expect(filterGradientSplits(256 * 32 * 32, 576, 64)).toBe(15);
    expect(filterGradientSplits(100, 45, 37)).toBe(1);
    await withBackend('webgpu', async () => {
      const c = CASES[1]!;
      const d = makeData(c, 7);
      const x = tf.tensor4d(d.x, c.x);
      const dy = tf.tensor4d(d.dy, d.dyShape);
      const [xt, dyt] = [tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D, tf.transpose(dy, [0, 3, 1, 2]) as tf.Tensor4D];
      const dW = conv2dBackpropFilterWgsl({ x: xt, dy: dyt, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad), dataFormat: 'NCHW' });
      const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
      expectClose(await dW.data(), ref, { ...TOL, label: 'wgsl dW NCHW' });
      const big = BIG[0]!;
      const bd = makeData(big, 8);
      const [bx, bdy] = [tf.tensor4d(bd.x, big.x), tf.tensor4d(bd.dy, bd.dyShape)];
      await expectNoLeak(() => conv2dBackpropFilterWgsl({ x: bx, dy: bdy, filterShape: bd.wShape, strides: 1, pad: 'same' }), 'wgsl dW split');
      tf.dispose([x, dy, xt, dyt, dW, bx, bdy]);
    });
    await withBackend('cpu', async () => {
      const z = tf.zeros([1, 3, 3, 1]) as tf.Tensor4D;
      expect(() => conv2dBackpropFilterWgsl({ x: z, dy: z, filterShape: [3, 3, 1, 1], strides: 1, pad: 'same' })).toThrow(
        /conv2dBackpropFilterWgsl: needs the webgpu backend, the current one is 'cpu'/,
      );
      z.dispose();
    });
  });

  it("runs as the registered filter gradient with selectBackend's filterGradient: 'wgsl'", async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const c = CASES[4]!;
    const d = makeData(c, 21);
    const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
    const gradient = async () => {
      const [x, w, dy] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape), tf.tensor4d(d.dy, d.dyShape)];
      const loss = (ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, c.strides, tfPad(c.pad)), dy));
      const info = await tf.profile(() => tf.grad(loss)(w));
      const dW = info.result as tf.Tensor;
      const values = await dW.data();
      tf.dispose([x, w, dy, dW]);
      return { values, names: info.kernels.map((k) => k.name) };
    };
    try {
      await selectBackend('webgpu', { webgpu: { filterGradient: 'wgsl' } });
      const wgsl = await gradient();
      expectClose(wgsl.values, ref, { ...TOL, label: 'registered wgsl dW' });
      expect(wgsl.names).not.toContain('StridedSlice');
      await selectBackend('webgpu');
      const im2col = await gradient();
      expectClose(im2col.values, ref, { ...TOL, label: 'registered im2col dW' });
      expect(im2col.names).toContain('StridedSlice');
      await expect(selectBackend('webgpu', { webgpu: { filterGradient: 'cuda' as 'wgsl' } })).rejects.toThrow(
        /options\.webgpu\.filterGradient must be 'im2col' or 'wgsl', got cuda/,
      );
    } finally {
      await selectBackend('webgpu');
    }
  });
});
