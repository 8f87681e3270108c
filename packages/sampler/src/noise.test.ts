import * as tf from '@tensorflow/tfjs';
import { beforeAll, expect, test } from 'vitest';
import { counterNormals, createRng } from '@mtd/random';
import { ExampleNoise } from './noise.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

test("example i's draws are keyed by createRng(seed).fork(i), whatever the batch", () => {
  const whole = new ExampleNoise(42, 0, 3, [2, 2]);
  const tail = new ExampleNoise(42, 2, 1, [2, 2]);
  for (let draw = 0; draw < 3; draw++) {
    const a = whole.next();
    const b = tail.next();
    expect(a.shape).toEqual([3, 2, 2]);
    expect(a.dtype).toBe('float32');
    expect(Array.from(a.dataSync().subarray(8, 12))).toEqual(Array.from(b.dataSync()));
    tf.dispose([a, b]);
  }
  const rng = createRng(42).fork(1);
  const key = [rng.nextUint32(), rng.nextUint32()];
  const noise = new ExampleNoise(42, 0, 2, [3]);
  for (let draw = 0; draw < 2; draw++) {
    const fresh = noise.next();
    expect(Array.from(fresh.dataSync().subarray(3, 6))).toEqual(Array.from(counterNormals(key, draw, 3)));
    fresh.dispose();
  }
});

test('the draws look standard normal', () => {
  const x = new ExampleNoise(1, 0, 50, [200]).next();
  const data = Array.from(x.dataSync());
  x.dispose();
  const mean = data.reduce((s, v) => s + v, 0) / data.length;
  const variance = data.reduce((s, v) => s + (v - mean) ** 2, 0) / data.length;
  // 10000 draws: SE of the mean 0.01, of the variance ~0.014.
  expect(Math.abs(mean)).toBeLessThan(0.04);
  expect(Math.abs(variance - 1)).toBeLessThan(0.06);
});
