import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectClose, expectNoLeak, maxAbsDiff, maxRelDiff } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('testkit', () => {
  it('expectNoLeak passes returned tensors and catches leaked ones', async () => {
    await expectNoLeak(() => tf.tidy(() => tf.add(tf.ones([2]), 1)));
    await expectNoLeak(async () => ({ a: [tf.zeros([1])], b: tf.ones([1]) }));
    let leaked: tf.Tensor | undefined;
    await expect(
      expectNoLeak(() => {
        leaked = tf.ones([3]);
        return undefined;
      }, 'maker'),
    ).rejects.toThrow(/expectNoLeak\(maker\): 1 tensor\(s\) leaked/);
    leaked?.dispose();
  });

  it('expectClose follows the allclose rule and reports the element', () => {
    expect(() => expectClose([1, 2.00001], [1, 2], { rtol: 1e-5, atol: 0 })).not.toThrow();
    expect(() => expectClose([1, 2.1], [1, 2], { label: 'mean' })).toThrow(/expectClose\(mean\): element 1 is 2.1, expected 2/);
    expect(() => expectClose([Number.NaN], [0])).toThrow(/element 0 is NaN/);
    expect(() => expectClose([1], [1, 2])).toThrow(/lengths differ, 1 vs 2/);
    expect(maxAbsDiff([1, 5], [2, 5])).toBe(1);
    expect(maxRelDiff([1.5, 4], [1, 4])).toBe(0.5);
  });
});
