import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { createRng } from '@mtd/random';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { multiTaskLoss } from './multi-task-loss.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** float64 references on plain arrays, written out term by term. */
function refMse(a: ArrayLike<number>, b: ArrayLike<number>, batch: number, w?: ArrayLike<number>): number {
  const per = a.length / batch;
  let total = 0;
  for (let i = 0; i < batch; i++) {
    let s = 0;
    for (let j = 0; j < per; j++) s += (a[i * per + j]! - b[i * per + j]!) ** 2;
    total += (w ? w[i]! : 1) * (s / per);
  }
  return total / batch;
}

/** Cross-entropy with the log-sum-exp computed in float64; `probs` is [positions, K]. */
function refCrossEntropy(probs: ArrayLike<number>, logits: ArrayLike<number>, batch: number, K: number, w?: ArrayLike<number>): number {
  const positions = logits.length / K;
  const perExample = positions / batch;
  let total = 0;
  for (let i = 0; i < batch; i++) {
    let s = 0;
    for (let p = i * perExample; p < (i + 1) * perExample; p++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) max = Math.max(max, logits[p * K + k]!);
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(logits[p * K + k]! - max);
      const lse = max + Math.log(z);
      for (let k = 0; k < K; k++) s -= probs[p * K + k]! * (logits[p * K + k]! - lse);
    }
    total += (w ? w[i]! : 1) * (s / perExample);
  }
  return total / batch;
}

function oneHot(ids: ArrayLike<number>, K: number): Float64Array {
  const out = new Float64Array(ids.length * K);
  for (let i = 0; i < ids.length; i++) out[i * K + ids[i]!] = 1;
  return out;
}

describe('multiTaskLoss (MATH.md 4, paper eq. 6)', () => {
  const rng = createRng(7);
  const B = 4;
  const eps = rng.fillNormal(new Float32Array(B * 2 * 2 * 3));
  const epsHat = rng.fillNormal(new Float32Array(B * 2 * 2 * 3));
  const imgT = rng.fillNormal(new Float32Array(B * 2 * 2 * 1));
  const imgP = rng.fillNormal(new Float32Array(B * 2 * 2 * 1));
  const K = 5;
  const logits = rng.fillNormal(new Float32Array(B * K), 0, 3);
  const ids = Int32Array.from({ length: B }, () => rng.int(K));
  const segK = 3;
  const segLogits = rng.fillNormal(new Float32Array(B * 2 * 2 * segK));
  const segIds = Int32Array.from({ length: B * 4 }, () => rng.int(segK));
  const w = new Float32Array([1, 0.25, 3, 0]);

  function inputs() {
    return {
      eps: tf.tensor(eps, [B, 2, 2, 3]),
      epsHat: tf.tensor(epsHat, [B, 2, 2, 3]),
      img: { target: tf.tensor(imgT, [B, 2, 2, 1]), prediction: tf.tensor(imgP, [B, 2, 2, 1]) },
      label: { target: tf.tensor1d(ids, 'int32'), prediction: tf.tensor(logits, [B, K]) },
      seg: { target: tf.tensor(segIds, [B, 2, 2], 'int32'), prediction: tf.tensor(segLogits, [B, 2, 2, segK]) },
    };
  }

  it('is noise + rho * sum_i w_i L_i with MSE and softmax cross-entropy terms', async () => {
    const x = inputs();
    const out = multiTaskLoss({
      eps: x.eps,
      epsHat: x.epsHat,
      rho: 0.3,
      heads: [
        { name: 'image', kind: 'gaussian', ...x.img, weight: 2 },
        { name: 'label', kind: 'categorical', ...x.label },
        { name: 'seg', kind: 'categorical', ...x.seg, weight: 0.5 },
      ],
    });
    const noise = refMse(eps, epsHat, B);
    const image = refMse(imgT, imgP, B);
    const label = refCrossEntropy(oneHot(ids, K), logits, B, K);
    const seg = refCrossEntropy(oneHot(segIds, segK), segLogits, B, segK);
    expectClose(await out.noise.data(), [noise], { rtol: 1e-6, label: 'noise' });
    expectClose(await out.terms.image!.data(), [image], { rtol: 1e-6, label: 'image' });
    expectClose(await out.terms.label!.data(), [label], { rtol: 1e-6, label: 'label' });
    expectClose(await out.terms.seg!.data(), [seg], { rtol: 1e-6, label: 'seg' });
    expectClose(await out.total.data(), [noise + 0.3 * (2 * image + label + 0.5 * seg)], { rtol: 1e-6, label: 'total' });
    expect(Object.keys(out.terms)).toEqual(['image', 'label', 'seg']);
  });

  it('takes one-hot (or soft) targets for categorical heads, equal to the int32 ids', async () => {
    const x = inputs();
    const soft = new Float32Array(B * K).fill(0.2);
    const out = multiTaskLoss({
      eps: x.eps,
      epsHat: x.epsHat,
      heads: [
        { name: 'ids', kind: 'categorical', ...x.label },
        { name: 'onehot', kind: 'categorical', target: tf.oneHot(x.label.target as tf.Tensor1D, K).toFloat(), prediction: x.label.prediction },
        { name: 'soft', kind: 'categorical', target: tf.tensor(soft, [B, K]), prediction: x.label.prediction },
      ],
    });
    const [a, b] = [(await out.terms.ids!.data())[0]!, (await out.terms.onehot!.data())[0]!];
    expect(a).toBe(b);
    expectClose(await out.terms.soft!.data(), [refCrossEntropy(soft, logits, B, K)], { rtol: 1e-6, label: 'soft' });
  });

  it('defaults rho to the paper value 0.1 and w_i to 1, and reduces to the noise loss without heads', async () => {
    const x = inputs();
    const out = multiTaskLoss({ eps: x.eps, epsHat: x.epsHat, heads: [{ name: 'image', kind: 'gaussian', ...x.img }] });
    const expected = refMse(eps, epsHat, B) + 0.1 * refMse(imgT, imgP, B);
    expectClose(await out.total.data(), [expected], { rtol: 1e-6, label: 'total' });
    const bare = multiTaskLoss({ eps: x.eps, epsHat: x.epsHat });
    expect((await bare.total.data())[0]).toBe((await bare.noise.data())[0]);
    expect(bare.terms).toEqual({});
  });

  it('weights examples: the noise term by exampleWeights, a head by its own', async () => {
    const x = inputs();
    const out = multiTaskLoss({
      eps: x.eps,
      epsHat: x.epsHat,
      exampleWeights: tf.tensor1d(w),
      heads: [
        { name: 'image', kind: 'gaussian', ...x.img },
        { name: 'label', kind: 'categorical', ...x.label, exampleWeights: tf.tensor1d(w) },
      ],
    });
    const noise = refMse(eps, epsHat, B, w);
    const image = refMse(imgT, imgP, B);
    const label = refCrossEntropy(oneHot(ids, K), logits, B, K, w);
    expectClose(await out.noise.data(), [noise], { rtol: 1e-6, label: 'noise' });
    expectClose(await out.terms.image!.data(), [image], { rtol: 1e-6, label: 'image' });
    expectClose(await out.terms.label!.data(), [label], { rtol: 1e-6, label: 'label' });
    expectClose(await out.total.data(), [noise + 0.1 * (image + label)], { rtol: 1e-6, label: 'total' });
  });

  it('matches the float64 reference on random inputs (property, 100 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 2, max: 6 }),
        fc.double({ min: 0, max: 2, noNaN: true }),
        fc.double({ min: 0, max: 3, noNaN: true }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        async (batch, classes, rho, weight, seed) => {
          const r = createRng(seed);
          const e = r.fillNormal(new Float32Array(batch * 6));
          const h = r.fillNormal(new Float32Array(batch * 6));
          const lg = r.fillNormal(new Float32Array(batch * classes), 0, 4);
          const y = Int32Array.from({ length: batch }, () => r.int(classes));
          const got = tf.tidy(() =>
            multiTaskLoss({
              eps: tf.tensor(e, [batch, 6]),
              epsHat: tf.tensor(h, [batch, 6]),
              rho,
              heads: [{ name: 'y', kind: 'categorical', target: tf.tensor1d(y, 'int32'), prediction: tf.tensor(lg, [batch, classes]), weight }],
            }).total,
          );
          const ref = refMse(e, h, batch) + rho * weight * refCrossEntropy(oneHot(y, classes), lg, batch, classes);
          const value = (await got.data())[0]!;
          got.dispose();
          return Math.abs(value - ref) <= 1e-5 * Math.max(1, Math.abs(ref));
        },
      ),
      { numRuns: 100, seed: 3 },
    );
  });

  it('has the softmax cross-entropy gradient softmax(logits) - onehot, divided by B', async () => {
    const x = inputs();
    const g = tf.grad((lg: tf.Tensor) =>
      multiTaskLoss({ eps: x.eps, epsHat: x.eps, rho: 1, heads: [{ name: 'y', kind: 'categorical', target: x.label.target, prediction: lg }] }).total,
    )(x.label.prediction);
    const ref: number[] = [];
    for (let i = 0; i < B; i++) {
      const row = Array.from(logits.subarray(i * K, (i + 1) * K));
      const max = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - max), 0);
      row.forEach((v, k) => ref.push((Math.exp(v - max) / z - (k === ids[i] ? 1 : 0)) / B));
    }
    expectClose(await g.data(), ref, { rtol: 1e-5, atol: 1e-7, label: 'dL/dlogits' });
  });

  it('leaks nothing', async () => {
    const x = inputs();
    await expectNoLeak(
      () =>
        multiTaskLoss({
          eps: x.eps,
          epsHat: x.epsHat,
          heads: [
            { name: 'image', kind: 'gaussian', ...x.img },
            { name: 'seg', kind: 'categorical', ...x.seg },
          ],
        }),
      'multiTaskLoss',
    );
  });

  it('rejects bad input with an error naming the argument', () => {
    const x = inputs();
    const base = { eps: x.eps, epsHat: x.epsHat };
    const run = (extra: object) => () => multiTaskLoss({ ...base, ...extra } as never);
    expect(run({ rho: -1 })).toThrow(/multiTaskLoss: rho must be a finite number >= 0, got -1/);
    expect(run({ heads: [{ name: 'a', kind: 'poisson', ...x.img }] })).toThrow(/multiTaskLoss: heads\[0\]\.kind must be "gaussian" or "categorical", got "poisson"/);
    expect(run({ heads: [{ name: '', kind: 'gaussian', ...x.img }] })).toThrow(/heads\[0\]\.name must be a non-empty string/);
    expect(run({ heads: [{ name: 'a', kind: 'gaussian', ...x.img }, { name: 'a', kind: 'gaussian', ...x.img }] })).toThrow(
      /heads\[1\]\.name must be unique among the heads, got "a"/,
    );
    expect(run({ heads: [{ name: 'a', kind: 'gaussian', target: x.img.target, prediction: tf.zeros([B, 2, 2, 2]) }] })).toThrow(
      /heads\[0\]\.target must be a float32 tensor of the prediction's shape \[4, 2, 2, 2\], got a float32 tensor of shape \[4, 2, 2, 1\]/,
    );
    expect(run({ heads: [{ name: 'a', kind: 'categorical', target: tf.zeros([B], 'int32'), prediction: tf.zeros([B, 2, K]) }] })).toThrow(
      /heads\[0\]\.target must be int32 class ids \[4, 2\] or float32 probabilities \[4, 2, 5\], got an int32 tensor of shape \[4\]/,
    );
    expect(run({ heads: [{ name: 'a', kind: 'gaussian', target: tf.zeros([2, 1]), prediction: tf.zeros([2, 1]) }] })).toThrow(
      /heads\[0\]\.prediction must be a tensor with batch 4 \(the batch of eps\)/,
    );
    expect(run({ heads: [{ name: 'a', kind: 'gaussian', ...x.img, weight: Number.NaN }] })).toThrow(/heads\[0\]\.weight must be a finite number >= 0, got NaN/);
    expect(run({ exampleWeights: tf.ones([B], 'int32') })).toThrow(/multiTaskLoss: exampleWeights must be a float32 tensor of shape \[4\]/);
    expect(() => multiTaskLoss(undefined as never)).toThrow(/multiTaskLoss: input must be an object/);
  });
});
