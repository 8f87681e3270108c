import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { clipFactor, globalNorm } from './clip.js';

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

  test('clipFactor is min(1, max / (norm + 1e-6)) as PyTorch, and 1 without a maximum', () => {
    expect(clipFactor(10, 1)).toBeCloseTo(1 / (10 + 1e-6), 15);
    expect(clipFactor(0.5, 1)).toBe(1);
    expect(clipFactor(1e9, undefined)).toBe(1);
    // The clipped norm is the maximum (within the 1e-6 guard).
    expect(10 * clipFactor(10, 2)).toBeCloseTo(2, 5);
  });
});
