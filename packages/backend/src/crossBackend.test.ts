import { createRng } from '@mtd/random';
import { maxAbsDiff } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, countSyncDownloads, withBackend } from './harness.js';
import type { BackendName } from './selectBackend.js';

/**
 * A tiny net with every op kind an ADM U-Net training step uses: class embedding (gather),
 * sinusoidal time embedding, 3x3 convs, GroupNorm, SiLU, FiLM scale-shift, a stride-2 conv and
 * an average pool,
 * self-attention (batched matMul + softmax), nearest 2x upsampling, a skip concat, and an MSE
 * loss. The same parameters and inputs run on every backend and are compared with cpu.
 */

const B = 3;
const H = 8;
const W = 6;
const C_IN = 3;
const CH = 8;
const GROUPS = 2;
const EMB = 16;
const CLASSES = 4;

interface Spec {
  name: string;
  shape: number[];
  scale: number;
}

const SPECS: Spec[] = [
  { name: 'classEmb', shape: [CLASSES, EMB], scale: 0.5 },
  { name: 'timeW', shape: [EMB, EMB], scale: 0.3 },
  { name: 'conv1', shape: [3, 3, C_IN, CH], scale: 0.3 },
  { name: 'gamma', shape: [CH], scale: 0.1 },
  { name: 'film', shape: [EMB, 2 * CH], scale: 0.2 },
  { name: 'down', shape: [3, 3, CH, CH], scale: 0.2 },
  { name: 'qkv', shape: [CH, 3 * CH], scale: 0.3 },
  { name: 'out', shape: [3, 3, 2 * CH, C_IN], scale: 0.2 },
];

interface Inputs {
  params: Float32Array[];
  x: Float32Array;
  target: Float32Array;
  t: Float32Array;
  labels: Int32Array;
}

function makeInputs(seed: number): Inputs {
  const rng = createRng(seed);
  const params = SPECS.map((s) => {
    const a = rng.fillNormal(new Float32Array(s.shape.reduce((p, q) => p * q, 1)), 0, s.scale);
    if (s.name === 'gamma') for (let i = 0; i < a.length; i++) a[i] = 1 + a[i]!;
    return a;
  });
  return {
    params,
    x: rng.fillNormal(new Float32Array(B * H * W * C_IN)),
    target: rng.fillNormal(new Float32Array(B * H * W * C_IN)),
    t: Float32Array.from({ length: B }, () => rng.int(1000)),
    labels: Int32Array.from({ length: B }, () => rng.int(CLASSES)),
  };
}

function groupNorm(x: tf.Tensor4D, gamma: tf.Tensor): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const g = tf.reshape(x, [n, h, w, GROUPS, c / GROUPS]);
  const { mean, variance } = tf.moments(g, [1, 2, 4], true);
  const normed = tf.reshape(tf.div(tf.sub(g, mean), tf.sqrt(tf.add(variance, 1e-5))), [n, h, w, c]);
  return tf.mul(normed, gamma) as tf.Tensor4D;
}

function timeEmbedding(t: tf.Tensor1D): tf.Tensor2D {
  const half = EMB / 2;
  const freqs = tf.exp(tf.mul(tf.range(0, half), -Math.log(10000) / half));
  const args = tf.mul(tf.expandDims(t, 1), tf.expandDims(freqs, 0));
  return tf.concat([tf.cos(args), tf.sin(args)], 1) as tf.Tensor2D;
}

function loss(p: tf.Tensor[], inputs: { x: tf.Tensor4D; target: tf.Tensor4D; t: tf.Tensor1D; labels: tf.Tensor1D }): { out: tf.Tensor4D; loss: tf.Scalar } {
  const [classEmb, timeW, conv1, gamma, film, down, qkv, outW] = p as [tf.Tensor2D, tf.Tensor2D, tf.Tensor4D, tf.Tensor1D, tf.Tensor2D, tf.Tensor4D, tf.Tensor2D, tf.Tensor4D];
  const emb = tf.sigmoid(tf.add(tf.matMul(timeEmbedding(inputs.t), timeW), tf.gather(classEmb, inputs.labels)));
  const silu = <T extends tf.Tensor>(v: T): T => tf.mul(v, tf.sigmoid(v)) as T;
  const h1 = tf.conv2d(inputs.x, conv1, 1, 'same');
  const [scale, shift] = tf.split(tf.matMul(silu(emb), film), 2, 1) as [tf.Tensor2D, tf.Tensor2D];
  const filmed = tf.add(
    tf.mul(groupNorm(h1, gamma), tf.add(1, tf.reshape(scale, [B, 1, 1, CH]))),
    tf.reshape(shift, [B, 1, 1, CH]),
  );
  const skip = silu(filmed) as tf.Tensor4D;
  // Both ADM downsamplers: a stride-2 conv and a 2x2 average pool.
  const d = tf.add(tf.conv2d(skip, down, 2, 'same'), tf.avgPool(skip, 2, 2, 'valid')) as tf.Tensor4D;
  const [, dh, dw] = d.shape;
  const tokens = tf.reshape(d, [B, dh * dw, CH]);
  const [q, k, v] = tf.split(tf.reshape(tf.matMul(tf.reshape(tokens, [-1, CH]), qkv), [B, dh * dw, 3 * CH]), 3, 2);
  const attn = tf.softmax(tf.div(tf.matMul(q!, k!, false, true), Math.sqrt(CH)));
  const attended = tf.add(d, tf.reshape(tf.matMul(attn, v!), [B, dh, dw, CH])) as tf.Tensor4D;
  const up = tf.image.resizeNearestNeighbor(attended, [H, W]);
  const out = tf.conv2d(tf.concat([up, skip], 3) as tf.Tensor4D, outW, 1, 'same');
  return { out, loss: tf.mean(tf.square(tf.sub(out, inputs.target))) as tf.Scalar };
}

interface Result {
  out: Float32Array;
  loss: number;
  grads: Float32Array[];
  syncDownloads: number;
}

async function run(data: Inputs): Promise<Result> {
  const params = data.params.map((a, i) => tf.tensor(a, SPECS[i]!.shape));
  const inputs = {
    x: tf.tensor4d(data.x, [B, H, W, C_IN]),
    target: tf.tensor4d(data.target, [B, H, W, C_IN]),
    t: tf.tensor1d(data.t),
    labels: tf.tensor1d(data.labels, 'int32'),
  };
  const { result, downloads } = await countSyncDownloads(async () => {
    const out = tf.tidy(() => loss(params, inputs).out);
    const { value, grads } = tf.valueAndGrads((...p: tf.Tensor[]) => loss(p, inputs).loss)(params);
    const arrays = {
      out: (await out.data()) as Float32Array,
      loss: (await value.data())[0]!,
      grads: (await Promise.all(grads.map((g) => g.data()))) as Float32Array[],
    };
    tf.dispose([out, value, ...grads]);
    return arrays;
  });
  tf.dispose([...params, ...Object.values(inputs)]);
  return { ...result, syncDownloads: downloads };
}

/** max |a - b| over max |b|: the "relative" agreement of a whole tensor with the reference b. */
function relative(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < b.length; i++) scale = Math.max(scale, Math.abs(b[i]!));
  return maxAbsDiff(a, b) / scale;
}

let backends: BackendName[] = [];
let reference: Result;
const data = makeInputs(42);

beforeAll(async () => {
  backends = await availableBackends();
  reference = await withBackend('cpu', () => run(data));
});

describe('the same small conv net on every backend', () => {
  it('has a non-trivial cpu reference (every gradient non-zero)', () => {
    expect(reference.loss).toBeGreaterThan(0.1);
    for (const [i, g] of reference.grads.entries()) {
      expect(Math.max(...Array.from(g, Math.abs)), SPECS[i]!.name).toBeGreaterThan(1e-4);
    }
  });

  for (const name of ['wasm', 'webgpu'] as const) {
    it(`${name}: forward, loss and every gradient agree with cpu within 1e-4 relative`, async (ctx) => {
      if (!backends.includes(name)) ctx.skip();
      const got = await withBackend(name, () => run(data));
      expect(relative(got.out, reference.out)).toBeLessThan(1e-4);
      expect(Math.abs(got.loss - reference.loss) / reference.loss).toBeLessThan(1e-4);
      for (const [i, g] of got.grads.entries()) {
        expect(relative(g, reference.grads[i]!), `gradient of ${SPECS[i]!.name}`).toBeLessThan(1e-4);
      }
      // Everything stays on the GPU: no kernel took the synchronous download path (which fails
      // under Node) in the forward pass or the gradients. (wasm's async read is readSync itself.)
      if (name === 'webgpu') expect(got.syncDownloads).toBe(0);
    });
  }

  it("webgpu with tfjs's conv, reductions and GroupNorm and the im2col filter gradient: the same, within 1e-4", async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const got = await withBackend('webgpu', () => run(data), { webgpu: { filterGradient: 'im2col', reductions: 'tfjs', groupNorm: 'tfjs', conv2d: 'tfjs' } });
    expect(relative(got.out, reference.out)).toBeLessThan(1e-4);
    for (const [i, g] of got.grads.entries()) {
      expect(relative(g, reference.grads[i]!), `gradient of ${SPECS[i]!.name}`).toBeLessThan(1e-4);
    }
    expect(got.syncDownloads).toBe(0);
  });
});
