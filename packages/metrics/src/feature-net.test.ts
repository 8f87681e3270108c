import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors } from '@mtd/io';
import { createRng } from '@mtd/random';
import { expectClose } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  FEATURE_NET_SHAPES,
  SPATIAL_FEATURES,
  featureNetForward,
  featureNetFromSafetensors,
  featureNetToSafetensors,
  featureScales,
  initFeatureNet,
  type FeatureNetParams,
} from './feature-net.js';

/** The same architecture from tfjs built-ins (conv2d, maxPool, matMul): an independent forward. */
function referenceForward(p: Record<string, tf.Tensor>, x: tf.Tensor4D): { logits: tf.Tensor; features: tf.Tensor; spatial: tf.Tensor } {
  return tf.tidy(() => {
    const k1 = tf.reshape(p['conv1.weight']!, [3, 3, 1, 32]) as tf.Tensor4D;
    const k2 = tf.reshape(p['conv2.weight']!, [3, 3, 32, 64]) as tf.Tensor4D;
    const h1 = tf.maxPool(tf.relu(tf.add(tf.conv2d(x, k1, 1, 'same'), p['conv1.bias']!)) as tf.Tensor4D, 2, 2, 'valid');
    const h2 = tf.maxPool(tf.relu(tf.add(tf.conv2d(h1, k2, 1, 'same'), p['conv2.bias']!)) as tf.Tensor4D, 2, 2, 'valid');
    const b = x.shape[0];
    const features = tf.add(tf.matMul(tf.reshape(h2, [b, -1]), p['fc1.weight'] as tf.Tensor2D), p['fc1.bias']!);
    const logits = tf.add(tf.matMul(tf.relu(features) as tf.Tensor2D, p['fc2.weight'] as tf.Tensor2D), p['fc2.bias']!);
    const spatial = tf.reshape(tf.slice(h2, [0, 0, 0, 0], [b, 7, 7, 8]), [b, -1]);
    return { logits, features, spatial };
  });
}

function images(n: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  return tf.tensor4d(rng.fillUniform(new Float32Array(n * 784), -1, 1), [n, 28, 28, 1]);
}

describe('feature network', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('initialises reproducibly from a seed, He-normal weights and zero biases', async () => {
    const a = initFeatureNet(3);
    const b = initFeatureNet(3);
    const c = initFeatureNet(4);
    for (const [name, shape] of Object.entries(FEATURE_NET_SHAPES)) {
      expect(a[name]!.shape).toEqual(shape);
      expect(Array.from(await a[name]!.data())).toEqual(Array.from(await b[name]!.data()));
    }
    expect(Array.from(await a['fc1.weight']!.data())).not.toEqual(Array.from(await c['fc1.weight']!.data()));
    expect(Array.from(await a['conv2.bias']!.data()).every((v) => v === 0)).toBe(true);
    const w = Array.from(await a['conv2.weight']!.data());
    const std = Math.sqrt(w.reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(0.9 * Math.sqrt(2 / 288));
    expect(std).toBeLessThan(1.1 * Math.sqrt(2 / 288));
    tf.dispose([...Object.values(a), ...Object.values(b), ...Object.values(c)]);
  });

  it('matches the same architecture built from tfjs conv2d / maxPool, all three heads', () => {
    const p = initFeatureNet(1);
    const x = images(3, 2);
    const ours = featureNetForward(p as FeatureNetParams, x);
    const ref = referenceForward(p, x);
    expect(ours.features.shape).toEqual([3, 64]);
    expect(ours.logits.shape).toEqual([3, 10]);
    expect(ours.spatial.shape).toEqual([3, SPATIAL_FEATURES]);
    expectClose(ours.features.dataSync(), ref.features.dataSync(), { rtol: 1e-4, atol: 1e-4, label: 'features' });
    expectClose(ours.logits.dataSync(), ref.logits.dataSync(), { rtol: 1e-4, atol: 1e-4, label: 'logits' });
    expectClose(ours.spatial.dataSync(), ref.spatial.dataSync(), { rtol: 1e-4, atol: 1e-4, label: 'spatial' });
    tf.dispose([...Object.values(p), x, ...Object.values(ours), ...Object.values(ref)]);
  });

  it('featureScales gives each head unit average variance on the calibration images', async () => {
    const p = initFeatureNet(11);
    const batches = [images(6, 12), images(5, 13)];
    const scales = await featureScales(p as FeatureNetParams, batches);
    const all = tf.concat(batches, 0) as tf.Tensor4D;
    const out = featureNetForward(p as FeatureNetParams, all);
    for (const [head, factor] of [['features', scales.features], ['spatial', scales.spatial]] as const) {
      const t = out[head];
      const [n, d] = t.shape;
      const v = t.dataSync();
      let meanVar = 0;
      for (let j = 0; j < d; j++) {
        let m = 0;
        for (let i = 0; i < n; i++) m += v[i * d + j]! / n;
        let s2 = 0;
        for (let i = 0; i < n; i++) s2 += (factor * (v[i * d + j]! - m)) ** 2 / (n - 1);
        meanVar += s2 / d;
      }
      expect(meanVar).toBeCloseTo(1, 6);
    }
    await expect(featureScales(p as FeatureNetParams, [images(1, 14)])).rejects.toThrow(/at least 2 images, got 1/);
    tf.dispose([...Object.values(p), ...batches, all, ...Object.values(out)]);
  });

  it('round-trips through safetensors, and a mismatched file is refused by name', async () => {
    const p = initFeatureNet(9);
    const entries = await featureNetToSafetensors(p as FeatureNetParams);
    const decoded = decodeSafetensors(encodeSafetensors(entries)).tensors;
    const back = featureNetFromSafetensors(decoded, 'memory');
    const x = images(2, 10);
    const a = featureNetForward(p as FeatureNetParams, x);
    const b = featureNetForward(back as FeatureNetParams, x);
    expect(Array.from(b.logits.dataSync())).toEqual(Array.from(a.logits.dataSync()));
    const bad = { ...decoded, 'fc1.weight': { dtype: 'F32' as const, shape: [10, 10], data: new Float32Array(100) } };
    expect(() => featureNetFromSafetensors(bad, 'bad.safetensors')).toThrow(
      /"fc1.weight" in bad.safetensors must be F32 \[3136, 64\], got F32 \[10, 10\]/,
    );
    const { ['fc2.bias']: _dropped, ...missing } = decoded;
    expect(() => featureNetFromSafetensors(missing, 'short.safetensors')).toThrow(/short.safetensors must hold "fc2.bias"/);
    tf.dispose([...Object.values(p), ...Object.values(back), x, ...Object.values(a), ...Object.values(b)]);
  });
});
