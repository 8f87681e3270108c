import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frozenEncoder, identityEncoder } from './encoders.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('identityEncoder (MATH.md 5.1)', () => {
  it('returns its input itself', () => {
    const x = tf.tensor([1, 2, 3]);
    expect(identityEncoder.encode(x)).toBe(x);
    x.dispose();
    expect(() => identityEncoder.encode([1, 2] as never)).toThrow(/identityEncoder.encode: x must be a tf.Tensor/);
  });
});

describe('frozenEncoder (MATH.md 5.2)', () => {
  // A small "pretrained" network: e = tanh(x W + b), reshaped to image shape.
  const W = tf.variable(tf.tensor2d([[0.5, -1, 2, 0.25], [1, 0.5, -0.5, 3]]), true, 'frozenTestW');
  const bias = tf.variable(tf.tensor1d([0.1, 0.2, -0.3, 0.4]), true, 'frozenTestB');
  const net = (x: tf.Tensor) => tf.reshape(tf.tanh(tf.add(tf.matMul(x as tf.Tensor2D, W), bias)), [-1, 2, 2, 1]);
  const encoder = frozenEncoder(net, 'labelNet');
  afterAll(() => {
    W.dispose();
    bias.dispose();
  });

  it('computes the wrapped function', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2], [-1, 0.5]]);
      expect(Array.from(encoder.encode(x).dataSync())).toEqual(Array.from(net(x).dataSync()));
      expect(encoder.encode(x).shape).toEqual([2, 2, 2, 1]);
      expect(encoder.name).toBe('labelNet');
    });
  });

  it('passes no gradient to its input', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2], [-1, 0.5]]);
      const g = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(encoder.encode(v), 3)))(x);
      expect(Array.from(g.dataSync())).toEqual([0, 0, 0, 0]);
      // The unwrapped network does pass one, so the zero above is the wrapper's doing.
      const open = tf.grad((v: tf.Tensor) => tf.sum(net(v)))(x);
      expect(Math.max(...Array.from(open.abs().dataSync()))).toBeGreaterThan(0.1);
    });
  });

  it('passes no gradient to the variables it closes over, while others still get theirs', () => {
    tf.tidy(() => {
      const x = tf.tensor2d([[1, 2], [-1, 0.5]]);
      const head = tf.variable(tf.ones([2, 2, 2, 1]), true, 'frozenTestHead');
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(encoder.encode(x), head)) as tf.Scalar, [W, bias, head]);
      // Variables reached only through the frozen encoder get no gradient at all (or zero).
      for (const name of [W.name, bias.name]) {
        const g = grads[name];
        if (g) expect(Math.max(...Array.from(g.abs().dataSync()))).toBe(0);
      }
      const gHead = grads[head.name]!;
      expect(Array.from(gHead.dataSync())).toEqual(Array.from(net(x).dataSync()));
      // Unfrozen, the same loss does reach W.
      const open = tf.variableGrads(() => tf.sum(tf.mul(net(x), head)) as tf.Scalar, [W]);
      expect(Math.max(...Array.from(open.grads[W.name]!.abs().dataSync()))).toBeGreaterThan(0.1);
      head.dispose();
    });
  });

  it('leaks no tensors, including the wrapped function’s intermediates', async () => {
    const x = tf.tensor2d([[1, 2]]);
    await expectNoLeak(() => encoder.encode(x), 'frozenEncoder.encode');
    await expectNoLeak(() => tf.grad((v: tf.Tensor) => tf.sum(encoder.encode(v)))(x), 'gradient through frozenEncoder');
    const same = frozenEncoder((v) => v);
    await expectNoLeak(() => same.encode(x), 'frozenEncoder of the identity');
    expect(x.isDisposed).toBe(false);
    const outside = tf.tensor([5, 6]);
    const constant = frozenEncoder(() => outside);
    await expectNoLeak(() => constant.encode(x), 'frozenEncoder returning a tensor made outside');
    expect(outside.isDisposed).toBe(false);
    outside.dispose();
    x.dispose();
  });

  it('rejects bad input', () => {
    expect(() => frozenEncoder('net' as never)).toThrow(/frozenEncoder: fn must be a function/);
    const bad = frozenEncoder(() => 3 as never, 'bad');
    const x = tf.tensor([1]);
    expect(() => bad.encode(x)).toThrow(/frozenEncoder\(bad\).encode: fn\(x\) must be a tf.Tensor, got 3/);
    expect(() => bad.encode(null as never)).toThrow(TypeError);
    x.dispose();
  });
});
