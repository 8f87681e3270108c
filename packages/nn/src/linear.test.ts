import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { linear } from './linear.js';
import type { Dense } from './param-store.js';
import { linearRef } from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = createRng(5);

function dense(cin: number, cout: number): { p: Dense; w: Float32Array; b: Float32Array } {
  const w = rng.fillNormal(new Float32Array(cin * cout));
  const b = rng.fillNormal(new Float32Array(cout));
  return { p: { weight: tf.variable(tf.tensor2d(w, [cin, cout])), bias: tf.variable(tf.tensor1d(b)) }, w, b };
}

describe('linear', () => {
  it('is x W + b over the last axis for [N, in], [B, L, in] and [in] (float64 reference)', async () => {
    const [cin, cout] = [5, 3];
    const { p, w, b } = dense(cin, cout);
    for (const lead of [[4], [2, 3], []]) {
      const rows = lead.reduce((a, v) => a * v, 1);
      const x = rng.fillNormal(new Float32Array(rows * cin));
      const y = linear(tf.tensor(x, [...lead, cin]), p);
      expect(y.shape).toEqual([...lead, cout]);
      expectClose(await y.data(), linearRef(x, rows, w, b, cin, cout), { rtol: 1e-5, atol: 1e-5, label: `lead [${lead}]` });
    }
  });

  it('has the gradients dL/dx = dy W^T, dL/dW = x^T dy, dL/db = sum dy (float64 reference)', async () => {
    const [n, cin, cout] = [3, 4, 2];
    const { p, w } = dense(cin, cout);
    const x = rng.fillNormal(new Float32Array(n * cin));
    const dy = rng.fillNormal(new Float32Array(n * cout));
    const f = (xt: tf.Tensor, wt: tf.Tensor, bt: tf.Tensor) =>
      tf.sum(tf.mul(linear(xt, { weight: wt as tf.Variable, bias: bt as tf.Variable }), tf.tensor2d(dy, [n, cout])));
    const [gx, gw, gb] = tf.grads(f)([tf.tensor2d(x, [n, cin]), p.weight, p.bias]);
    const wantX = new Float64Array(n * cin);
    const wantW = new Float64Array(cin * cout);
    const wantB = new Float64Array(cout);
    for (let r = 0; r < n; r++)
      for (let o = 0; o < cout; o++) {
        wantB[o]! += dy[r * cout + o]!;
        for (let i = 0; i < cin; i++) {
          wantX[r * cin + i]! += dy[r * cout + o]! * w[i * cout + o]!;
          wantW[i * cout + o]! += x[r * cin + i]! * dy[r * cout + o]!;
        }
      }
    expectClose(await gx!.data(), wantX, { rtol: 1e-5, atol: 1e-5, label: 'dx' });
    expectClose(await gw!.data(), wantW, { rtol: 1e-5, atol: 1e-5, label: 'dW' });
    expectClose(await gb!.data(), wantB, { rtol: 1e-5, atol: 1e-5, label: 'db' });
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const { p } = dense(3, 2);
    const x = tf.randomNormal([2, 4, 3]);
    await expectNoLeak(async () => {
      linear(x, p).dispose();
    });
    tf.dispose([x, p.weight, p.bias]);
  });

  it('rejects mismatched weights and biases, naming the argument', () => {
    const { p } = dense(3, 2);
    expect(() => linear(tf.zeros([2, 4]), p)).toThrow('linear: dense.weight must be a tensor [4, out], got a float32 tensor of shape [3, 2]');
    expect(() => linear(tf.zeros([2, 3]), { weight: p.weight, bias: p.weight })).toThrow('linear: dense.bias must be a tensor [2], got a float32 tensor of shape [3, 2]');
    expect(() => linear(tf.scalar(1), p)).toThrow('linear: x must be a tensor [..., in], got a float32 tensor of shape []');
    tf.dispose([p.weight, p.bias]);
  });
});
