import * as tf from '@tensorflow/tfjs';
import { saveSafetensors } from '@mtd/io';
import { expectNoLeak } from '@mtd/testkit';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NET_ARCH, featureNetToSafetensors, initFeatureNet, type FeatureNetParams } from './feature-net.js';
import { FMNIST_FEATURES_NAME, fmnistFeatures } from './fmnist-features.js';

/** The loader's contract, on randomly initialised weights written to a temporary file. */
describe('fmnistFeatures (loader, on temporary weights)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtd-metrics-'));
  const path = join(dir, 'random.safetensors');

  beforeAll(async () => {
    await tf.setBackend('cpu');
    const params = initFeatureNet(1);
    await saveSafetensors(path, await featureNetToSafetensors(params as FeatureNetParams), {
      architecture: FEATURE_NET_ARCH,
      testAccuracy: '0.5',
    });
    tf.dispose(Object.values(params));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const batch = (n: number, size = 28): tf.Tensor4D =>
    tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([n, size, size, 1], 0, 1, 'float32', 3), 2), 1) as tf.Tensor4D);

  it('exposes the heads with their sizes, the name and the recorded accuracy', async () => {
    const ex = await fmnistFeatures({ weightsPath: path });
    expect(ex.name).toBe(FMNIST_FEATURES_NAME);
    expect([ex.featureDim, ex.numClasses, ex.spatialDim]).toEqual([64, 10, 392]);
    expect(ex.testAccuracy).toBe(0.5);
    const x = batch(3);
    const all = await ex.extract(x);
    expect(all.features.length).toBe(3);
    expect(all.features[0]!.length).toBe(64);
    expect(all.logits[0]!.length).toBe(10);
    expect(all.spatial[0]!.length).toBe(392);
    expect(Array.from((await ex.features(x))[2]!)).toEqual(Array.from(all.features[2]!));
    expect(Array.from((await ex.logits(x))[1]!)).toEqual(Array.from(all.logits[1]!));
    expect(Array.from((await ex.spatialFeatures(x))[0]!)).toEqual(Array.from(all.spatial[0]!));
    x.dispose();
    ex.dispose();
    await expect(ex.features(batch(1))).rejects.toThrow(/has been disposed/);
  });

  it('reads 32x32 inputs as the centre crop (the inverse of the batcher padding 28 -> 32)', async () => {
    const ex = await fmnistFeatures({ weightsPath: path });
    const x = batch(2);
    const padded = tf.pad(x, [[0, 0], [2, 2], [2, 2], [0, 0]], -1);
    const a = await ex.features(x);
    const b = await ex.features(padded as tf.Tensor4D);
    expect(b.map((r) => Array.from(r))).toEqual(a.map((r) => Array.from(r)));
    tf.dispose([x, padded]);
    ex.dispose();
  });

  it('leaks no tensors', async () => {
    const ex = await fmnistFeatures({ weightsPath: path, name: 'random features' });
    expect(ex.name).toBe('random features');
    const x = batch(2);
    await expectNoLeak(() => ex.extract(x), 'extract');
    await expectNoLeak(() => ex.features(x), 'features');
    x.dispose();
    const before = tf.memory().numTensors;
    ex.dispose();
    expect(tf.memory().numTensors).toBe(before - 8);
  });

  it("applies the metadata's featureScale / spatialScale to those heads only", async () => {
    const scaledPath = join(dir, 'scaled.safetensors');
    const params = initFeatureNet(1);
    await saveSafetensors(scaledPath, await featureNetToSafetensors(params as FeatureNetParams), {
      architecture: FEATURE_NET_ARCH,
      featureScale: '2',
      spatialScale: '0.5',
    });
    tf.dispose(Object.values(params));
    const plain = await fmnistFeatures({ weightsPath: path });
    const scaled = await fmnistFeatures({ weightsPath: scaledPath });
    expect(plain.scales).toEqual({ features: 1, spatial: 1 });
    expect(scaled.scales).toEqual({ features: 2, spatial: 0.5 });
    const x = batch(2);
    const a = await plain.extract(x);
    const b = await scaled.extract(x);
    expect(Array.from(b.features[1]!)).toEqual(Array.from(a.features[1]!).map((v) => 2 * v));
    expect(Array.from(b.spatial[0]!)).toEqual(Array.from(a.spatial[0]!).map((v) => 0.5 * v));
    expect(Array.from(b.logits[0]!)).toEqual(Array.from(a.logits[0]!));
    x.dispose();
    plain.dispose();
    scaled.dispose();
    const badPath = join(dir, 'bad-scale.safetensors');
    const p2 = initFeatureNet(1);
    await saveSafetensors(badPath, await featureNetToSafetensors(p2 as FeatureNetParams), { featureScale: '-1' });
    tf.dispose(Object.values(p2));
    await expect(fmnistFeatures({ weightsPath: badPath })).rejects.toThrow(/the featureScale in .* must be a finite number > 0, got "-1"/);
  });

  it('rejects bad input with clear errors', async () => {
    const ex = await fmnistFeatures({ weightsPath: path });
    const rgb = tf.zeros([1, 28, 28, 3]) as tf.Tensor4D;
    await expect(ex.features(rgb)).rejects.toThrow(/images must be \[N, 28, 28, 1\] or \[N, 32, 32, 1\] \(grey images\), got "\[1, 28, 28, 3\]"/);
    const bytes = tf.fill([1, 28, 28, 1], 255) as tf.Tensor4D;
    await expect(ex.features(bytes)).rejects.toThrow(/images must be in \[-1, 1\].*got values in \[255, 255\]/);
    const nan = tf.fill([1, 28, 28, 1], Number.NaN) as tf.Tensor4D;
    await expect(ex.features(nan)).rejects.toThrow(/images must be in \[-1, 1\]/);
    tf.dispose([rgb, bytes, nan]);
    ex.dispose();
    await expect(fmnistFeatures({ weightsPath: join(dir, 'missing.safetensors') })).rejects.toThrow(
      /cannot read the feature-network weights .*missing.safetensors.*train-features/,
    );
  });
});
