import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { constantWeight, frozenEncoder, identityEncoder } from '@mtd/aggregation';
import { expectNoLeak } from '@mtd/testkit';
import { checkModalities, checkModalityValues, encodeModality, estimateInput, modalityInput, type CategoricalModality, type GaussianModality } from './model.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const image: GaussianModality = { name: 'image', kind: 'gaussian', encoder: identityEncoder, weight: constantWeight(0.1) };
const label: CategoricalModality = {
  name: 'label',
  kind: 'categorical',
  classes: 3,
  encoder: frozenEncoder((p) => tf.reshape(tf.tile(p, [1, 2]), [-1, 2, 3])),
  weight: constantWeight(0.1),
};

describe('modalityInput: the canonical form the encoder and the model receive', () => {
  test('class ids become one-hot float32 rows', async () => {
    const ids = tf.tensor1d([2, 0], 'int32');
    const x = modalityInput(label, ids, 2);
    expect(x.dtype).toBe('float32');
    expect(await x.array()).toEqual([
      [0, 0, 1],
      [1, 0, 0],
    ]);
    tf.dispose([ids, x]);
  });

  test('probabilities and gaussian data pass through as new handles (disposing them keeps the input)', () => {
    const p = tf.tensor2d([[0.2, 0.3, 0.5]]);
    const img = tf.ones([1, 2, 3]);
    for (const [m, v] of [[label, p], [image, img]] as const) {
      const x = modalityInput(m, v, 1);
      expect(x).not.toBe(v);
      expect(Array.from(x.dataSync())).toEqual(Array.from(v.dataSync()));
      x.dispose();
      expect(v.isDisposed).toBe(false);
    }
    tf.dispose([p, img]);
  });

  test('wrong shapes and dtypes name the modality', () => {
    const bad = [
      [label, tf.tensor1d([1, 2, 0], 'int32'), 2, /known\.label\.shape must be a shape with the batch size 2 first/],
      [label, tf.tensor2d([[0.5, 0.5]]), 1, /known\.label\.shape must be \[1\] \(class ids\) or \[1, 3\]/],
      [label, tf.tensor1d([1], 'bool'), 1, /known\.label must be int32 class ids or float32 probabilities/],
      [image, tf.tensor1d([1], 'int32'), 1, /known\.image must be a float32 tensor/],
    ] as const;
    for (const [m, v, B, message] of bad) {
      expect(() => modalityInput(m, v, B, 'sample')).toThrow(message);
      v.dispose();
    }
  });

  test('value checks: class ids in range, probability rows', async () => {
    const ids = tf.tensor1d([0, 3], 'int32');
    await expect(checkModalityValues(label, ids, 'sample')).rejects.toThrow(/sample: known\.label\[1\] must be a class id in 0\.\.2, got 3/);
    const probs = tf.tensor2d([[0.5, 0.6, 0]]);
    await expect(checkModalityValues(label, probs, 'sample')).rejects.toThrow(/summing to 1, got 1\.1/);
    const negative = tf.tensor2d([[1.5, -0.5, 0]]);
    await expect(checkModalityValues(label, negative, 'sample')).rejects.toThrow(/a probability >= 0, got -0\.5/);
    const good = tf.tensor2d([[0.25, 0.25, 0.5]]);
    await expect(checkModalityValues(label, good, 'sample')).resolves.toBeUndefined();
    tf.dispose([ids, probs, negative, good]);
  });
});

describe('estimateInput and encodeModality', () => {
  test('a categorical head is encoded through softmax(logits): the expected embedding', async () => {
    const logits = tf.tensor2d([[0, Math.log(3), 0]]);
    const p = estimateInput(label, logits, 1);
    const softmax = [0.2, 0.6, 0.2];
    Array.from(p.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(softmax[i]!, 6));
    const e = encodeModality(label, p, [1, 2, 3]);
    expect(e.shape).toEqual([1, 2, 3]);
    tf.dispose([logits, p, e]);
  });

  test('the identity encoder gets a new handle, so the encoding can be disposed on its own', () => {
    const x = tf.ones([1, 2, 3]);
    const e = encodeModality(image, x, [1, 2, 3]);
    expect(e).not.toBe(x);
    e.dispose();
    expect(x.isDisposed).toBe(false);
    x.dispose();
  });

  test('shape errors name the modality', () => {
    const x = tf.ones([1, 4]);
    expect(() => encodeModality(image, x, [1, 2, 3], 'sample')).toThrow(/sample: the encoding of 'image'\.shape must be \[1, 2, 3\] \(the shape of z\), got \[1, 4\]/);
    const logits = tf.ones([1, 4]);
    expect(() => estimateInput(label, logits, 1, 'sample')).toThrow(/heads\.label\.shape must be \[1, 3\] \(logits\)/);
    tf.dispose([x, logits]);
  });

  test('no leaks', async () => {
    const logits = tf.tensor2d([[1, 2, 3]]);
    await expectNoLeak(() => tf.tidy(() => encodeModality(label, estimateInput(label, logits, 1), [1, 2, 3])));
    logits.dispose();
  });
});

describe('checkModalities', () => {
  test('accepts a valid list', () => {
    expect(checkModalities('sample', [image, label])).toEqual([image, label]);
  });

  test.each([
    ['not an array', {}, /sample: modalities must be an array of Modality/],
    ['a duplicate name', [image, { ...label, name: 'image' }], /modalities\[1\]\.name must be unique among the modalities, got "image"/],
    ['an unknown kind', [{ ...image, kind: 'poisson' }], /modalities\[0\]\.kind must be 'gaussian' or 'categorical', got "poisson"/],
    ['a categorical without classes', [{ ...label, classes: 0 }], /modalities\[0\]\.classes must be an integer >= 1/],
    ['no encoder', [{ ...image, encoder: (x: tf.Tensor) => x }], /modalities\[0\]\.encoder must be an Encoder/],
    ['a number for a weight', [{ ...image, weight: 0.1 }], /modalities\[0\]\.weight must be a WeightSchedule/],
  ])('%s', (_name, modalities, message) => {
    expect(() => checkModalities('sample', modalities)).toThrow(message);
  });
});
