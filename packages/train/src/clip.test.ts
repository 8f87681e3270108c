import { expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { clipFactor, clipScale, globalNorm } from './clip.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('gradient clipping', () => {
  test('globalNorm is sqrt of the summed squares of every gradient (float64 reference)', () => {
    const values = [[3, 4], [1, 2, 2], [0.5]];
    const n = tf.tidy(() => globalNorm(values.map((v) => tf.tensor1d(v))).dataSync()[0]!);
    expect(n).toBeCloseTo(Math.sqrt(9 + 16 + 1 + 4 + 4 + 0.25), 5);
    expect(tf.tidy(() => globalNorm([]).dataSync()[0])).toBe(0);
  });

  test("globalNorm's 'flat' layout: the same norm in a fixed number of kernels (float64 reference)", async () => {
    const shapes = [[3, 4], [7], [2, 2, 5], [1], [6, 3]];
    let seed = 7;
    const next = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 4 - 2;
    const values = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, next));
    const ref = Math.sqrt(values.flat().reduce((a, b) => a + b * b, 0));
    const grads = values.map((v, i) => tf.tensor(v, shapes[i]));
    const flat = tf.tidy(() => globalNorm(grads, { layout: 'flat' }).dataSync()[0]!);
    const apart = tf.tidy(() => globalNorm(grads, { layout: 'per-variable' }).dataSync()[0]!);
    expect(Math.abs(flat - ref) / ref).toBeLessThan(1e-6);
    expect(Math.abs(apart - ref) / ref).toBeLessThan(1e-6);
    const count = async (layout: 'flat' | 'per-variable') =>
      (await tf.profile(() => globalNorm(grads, { layout }))).kernels.filter((k) => !['Reshape', 'Identity'].includes(k.name)).length;
    // concat + square + sum + sqrt, against a square and a sum per gradient + addN + sqrt.
    expect(await count('flat')).toBe(4);
    expect(await count('per-variable')).toBe(2 * shapes.length + 2);
    await expectNoLeak(() => globalNorm(grads, { layout: 'flat' }), 'flat globalNorm');
    expect(() => globalNorm(grads, { layout: 'packed' as 'flat' })).toThrow(/globalNorm: options.layout must be 'flat' or 'per-variable'/);
    tf.dispose(grads);
  });

  test('clipFactor is min(1, max / (norm + 1e-6)) as PyTorch, and 1 without a maximum', () => {
    expect(clipFactor(10, 1)).toBeCloseTo(1 / (10 + 1e-6), 15);
    expect(clipFactor(0.5, 1)).toBe(1);
    expect(clipFactor(1e9, undefined)).toBe(1);
    // The clipped norm is the maximum (within the 1e-6 guard).
    expect(10 * clipFactor(10, 2)).toBeCloseTo(2, 5);
  });

  test('clipScale is clipFactor on the device (float32), 1 without a maximum, and leaks nothing', async () => {
    for (const [norm, max] of [[10, 1], [0.5, 1], [3.25, 3.25], [1e-9, 0.1], [1e9, undefined], [7, Infinity]] as const) {
      const n = tf.scalar(norm);
      const got = tf.tidy(() => clipScale(n, max).dataSync()[0]!);
      expect(Math.abs(got - clipFactor(norm, max)), `${norm} ${max}`).toBeLessThanOrEqual(1e-7 * clipFactor(norm, max));
      await expectNoLeak(() => clipScale(n, max), 'clipScale');
      n.dispose();
    }
    const nan = tf.scalar(NaN);
    expect(Number.isNaN(tf.tidy(() => clipScale(nan, 1).dataSync()[0]!))).toBe(true);
    nan.dispose();
  });
});

describe("globalNorm on webgpu (lavapipe in CI; its AddN kernel is @mtd/backend's chunked one)", () => {
  test('sums 30 gradients (more than a shader may bind) and matches cpu', async (ctx) => {
    const { availableBackends, withBackend } = await import('@mtd/backend');
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    const values = Array.from({ length: 30 }, (_, i) => [i * 0.1, -1, 0.5 + i]);
    const norm = async (layout: 'flat' | 'per-variable' = 'per-variable') => {
      const grads = values.map((v) => tf.tensor1d(v));
      const n = globalNorm(grads, { layout });
      const out = (await n.data())[0]!;
      tf.dispose([...grads, n]);
      return out;
    };
    const cpu = await norm();
    const gpu = await withBackend('webgpu', () => norm());
    const gpuFlat = await withBackend('webgpu', () => norm('flat'));
    await tf.setBackend('cpu');
    const ref = Math.sqrt(values.flat().reduce((a, b) => a + b * b, 0));
    expect(cpu).toBeCloseTo(ref, 3);
    expect(Math.abs(gpu - cpu) / cpu).toBeLessThan(1e-6);
    expect(Math.abs(gpuFlat - cpu) / cpu).toBeLessThan(1e-6);
  });
});
