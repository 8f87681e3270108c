import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { GROUP_NORM_KERNEL, GROUP_NORM_SILU_GRAD_KERNEL, GROUP_NORM_SILU_KERNEL, groupNorm, groupNormSilu } from './group-norm.js';
import { silu } from './silu.js';
import type { Norm } from './param-store.js';
import { groupNormRef } from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const rng = createRng(21);

/** Gradients flow through plain tensors too; `Norm` types them as variables. */
function asNorm(gamma: tf.Tensor, beta: tf.Tensor): Norm {
  return { gamma, beta } as unknown as Norm;
}

function norm(gamma: Float32Array, beta: Float32Array): Norm {
  return { gamma: tf.variable(tf.tensor1d(gamma)), beta: tf.variable(tf.tensor1d(beta)) };
}

describe('groupNorm', () => {
  it('normalises each (example, group) over positions and channels, then applies the affine (float64 reference)', async () => {
    const [B, P, C, G] = [2, 5, 6, 3];
    const x = rng.fillNormal(new Float32Array(B * P * C), 1, 2);
    const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
    const beta = rng.fillNormal(new Float32Array(C));
    const out = groupNorm(tf.tensor3d(x, [B, P, C]), norm(gamma, beta), G);
    const want = groupNormRef(x, B, P, C, gamma, beta, G);
    expectClose(await out.data(), want, { rtol: 1e-5, atol: 1e-5, label: 'groupNorm' });
  });

  it('works on NHWC images and on [B, C] (one position), keeping the shape (float64 reference)', async () => {
    const [B, H, W, C, G] = [2, 3, 4, 8, 4];
    const x = rng.fillNormal(new Float32Array(B * H * W * C), -0.5, 3);
    const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
    const beta = rng.fillNormal(new Float32Array(C));
    const image = groupNorm(tf.tensor4d(x, [B, H, W, C]), norm(gamma, beta), G);
    expect(image.shape).toEqual([B, H, W, C]);
    expectClose(await image.data(), groupNormRef(x, B, H * W, C, gamma, beta, G), { rtol: 1e-5, atol: 1e-5, label: 'NHWC' });
    const flat = x.subarray(0, B * C);
    const vector = groupNorm(tf.tensor2d(flat, [B, C]), norm(gamma, beta), G);
    expectClose(await vector.data(), groupNormRef(flat, B, 1, C, gamma, beta, G), { rtol: 1e-5, atol: 1e-5, label: '[B, C]' });
  });

  it('returns one new tensor and keeps no intermediates (no tf.tidy needed around it)', async () => {
    const x = tf.randomNormal([2, 3, 3, 4]);
    const p = norm(new Float32Array(4).fill(1), new Float32Array(4));
    await expectNoLeak(async () => {
      groupNorm(x, p, 2).dispose();
    });
    tf.dispose([x, p.gamma, p.beta]);
  });

  it('rejects bad groups and affine shapes, naming the argument', () => {
    const x = tf.zeros([1, 2, 2, 6]);
    const p = norm(new Float32Array(6), new Float32Array(6));
    expect(() => groupNorm(x, p, 4)).toThrow('groupNorm: groups must be a divisor of the 6 channels of x, got 4');
    expect(() => groupNorm(x, p, 0)).toThrow('groupNorm: groups must be an integer >= 1, got 0');
    expect(() => groupNorm(tf.zeros([6]), p, 2)).toThrow('groupNorm: x must be a tensor [B, ..., C], got a float32 tensor of shape [6]');
    const short = norm(new Float32Array(3), new Float32Array(6));
    expect(() => groupNorm(x, short, 2)).toThrow('groupNorm: norm.gamma must be a tensor [6], got a float32 tensor of shape [3]');
    const badBeta = norm(new Float32Array(6), new Float32Array(2));
    expect(() => groupNorm(x, badBeta, 2)).toThrow('groupNorm: norm.beta must be a tensor [6], got a float32 tensor of shape [2]');
    tf.dispose([x, p.gamma, p.beta, short.gamma, short.beta, badBeta.gamma, badBeta.beta]);
  });
});

describe('groupNorm gradient', () => {
  /** d/d(x, gamma, beta) of sum(w * groupNorm(x)), by central differences on the float64 reference. */
  function numericGrads(x: Float32Array, gamma: Float32Array, beta: Float32Array, w: Float32Array, B: number, P: number, C: number, G: number) {
    const f = (xx: ArrayLike<number>, gg: ArrayLike<number>, bb: ArrayLike<number>) => groupNormRef(xx, B, P, C, gg, bb, G).reduce((s, v, i) => s + v * w[i]!, 0);
    const h = 1e-5;
    const diff = (values: Float32Array, call: (v: Float64Array) => number) =>
      Array.from(values, (_, i) => {
        const up = Float64Array.from(values);
        const down = Float64Array.from(values);
        up[i] = up[i]! + h;
        down[i] = down[i]! - h;
        return (call(up) - call(down)) / (2 * h);
      });
    return { dx: diff(x, (v) => f(v, gamma, beta)), dgamma: diff(gamma, (v) => f(x, v, beta)), dbeta: diff(beta, (v) => f(x, gamma, v)) };
  }

  for (const [label, B, P, C, G] of [['[B, P, C]', 2, 5, 6, 3], ['one group', 3, 4, 4, 1], ['one channel per group', 2, 3, 4, 4]] as const) {
    it(`closed form and autodiff both match float64 central differences (${label}); forwards are identical`, async () => {
      const x = rng.fillNormal(new Float32Array(B * P * C), 0.5, 2);
      const gamma = rng.fillNormal(new Float32Array(C), 1, 0.3);
      const beta = rng.fillNormal(new Float32Array(C));
      const w = rng.fillNormal(new Float32Array(B * P * C));
      const want = numericGrads(x, gamma, beta, w, B, P, C, G);
      const n = norm(gamma, beta);
      const xt = tf.tensor3d(x, [B, P, C]);
      const wt = tf.tensor3d(w, [B, P, C]);
      const outs: Float32Array[] = [];
      for (const analyticGradient of [true, false]) {
        const loss = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(tf.mul(groupNorm(xx, { gamma: gg as tf.Variable, beta: bb as tf.Variable }, G, { analyticGradient }), wt));
        const [dx, dg, db] = tf.grads(loss as (...a: tf.Tensor[]) => tf.Tensor)([xt, n.gamma, n.beta]);
        const tag = analyticGradient ? 'closed form' : 'autodiff';
        expectClose(await dx!.data(), want.dx, { rtol: 2e-3, atol: 2e-4, label: `${tag} dx` });
        expectClose(await dg!.data(), want.dgamma, { rtol: 2e-3, atol: 2e-4, label: `${tag} dgamma` });
        expectClose(await db!.data(), want.dbeta, { rtol: 2e-3, atol: 2e-4, label: `${tag} dbeta` });
        const y = groupNorm(xt, n, G, { analyticGradient });
        outs.push((await y.data()) as Float32Array);
        tf.dispose([dx!, dg!, db!, y]);
      }
      expect(Array.from(outs[0]!)).toEqual(Array.from(outs[1]!));
      tf.dispose([xt, wt, n.gamma, n.beta]);
    });
  }

  it('closed form: a quarter of the kernels of autodiff through tf.moments, and no leaks', async () => {
    const x = tf.randomNormal([2, 4, 4, 16], 0, 1, 'float32', 3);
    const n = norm(new Float32Array(16).fill(1), new Float32Array(16));
    const count = async (analyticGradient: boolean) => {
      const info = await tf.profile(() => tf.grad((xx: tf.Tensor) => tf.sum(groupNorm(xx, n, 4, { analyticGradient })))(x));
      return info.kernels.filter((k) => k.name !== 'Reshape').length;
    };
    const closed = await count(true);
    const auto = await count(false);
    expect(closed).toBeLessThan(auto / 2);
    await expectNoLeak(() => tf.grad((xx: tf.Tensor) => tf.sum(groupNorm(xx, n, 4, { analyticGradient: true })))(x), 'closed-form gradient');
    tf.dispose([x, n.gamma, n.beta]);
  });

  it('names a bad option', () => {
    const n = norm(new Float32Array(2).fill(1), new Float32Array(2));
    expect(() => groupNorm(tf.zeros([1, 2]), n, 1, { analyticGradient: 'yes' as unknown as boolean })).toThrow(/groupNorm: options.analyticGradient must be a boolean/);
    expect(() => groupNorm(tf.zeros([1, 2]), n, 1, { analyticGradient: true, fused: 1 as unknown as boolean })).toThrow(/groupNorm: options.fused must be a boolean/);
    tf.dispose([n.gamma, n.beta]);
  });

  it('uses fused kernels only where the backend registered them (their tests live in @mtd/backend and @mtd/train)', async () => {
    const n = norm(new Float32Array(4).fill(1), new Float32Array(4));
    const x = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 5);
    // Not registered on this backend: the closed-form path, the same values as the tfjs ops.
    expect(tf.getKernel(GROUP_NORM_KERNEL, tf.getBackend())).toBeUndefined();
    const info = await tf.profile(() => groupNorm(x, n, 2, { analyticGradient: true }));
    expect(info.kernels.map((k) => k.name)).not.toContain(GROUP_NORM_KERNEL);
    const plain = groupNorm(x, n, 2, { analyticGradient: false });
    expectClose(await (info.result as tf.Tensor).data(), await plain.data(), { rtol: 0, atol: 0, label: 'analytic forward' });
    plain.dispose();
    // Asked for without a registered kernel: tfjs's own error names the kernel.
    expect(() => groupNorm(x, n, 2, { analyticGradient: true, fused: true })).toThrow(/MtdGroupNorm/);
    tf.dispose([x, n.gamma, n.beta, info.result as tf.Tensor]);
  });
});

describe('groupNormSilu', () => {
  it('is silu(groupNorm(x)); a registered MtdGroupNormSilu runs only outside gradient recording, and the gradient is the composed one', async () => {
    const n = norm(rng.fillNormal(new Float32Array(6), 1, 0.3), rng.fillNormal(new Float32Array(6)));
    const x = tf.tensor4d(rng.fillNormal(new Float32Array(2 * 3 * 2 * 6), 0.5, 2), [2, 3, 2, 6]);
    const composed = tf.tidy(() => silu(groupNorm(x, n, 3)));
    // No kernel registered on cpu: the two ops, the same values bit for bit.
    const info = await tf.profile(() => groupNormSilu(x, n, 3));
    expect(info.kernels.map((k) => k.name)).not.toContain(GROUP_NORM_SILU_KERNEL);
    expectClose(await (info.result as tf.Tensor).data(), await composed.data(), { rtol: 0, atol: 0, label: 'unfused' });
    // A cpu stand-in for the backend kernel (the contract: [silu(y), stats]), counting its calls.
    let calls = 0;
    tf.registerKernel({
      kernelName: GROUP_NORM_SILU_KERNEL,
      backendName: 'cpu',
      kernelFunc: ({ inputs, backend }) => {
        calls += 1;
        const { x: xi } = inputs as { x: tf.TensorInfo };
        const values = tf.tidy(() => silu(groupNorm(tf.tensor(Array.from((backend as unknown as { readSync(id: object): Float32Array }).readSync(xi.dataId)), xi.shape), n, 3)).dataSync());
        const b = backend as unknown as { makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
        return [b.makeTensorInfo(xi.shape, 'float32', Float32Array.from(values)), b.makeTensorInfo([2, 3, 2], 'float32', new Float32Array(12))];
      },
    });
    try {
      const fused = groupNormSilu(x, n, 3);
      expect(calls).toBe(1);
      expectClose(await fused.data(), await composed.data(), { rtol: 0, atol: 0, label: 'fused' });
      const before = tf.memory().numTensors;
      groupNormSilu(x, n, 3).dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(() => groupNormSilu(x, n, 4)).toThrow(/groupNormSilu: groups must be a divisor of the 6 channels of x, got 4/);
      // Under a tape: the composed ops (the kernel has no gradient), the composed gradient.
      const g = (f: (t: tf.Tensor) => tf.Tensor) => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(f(t), tf.range(0, 72).reshape([2, 3, 2, 6]))))(x);
      calls = 0;
      const [gFused, gComposed] = [g((t) => groupNormSilu(t, n, 3)), g((t) => silu(groupNorm(t, n, 3)))];
      expect(calls).toBe(0);
      expectClose(await gFused.data(), await gComposed.data(), { rtol: 0, atol: 0, label: 'gradient' });
      expect(groupNormSilu(x, n, 3, { fused: false }).shape).toEqual(x.shape);
      expect(calls).toBe(0);
      // With a gradient kernel too, the tape runs the fused forward and that kernel. A cpu stand-in
      // (the kernel's numbers are checked against float64 in @mtd/backend): it checks the inputs it
      // is handed against the contract ({ dy, x, gamma, beta, stats }) and returns the composed
      // ops' gradients, so the test sees them reach x, gamma and beta.
      const weights = tf.range(0, 72).reshape([2, 3, 2, 6]);
      const all = (f: (t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor) => tf.grads((t: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(t, g, b), weights)))([x, n.gamma, n.beta]);
      const composedGrads = all((t, g, b) => silu(groupNorm(t, asNorm(g, b), 3)));
      const expected = await Promise.all(composedGrads.map((t) => t.data()));
      const [xs, gs, bs, ws] = await Promise.all([x.data(), n.gamma.data(), n.beta.data(), weights.data()]);
      let gradCalls = 0;
      const handed: string[] = [];
      tf.registerKernel({
        kernelName: GROUP_NORM_SILU_GRAD_KERNEL,
        backendName: 'cpu',
        kernelFunc: ({ inputs, attrs, backend }) => {
          gradCalls += 1;
          const read = (t: tf.TensorInfo | undefined) => (t === undefined ? [] : Array.from((backend as unknown as { readSync(id: object): Float32Array }).readSync(t.dataId)));
          const { dy, x: xi, gamma, beta, stats } = inputs as Record<string, tf.TensorInfo | undefined>;
          const same = (a: number[], b: ArrayLike<number>) => a.length === b.length && a.every((v, i) => v === b[i]);
          handed.push([same(read(dy), ws), same(read(xi), xs), same(read(gamma), gs), same(read(beta), bs), stats?.shape.join('x'), (attrs as { groups: number }).groups].join(' '));
          const b = backend as unknown as { makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo };
          return [b.makeTensorInfo([2, 3, 2, 6], 'float32', Float32Array.from(expected[0]!)), b.makeTensorInfo([6], 'float32', Float32Array.from(expected[1]!)), b.makeTensorInfo([6], 'float32', Float32Array.from(expected[2]!))];
        },
      });
      try {
        calls = 0;
        const viaKernels = all((t, g, b) => groupNormSilu(t, asNorm(g, b), 3));
        expect([calls, gradCalls]).toEqual([1, 1]);
        expect(handed).toEqual(['true true true true 2x3x2 3']);
        await expectNoLeak(() => all((t, g, b) => groupNormSilu(t, asNorm(g, b), 3)), 'groupNormSilu under a tape');
        for (const [i, name] of ['dx', 'dgamma', 'dbeta'].entries()) {
          expectClose(await viaKernels[i]!.data(), expected[i]!, { rtol: 0, atol: 0, label: `gradient kernel ${name}` });
        }
        // analyticGradient: false or fused: false keep the composed ops under a tape.
        calls = 0;
        gradCalls = 0;
        tf.dispose(all((t, g, b) => groupNormSilu(t, asNorm(g, b), 3, { analyticGradient: false })));
        tf.dispose(all((t, g, b) => groupNormSilu(t, asNorm(g, b), 3, { fused: false })));
        expect([calls, gradCalls]).toEqual([0, 0]);
        tf.dispose([weights, ...viaKernels, ...composedGrads]);
      } finally {
        tf.unregisterKernel(GROUP_NORM_SILU_GRAD_KERNEL, 'cpu');
      }
      tf.dispose([fused, gFused, gComposed]);
    } finally {
      tf.unregisterKernel(GROUP_NORM_SILU_KERNEL, 'cpu');
    }
    expect(() => groupNormSilu(x, n, 4)).toThrow(/groupNorm: groups must be a divisor of the 6 channels of x, got 4/);
    tf.dispose([x, composed, n.gamma, n.beta, info.result as tf.Tensor]);
  });
});
