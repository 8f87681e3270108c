import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { Ema } from './ema.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Ema', () => {
  test('shadow = d shadow + (1 - d) p, with the warm-up min(d, (1 + k) / (10 + k)), against float64', () => {
    const v = tf.variable(tf.tensor1d([1, -2]));
    for (const warmup of [true, false]) {
      v.assign(tf.tensor1d([1, -2]));
      const ema = new Ema([{ name: 'w', variable: v }], { decay: 0.9, warmup });
      let ref = [1, -2];
      for (let k = 1; k <= 30; k++) {
        const p = [Math.sin(k), Math.cos(k)];
        tf.tidy(() => v.assign(tf.tensor1d(p)));
        ema.update();
        const d = warmup ? Math.min(0.9, (1 + k) / (10 + k)) : 0.9;
        expect(ema.decayAt(k)).toBe(d);
        ref = ref.map((s, i) => d * s + (1 - d) * p[i]!);
      }
      expectClose(ema.slots()['w']!.dataSync(), ref, { rtol: 1e-5, atol: 1e-6 });
      expect(ema.count).toBe(30);
      ema.dispose();
    }
    v.dispose();
  });

  test('withWeights swaps the EMA weights in and restores the trained ones, also on a throw', async () => {
    const v = tf.variable(tf.tensor1d([0, 0]));
    const ema = new Ema([{ name: 'w', variable: v }], { decay: 0.5, warmup: false });
    tf.tidy(() => v.assign(tf.tensor1d([2, 4])));
    ema.update(); // shadow = [1, 2]
    const inside = await ema.withWeights(() => Array.from(v.dataSync()));
    expect(inside).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([2, 4]);
    await expect(ema.withWeights(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(Array.from(v.dataSync())).toEqual([2, 4]);
    await expectNoLeak(() => ema.withWeights(() => ema.update()), 'withWeights + update');
    ema.copyToModel();
    expect(Array.from(v.dataSync())).toEqual(Array.from(ema.slots()['w']!.dataSync()));
    ema.dispose();
    v.dispose();
  });

  test('bad options are named', () => {
    const v = tf.variable(tf.tensor1d([0]));
    expect(() => new Ema([{ name: 'w', variable: v }], { decay: 1.5 })).toThrow('Ema: options.decay must be a finite number >= 0 and <= 1, got 1.5');
    expect(() => new Ema([{ name: '', variable: v }], { decay: 0.9 })).toThrow(/variables\[0\].name must be a non-empty string/);
    v.dispose();
  });
});
