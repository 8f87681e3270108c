import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { conv2dBackpropFilterWgsl, wgslFilterGradientSplits } from './conv2dFilterGradWgsl.js';
import { CASES, makeData, tfPad, TOL, type Case } from './convCases.testutil.js';
import { conv2dBackpropFilterRef, f64 } from './reference.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

// Past one 64x64 tile in both output axes with scalar loads (67 and 70 channels) and long enough
// (3 x 28 x 28 = 2,352 rows) to be split in two; vec4 loads (channels multiples of 4) past a tile,
// strided; vec4 loads split with a short last slab.
const BIG: Case[] = [
  { label: 'two tiles each way, scalar loads, split', x: [3, 28, 28, 67], k: [3, 3], outC: 70, strides: [1, 1], pad: 'same' },
  { label: 'two tiles each way, vec4 loads, stride 2', x: [2, 24, 24, 68], k: [3, 3], outC: 72, strides: [2, 2], pad: 'same' },
  { label: 'vec4 loads, short last slab', x: [6, 24, 20, 8], k: [3, 3], outC: 12, strides: [1, 1], pad: 'valid' },
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
    // About 1,024 workgroups, at least 1,024 rows a slab: refUNet's 32x32x64 layer (9 tiles) at
    // batch 256: 114 slabs; at batch 64: 64; the 8x8 128->128 layer at batch 256: 16.
    expect(wgslFilterGradientSplits(256 * 32 * 32, 9)).toBe(114);
    expect(wgslFilterGradientSplits(64 * 32 * 32, 9)).toBe(64);
    expect(wgslFilterGradientSplits(256 * 8 * 8, 36)).toBe(16);
    expect(wgslFilterGradientSplits(2352, 36)).toBe(2);
    expect(wgslFilterGradientSplits(100, 9)).toBe(1);
    await withBackend('webgpu', async () => {
      const c = CASES[1]!;
      const d = makeData(c, 7);
      const x = tf.tensor4d(d.x, c.x);
      const dy = tf.tensor4d(d.dy, d.dyShape);
      const [xt, dyt] = [tf.transpose(x, [0, 3, 1, 2]) as tf.Tensor4D, tf.transpose(dy, [0, 3, 1, 2]) as tf.Tensor4D];
      const dW = conv2dBackpropFilterWgsl({ x: xt, dy: dyt, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad), dataFormat: 'NCHW' });
      const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
      expectClose(await dW.data(), ref, { ...TOL, label: 'wgsl dW NCHW' });
      const big = BIG[2]!;
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

  it("runs as the registered filter gradient (selectBackend's filterGradient: 'wgsl', the default)", async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    // vec4 loads (16 and 20 channels) and scalar loads (2 and 3 channels).
    const wide: Case = { label: 'wide', x: [2, 7, 6, 16], k: [3, 3], outC: 20, strides: [1, 1], pad: 'same' };
    const gradient = async (c: Case) => {
      const d = makeData(c, 21);
      const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
      const [x, w, dy] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape), tf.tensor4d(d.dy, d.dyShape)];
      const loss = (ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, ww as tf.Tensor4D, c.strides, tfPad(c.pad)), dy));
      const info = await tf.profile(() => tf.grad(loss)(w));
      const dW = info.result as tf.Tensor;
      expectClose(await dW.data(), ref, { ...TOL, label: `registered dW ${c.label}` });
      tf.dispose([x, w, dy, dW]);
      return info.kernels.map((k) => k.name);
    };
    try {
      await selectBackend('webgpu', { webgpu: { filterGradient: 'wgsl' } });
      expect(await gradient(wide)).not.toContain('StridedSlice');
      expect(await gradient(CASES[4]!)).not.toContain('StridedSlice');
      await selectBackend('webgpu', { webgpu: { filterGradient: 'im2col' } });
      expect(await gradient(wide)).toContain('StridedSlice');
      await selectBackend('webgpu');
      expect(await gradient(wide)).not.toContain('StridedSlice');
      await expect(selectBackend('webgpu', { webgpu: { filterGradient: 'cuda' as 'wgsl' } })).rejects.toThrow(
        /options\.webgpu\.filterGradient must be 'im2col' or 'wgsl', got cuda/,
      );
    } finally {
      await selectBackend('webgpu');
    }
  });
});
