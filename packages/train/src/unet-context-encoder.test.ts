import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { createUNet, type UNetConfig } from '@mtd/unet';
import { useCpu } from './test-setup.testutil.js';
import { unetContextEncoder } from './unet-context-encoder.js';

beforeAll(useCpu);

const S = 8;
const D = 5;
// No attention resolutions: the context reaches the output through the middle block's attention only.
const config: UNetConfig = { imageSize: S, inChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 4, contextDim: D };

/** A U-Net with non-zero output weights (ADM zero-inits the output conv), so the encodings show. */
function perturbed(seed: number, cfg: UNetConfig = config) {
  const u = createUNet(cfg, { seed });
  const rng = createRng(seed + 100);
  for (const v of u.variables) tf.tidy(() => v.assign(tf.add(v, tf.mul(0.05, tf.tensor(rng.fillNormal(new Float32Array(v.size)), v.shape)))));
  return u;
}

function vectors(B: number, seed: number): tf.Tensor2D {
  return tf.tensor2d(createRng(seed).fillNormal(new Float32Array(B * D)), [B, D]);
}

describe('unetContextEncoder (MATH.md 5.3, cross-attention path)', () => {
  const u = perturbed(1);
  afterAll(() => u.dispose());

  test('E(r) = unet(zeros, t = 0, context = r as one token), shaped like z; a [B, 1, D] sequence gives the same', () => {
    const enc = unetContextEncoder({ unet: u });
    tf.tidy(() => {
      const r = vectors(3, 2);
      const direct = u.forward({ x: tf.zeros([3, S, S, 1]) as tf.Tensor4D, t: tf.zeros([3]) as tf.Tensor1D, context: tf.expandDims(r, 1) as tf.Tensor3D }).eps;
      const e = enc.encode(r);
      expect(e.shape).toEqual([3, S, S, 1]);
      expectClose(e.dataSync(), direct.dataSync(), { rtol: 1e-6, atol: 1e-7 });
      expectClose(enc.encode(tf.expandDims(r, 1)).dataSync(), direct.dataSync(), { rtol: 1e-6, atol: 1e-7 });
    });
  });

  test('each example depends on its own r only, and different r give different encodings', () => {
    const enc = unetContextEncoder({ unet: u });
    tf.tidy(() => {
      const r = vectors(3, 3);
      const all = enc.encode(r).arraySync() as number[][][][];
      const rows = tf.unstack(r);
      for (let i = 0; i < 3; i++) {
        const alone = enc.encode(tf.expandDims(rows[i]!, 0)).dataSync();
        expectClose(alone, (all[i] as number[][][]).flat(2), { rtol: 1e-5, atol: 1e-6 });
      }
      expect(all[0]).not.toEqual(all[1]);
      // A context of zeros (the null token) is a valid input too and differs from a real r.
      expect(enc.encode(tf.zeros([1, D])).dataSync()).not.toEqual(enc.encode(tf.expandDims(rows[0]!, 0)).dataSync());
    });
  });

  test('a freshly created U-Net encodes everything to zero (zero-initialised output block)', () => {
    const fresh = createUNet(config, { seed: 4 });
    const enc = unetContextEncoder({ unet: fresh });
    const e = tf.tidy(() => enc.encode(vectors(2, 5)).dataSync());
    expect(Array.from(e).every((v) => v === 0)).toBe(true);
    fresh.dispose();
  });

  test('a class-conditional U-Net with extra channels gets the null class and zero extra channels', () => {
    const v = perturbed(6, { ...config, numClasses: 3, extraChannels: 2 });
    const enc = unetContextEncoder({ unet: v });
    tf.tidy(() => {
      const r = vectors(2, 7);
      const direct = v.forward({
        x: tf.zeros([2, S, S, 1]) as tf.Tensor4D,
        t: tf.zeros([2]) as tf.Tensor1D,
        classLabels: tf.tensor1d([3, 3], 'int32'),
        extra: tf.zeros([2, S, S, 2]) as tf.Tensor4D,
        context: tf.expandDims(r, 1) as tf.Tensor3D,
      }).eps;
      expectClose(enc.encode(r).dataSync(), direct.dataSync(), { rtol: 1e-6, atol: 1e-7 });
    });
    v.dispose();
  });

  test('gradient: false (default) sends no gradient into the U-Net; true reaches the cross-attention weights', () => {
    const r = vectors(2, 8);
    const frozen = unetContextEncoder({ unet: u });
    expect(() => tf.variableGrads(() => tf.sum(frozen.encode(r)) as tf.Scalar, u.variables)).toThrow(/Cannot find a connection/);
    const live = unetContextEncoder({ unet: u, gradient: true });
    const { value, grads } = tf.variableGrads(() => tf.sum(live.encode(r)) as tf.Scalar, u.variables);
    const kv = u.namedVariables.get('middle_block.1.encoder_kv.weight')!;
    const g = grads[kv.name];
    expect(g).toBeDefined();
    expect(tf.tidy(() => tf.norm(g!).dataSync()[0]!)).toBeGreaterThan(0);
    tf.dispose([value, grads, r]);
  });

  test('leaks nothing, frozen or not', async () => {
    const r = vectors(2, 9);
    for (const gradient of [false, true]) {
      const enc = unetContextEncoder({ unet: u, gradient });
      await expectNoLeak(() => enc.encode(r).dispose(), `encode (gradient ${gradient})`);
    }
    r.dispose();
  });

  test('bad options and inputs are named', () => {
    const noContext = createUNet({ ...config, contextDim: undefined }, { seed: 1 });
    const twoOut = createUNet({ ...config, outChannels: 2 }, { seed: 1 });
    try {
      expect(() => unetContextEncoder({ unet: noContext })).toThrow('unetContextEncoder: options.unet must be a U-Net with cross-attention (contextDim set), got "contextDim undefined"');
      expect(() => unetContextEncoder({ unet: twoOut })).toThrow('unetContextEncoder: options.unet must be a U-Net with outChannels === inChannels (encodings live in z space), got "2 vs 1"');
      expect(() => unetContextEncoder({ unet: u, gradient: 'yes' as never })).toThrow('unetContextEncoder: options.gradient must be a boolean, got "yes"');
      expect(() => unetContextEncoder({ unet: {} as never })).toThrow('unetContextEncoder: options.unet must be a UNet from @mtd/unet, got object');
      expect(() => unetContextEncoder(null as never)).toThrow('unetContextEncoder: options must be an object { unet }, got null');
      const enc = unetContextEncoder({ unet: u, gradient: true });
      const bad = tf.zeros([2, D + 1]);
      expect(() => enc.encode(bad)).toThrow(`unetContextEncoder.encode: r must be a float32 vector [B, ${D}] or sequence [B, L, ${D}]`);
      const ids = tf.zeros([2, D], 'int32');
      expect(() => enc.encode(ids)).toThrow(/unetContextEncoder.encode: r must be a float32 vector/);
      tf.dispose([bad, ids]);
    } finally {
      noContext.dispose();
      twoOut.dispose();
    }
  });
});
