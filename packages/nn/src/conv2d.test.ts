import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak, maxAbsDiff } from '@mtd/testkit';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2d } from './conv2d.js';
import type { Conv } from './param-store.js';
import { conv2dRef } from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function convParams(k: number, cin: number, cout: number, seed: number): { p: Conv; w: Float32Array; b: Float32Array } {
  const rng = createRng(seed);
  const w = rng.fillNormal(new Float32Array(k * k * cin * cout));
  const b = rng.fillNormal(new Float32Array(cout));
  return { p: { weight: tf.variable(tf.tensor4d(w, [k, k, cin, cout])), bias: tf.variable(tf.tensor1d(b)) }, w, b };
}

describe('conv2d', () => {
  it('is PyTorch Conv2d with padding (k - 1) / 2 for k in {1, 3, 5}, stride 1 or 2, odd and even sizes (float64 reference, property, 100 runs)', () => {
    fc.assert(
      fc.property(
        fc.record({
          b: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 7 }),
          w: fc.integer({ min: 1, max: 7 }),
          cin: fc.integer({ min: 1, max: 3 }),
          cout: fc.integer({ min: 1, max: 3 }),
          k: fc.constantFrom(1, 3, 5),
          stride: fc.constantFrom(1, 2),
          seed: fc.nat(),
        }),
        ({ b, h, w, cin, cout, k, stride, seed }) => {
          const { p, w: weight, b: bias } = convParams(k, cin, cout, seed);
          const x = createRng(seed + 1).fillNormal(new Float32Array(b * h * w * cin));
          const want = conv2dRef(x, [b, h, w, cin], weight, bias, k, cout, stride);
          const got = conv2d(tf.tensor4d(x, [b, h, w, cin]), p, stride);
          expect(got.shape).toEqual(want.shape);
          const err = maxAbsDiff(got.dataSync(), want.data);
          tf.dispose([got, p.weight, p.bias]);
          expect(err).toBeLessThan(1e-4);
        },
      ),
      { numRuns: 100, seed: 11 },
    );
  });

  it('pads a stride-2 conv on both sides, unlike tfjs "same" (ADM downsampling: 4x4 -> 2x2 centred)', async () => {
    const { p, w, b } = convParams(3, 1, 1, 4);
    const x = Float32Array.from({ length: 16 }, (_, i) => i);
    const got = await conv2d(tf.tensor4d(x, [1, 4, 4, 1]), p, 2).data();
    const want = conv2dRef(x, [1, 4, 4, 1], w, b, 3, 1, 2).data;
    expectClose(got, want, { rtol: 1e-5, atol: 1e-5, label: 'stride 2' });
    const same = await tf.add(tf.conv2d(tf.tensor4d(x, [1, 4, 4, 1]), p.weight as tf.Tensor4D, 2, 'same'), p.bias).data();
    expect(maxAbsDiff(same, want)).toBeGreaterThan(0.1);
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const { p } = convParams(3, 2, 2, 1);
    const x = tf.randomNormal([1, 4, 4, 2]) as tf.Tensor4D;
    await expectNoLeak(async () => {
      conv2d(x, p, 2).dispose();
    });
    tf.dispose([x, p.weight, p.bias]);
  });

  it('rejects bad inputs, kernels, biases and strides, naming the argument', () => {
    const { p } = convParams(3, 2, 4, 1);
    const x = tf.zeros([1, 4, 4, 2]) as tf.Tensor4D;
    expect(() => conv2d(tf.zeros([4, 4, 2]) as unknown as tf.Tensor4D, p)).toThrow('conv2d: x must be a tensor [B, H, W, C], got a float32 tensor of shape [4, 4, 2]');
    expect(() => conv2d(tf.zeros([1, 4, 4, 3]) as tf.Tensor4D, p)).toThrow('conv2d: conv.weight must be an odd square kernel [k, k, 3, out], got a float32 tensor of shape [3, 3, 2, 4]');
    const even = convParams(2, 2, 4, 1).p;
    expect(() => conv2d(x, even)).toThrow('conv2d: conv.weight must be an odd square kernel [k, k, 2, out], got a float32 tensor of shape [2, 2, 2, 4]');
    expect(() => conv2d(x, { weight: p.weight, bias: even.bias.slice(0, 3) as tf.Variable })).toThrow('conv2d: conv.bias must be a tensor [4], got a float32 tensor of shape [3]');
    expect(() => conv2d(x, p, 0)).toThrow('conv2d: stride must be an integer >= 1, got 0');
    tf.dispose([x, p.weight, p.bias, even.weight, even.bias]);
  });
});
