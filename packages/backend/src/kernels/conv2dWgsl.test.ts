import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { programsOf } from './programs.testutil.js';
import { makeData, tfPad, type Case } from './convCases.testutil.js';
import { conv2dRef, conv2dBackpropInputRef, f64 } from './reference.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

// Rows not a multiple of the 64-row tile, two output-channel tiles, strides, explicit and
// asymmetric padding, a 1x1 conv, padding past the kernel.
const CASES: Case[] = [
  { label: '3x3 same s1, 16 -> 20', x: [2, 9, 7, 16], k: [3, 3], outC: 20, strides: [1, 1], pad: 'same' },
  { label: '3x3 same s1, 32 -> 16 (input gradient ours too)', x: [2, 6, 5, 32], k: [3, 3], outC: 16, strides: [1, 1], pad: 'same' },
  { label: '4x2 explicit s1, 16 -> 32 (flipped filter, uneven padding)', x: [2, 7, 6, 16], k: [4, 2], outC: 32, strides: [1, 1], pad: [[1, 2], [0, 1]] },
  { label: '3x3 valid s2, 32 -> 8', x: [3, 10, 11, 32], k: [3, 3], outC: 8, strides: [2, 2], pad: 'valid' },
  { label: '4x2 explicit s(2,3), 16 -> 68', x: [2, 9, 8, 16], k: [4, 2], outC: 68, strides: [2, 3], pad: [[1, 2], [0, 1]] },
  { label: '1x1, 48 -> 4', x: [1, 5, 6, 48], k: [1, 1], outC: 4, strides: [1, 1], pad: 'valid' },
  { label: '3x3, padding >= kernel', x: [1, 5, 4, 16], k: [3, 3], outC: 12, strides: [1, 2], pad: [[3, 0], [0, 3]] },
];

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("webgpu Conv2D with conv2d: 'wgsl' (the default; implicit GEMM)", () => {
  it('matches the float64 conv and input gradient, runs its program only where it applies, leaks nothing', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    try {
      await selectBackend('webgpu');
      for (const [i, c] of CASES.entries()) {
        const d = makeData(c, 40 + i);
        const [x, w] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape)];
        const ref = conv2dRef(f64(d.x), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
        const { out, programs } = await programsOf(() => tf.conv2d(x, w, c.strides, tfPad(c.pad)));
        expect(out.shape, c.label).toEqual(ref.shape);
        expect(programs, c.label).toContain('Conv2DProgram');
        expectClose(await out.data(), ref.y, { rtol: 1e-4, atol: 1e-4, label: `conv ${c.label}` });
        await expectNoLeak(() => tf.conv2d(x, w, c.strides, tfPad(c.pad)), c.label);
        // The stride-1 input gradient is a forward conv (with 16k output channels it is ours too).
        if (c.strides[0] === 1 && c.strides[1] === 1) {
          const dy = tf.tensor4d(d.dy, d.dyShape);
          const grad = await programsOf(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, w, c.strides, tfPad(c.pad)), dy)))(x));
          const dx = grad.out;
          // The forward conv, and with 16k output channels the input gradient (reading the flipped
          // filter in place: no Reverse); otherwise the forward conv of a reversed filter.
          const ours = c.outC % 16 === 0;
          expect(grad.programs.filter((p) => p === 'Conv2DProgram').length, c.label).toBe(ours ? 2 : 1);
          expect(grad.programs.some((p) => p.startsWith('Reverse')), c.label).toBe(!ours);
          const dxRef = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
          expectClose(await dx.data(), dxRef, { rtol: 1e-4, atol: 1e-4, label: `dx ${c.label}` });
          tf.dispose([dy, dx]);
        }
        // With a bias (tf.fused.conv2d, linear): the same program with the bias in its epilogue,
        // one dispatch; a relu, which the program does not fuse, goes to tfjs's FusedConv2D.
        const biasValues = Float32Array.from({ length: c.outC }, (_, j) => 0.25 * j - 1);
        const bias = tf.tensor1d(biasValues);
        const fusedConv = () => tf.fused.conv2d({ x, filter: w, strides: c.strides, pad: tfPad(c.pad), bias });
        const fused = await programsOf(fusedConv);
        expect(fused.programs, c.label).toEqual(['Conv2DProgram']);
        const withBias = ref.y.map((v, j) => v + biasValues[j % c.outC]!);
        expectClose(await fused.out.data(), withBias, { rtol: 1e-4, atol: 1e-4, label: `fused ${c.label}` });
        await expectNoLeak(fusedConv, `fused ${c.label}`);
        const relu = await programsOf(() => tf.fused.conv2d({ x, filter: w, strides: c.strides, pad: tfPad(c.pad), bias, activation: 'relu' }));
        expect(relu.programs, c.label).not.toContain('Conv2DProgram');
        expectClose(await relu.out.data(), withBias.map((v) => Math.max(0, v)), { rtol: 1e-4, atol: 1e-4, label: `fused relu ${c.label}` });
        tf.dispose([x, w, out, bias, fused.out, relu.out]);
      }
      // 3 input channels (not a multiple of 16): tfjs's kernel.
      const [x3, w3] = [tf.randomNormal([1, 6, 6, 3], 0, 1, 'float32', 1) as tf.Tensor4D, tf.randomNormal([3, 3, 3, 8], 0, 1, 'float32', 2) as tf.Tensor4D];
      const other = await programsOf(() => tf.conv2d(x3, w3, 1, 'same'));
      expect(other.programs).not.toContain('Conv2DProgram');
      tf.dispose([x3, w3, other.out]);
      // 'tfjs': tfjs's kernel everywhere.
      await selectBackend('webgpu', { webgpu: { conv2d: 'tfjs' } });
      const c = CASES[0]!;
      const d = makeData(c, 40);
      const [x, w] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape)];
      const off = await programsOf(() => tf.conv2d(x, w, 1, 'same'));
      expect(off.programs).not.toContain('Conv2DProgram');
      tf.dispose([x, w, off.out]);
      await expect(selectBackend('webgpu', { webgpu: { conv2d: 'cudnn' as 'wgsl' } })).rejects.toThrow(/options\.webgpu\.conv2d must be 'tfjs' or 'wgsl', got cudnn/);
    } finally {
      await selectBackend('webgpu');
    }
  });
});
