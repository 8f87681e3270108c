import * as tf from '@tensorflow/tfjs';
import { availableBackends, selectBackend, withBackend, type BackendName } from '@mtd/backend';
import { middleMlpHead } from '@mtd/heads';
import { multiTaskLoss } from '@mtd/losses';
import { createRng } from '@mtd/random';
import { maxAbsDiff } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUNet, type UNetConfig } from './index.js';

/**
 * The same U-Net (weights moved through safetensors bytes) on every backend this machine has:
 * cpu, wasm, and webgpu (lavapipe here, hence the tiny config). Results are read with
 * `await data()`, the only read WebGPU allows under Node.
 */
const config: UNetConfig = {
  imageSize: 8, inChannels: 2, extraChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8, 4],
  groups: 4, numHeads: 2, numClasses: 3, contextDim: 5, useScaleShiftNorm: true,
};
const B = 3;
const rng = createRng(31);
const data = {
  x: rng.fillNormal(new Float32Array(B * 8 * 8 * 2)),
  extra: rng.fillNormal(new Float32Array(B * 8 * 8)),
  context: rng.fillNormal(new Float32Array(B * 2 * 5)),
  t: new Int32Array([0, 250, 999]),
  labels: new Int32Array([0, 2, 3]),
  eps: rng.fillNormal(new Float32Array(B * 8 * 8 * 2)),
};

let weights: Uint8Array;
let backends: BackendName[];

beforeAll(async () => {
  await selectBackend('cpu');
  // Random weights everywhere (zero-initialised convs included) so every path shows.
  const u = createUNet(config, { seed: 1 });
  const r = createRng(32);
  tf.tidy(() => u.variables.forEach((v) => v.assign(tf.tensor(r.fillNormal(new Float32Array(v.size), 0, 0.2), v.shape))));
  weights = await u.toSafetensors();
  u.dispose();
  backends = await availableBackends();
  console.info(`backends compared: ${backends.join(', ')}`);
}, 120_000);

function inputs() {
  return {
    x: tf.tensor4d(data.x, [B, 8, 8, 2]),
    extra: tf.tensor4d(data.extra, [B, 8, 8, 1]),
    context: tf.tensor3d(data.context, [B, 2, 5]),
    t: tf.tensor1d(data.t, 'int32'),
    classLabels: tf.tensor1d(data.labels, 'int32'),
  };
}

async function forwardOn(name: BackendName) {
  return withBackend(name, async () => {
    const u = createUNet(config);
    u.fromSafetensors(weights);
    const input = inputs();
    const out = u.forward(input);
    const result = { eps: await out.eps.data(), middle: await out.taps.middle.data(), decoderFeatures: await out.taps.decoderFeatures.data() };
    tf.dispose([out.eps, out.taps.middle, out.taps.decoderFeatures, ...Object.values(input)]);
    u.dispose();
    return result;
  });
}

function relDiff(a: ArrayLike<number>, ref: ArrayLike<number>): number {
  return maxAbsDiff(a, ref) / Math.max(...Array.from(ref, Math.abs));
}

describe('U-Net across backends', () => {
  it('finds at least cpu and wasm', () => {
    expect(backends).toContain('cpu');
    expect(backends).toContain('wasm');
  });

  it('the same forward pass agrees with cpu within 1e-4 relative on every available backend', { timeout: 300_000 }, async () => {
    const ref = await forwardOn('cpu');
    for (const name of backends.filter((b) => b !== 'cpu')) {
      const got = await forwardOn(name);
      for (const key of ['eps', 'middle', 'decoderFeatures'] as const) {
        expect(relDiff(got[key], ref[key]), `${name} ${key}`).toBeLessThan(1e-4);
      }
    }
  });

  it('gradients of every parameter agree with cpu on wasm and webgpu, plain and checkpointed', { timeout: 300_000 }, async () => {
    const grads = async (name: BackendName, checkpoint = false) =>
      withBackend(name, async () => {
        const u = createUNet(config);
        u.fromSafetensors(weights);
        const input = inputs();
        const eps = tf.tensor4d(data.eps, [B, 8, 8, 2]);
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(u.forward({ ...input, checkpoint }).eps, eps))) as tf.Scalar, u.variables);
        const out = await Promise.all(u.variables.map(async (v) => grads[v.name]!.data()));
        tf.dispose([value, eps, ...Object.values(grads), ...Object.values(input)]);
        const names = u.parameterNames;
        u.dispose();
        return { out, names };
      });
    const ref = await grads('cpu');
    for (const name of backends.filter((b) => b !== 'cpu')) {
      for (const checkpoint of [false, true]) {
        const got = await grads(name, checkpoint);
        ref.out.forEach((g, i) => {
          expect(relDiff(got.out[i]!, g), `${name}${checkpoint ? ' (checkpointed)' : ''} ${ref.names[i]}`).toBeLessThan(1e-4);
        });
      }
    }
  });

  it('20 Adam steps on a fixed batch lower the multi-task loss on wasm', { timeout: 120_000 }, async () => {
    await withBackend('wasm', async () => {
      const small: UNetConfig = { ...config, imageSize: 4, baseChannels: 4, groups: 2, attentionResolutions: [2] };
      const u = createUNet(small, { seed: 2 });
      const head = middleMlpHead({ name: 'label', inChannels: 8, outDim: 3, kind: 'categorical', seed: 3 });
      const r = createRng(33);
      const x = tf.tensor4d(r.fillNormal(new Float32Array(B * 16 * 2)), [B, 4, 4, 2]);
      const extra = tf.tensor4d(r.fillNormal(new Float32Array(B * 16)), [B, 4, 4, 1]);
      const eps = tf.tensor4d(r.fillNormal(new Float32Array(B * 16 * 2)), [B, 4, 4, 2]);
      const t = tf.tensor1d([5, 500, 900], 'int32');
      const target = tf.tensor1d([2, 0, 1], 'int32');
      const opt = tf.train.adam(3e-3);
      const vars = [...u.variables, ...head.variables];
      const losses: number[] = [];
      for (let step = 0; step < 20; step++) {
        const l = opt.minimize(() => {
          const out = u.forward({ x, t, extra });
          return multiTaskLoss({ eps, epsHat: out.eps, heads: [{ name: 'label', kind: 'categorical', target, prediction: head.forward(out.taps) }] }).total;
        }, true, vars)!;
        losses.push((await l.data())[0]!);
        l.dispose();
      }
      expect(losses.every(Number.isFinite)).toBe(true);
      expect(losses[19]!).toBeLessThan(0.8 * losses[0]!);
      tf.dispose([x, extra, eps, t, target]);
      opt.dispose();
      u.dispose();
      head.dispose();
    });
  });
});
