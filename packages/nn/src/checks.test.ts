import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkInt, describeValue, fail, shapeText } from './checks.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('fail', () => {
  it('throws a RangeError "where: arg must be expected, got value"', () => {
    expect(() => fail('f', 'options.n', 'an integer >= 1', 0.5)).toThrow(new RangeError('f: options.n must be an integer >= 1, got 0.5'));
  });
});

describe('describeValue', () => {
  it('writes numbers, NaN, strings, null, undefined, arrays and other types', () => {
    expect(describeValue(3)).toBe('3');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue('a"b')).toBe('"a\\"b"');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
    expect(describeValue([1, 'x', [2]])).toBe('[1, "x", [2]]');
    expect(describeValue({ a: 1 })).toBe('object');
    expect(describeValue(() => 1)).toBe('function');
  });

  it('names a tensor by dtype and shape, never by its data', () => {
    const f = tf.zeros([2, 3]);
    const i = tf.zeros([4], 'int32');
    expect(describeValue(f)).toBe('a float32 tensor of shape [2, 3]');
    expect(describeValue(i)).toBe('an int32 tensor of shape [4]');
    tf.dispose([f, i]);
  });
});

describe('checkInt', () => {
  it('returns integers >= min and rejects everything else, naming the argument', () => {
    expect(checkInt('g', 'k', 3, 1)).toBe(3);
    expect(checkInt('g', 'k', 0, 0)).toBe(0);
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', undefined]) {
      expect(() => checkInt('g', 'k', bad, 1)).toThrow(RangeError);
    }
    expect(() => checkInt('g', 'k', 0, 1)).toThrow('g: k must be an integer >= 1, got 0');
  });
});

describe('shapeText', () => {
  it('writes a shape as [a, b]', () => {
    expect(shapeText([2, 3, 1])).toBe('[2, 3, 1]');
    expect(shapeText([])).toBe('[]');
  });
});
