import { describe, expect, it } from 'vitest';
import { Described, describeValue, shapeText } from './describe.js';

describe('describeValue', () => {
  it('prints a Described as its text, unquoted', () => {
    expect(describeValue(new Described('[2, 3]'))).toBe('[2, 3]');
  });

  it('writes numbers as written, NaN and infinities by name', () => {
    expect(describeValue(3)).toBe('3');
    expect(describeValue(-0.5)).toBe('-0.5');
    expect(describeValue(Number.NaN)).toBe('NaN');
    expect(describeValue(Infinity)).toBe('Infinity');
  });

  it('quotes strings so that an empty or padded string is visible', () => {
    expect(describeValue('a"b')).toBe('"a\\"b"');
    expect(describeValue('')).toBe('""');
  });

  it('writes booleans, null and undefined as written', () => {
    expect(describeValue(true)).toBe('true');
    expect(describeValue(false)).toBe('false');
    expect(describeValue(null)).toBe('null');
    expect(describeValue(undefined)).toBe('undefined');
  });

  it('names functions', () => {
    expect(describeValue(() => 1)).toBe('a function');
  });

  it('describes a tensor by dtype and shape, recognised by its fields', () => {
    expect(describeValue({ dtype: 'float32', shape: [2, 3], dataSync: () => [] })).toBe('a float32 tensor of shape [2, 3]');
    expect(describeValue({ dtype: 'int32', shape: [] })).toBe('a int32 tensor of shape []');
  });

  it('does not take a look-alike for a tensor', () => {
    expect(describeValue({ dtype: 3, shape: [2] })).toBe('object');
    expect(describeValue({ dtype: 'float32', shape: '2x3' })).toBe('object');
    expect(describeValue({ dtype: 'float32' })).toBe('object');
  });

  it('gives arrays and typed arrays by length, not content', () => {
    expect(describeValue([1, 'x', [2]])).toBe('an array of length 3');
    expect(describeValue([])).toBe('an array of length 0');
    expect(describeValue(new Float32Array(5))).toBe('an array of length 5');
  });

  it('falls back to the typeof for anything else', () => {
    expect(describeValue({ a: 1 })).toBe('object');
    expect(describeValue(10n)).toBe('bigint');
    expect(describeValue(Symbol('s'))).toBe('symbol');
  });
});

describe('shapeText', () => {
  it('writes a shape in brackets, comma-separated', () => {
    expect(shapeText([2, 3, 1])).toBe('[2, 3, 1]');
    expect(shapeText([7])).toBe('[7]');
    expect(shapeText([])).toBe('[]');
  });
});
