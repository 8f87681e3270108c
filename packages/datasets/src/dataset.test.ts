import { describe, expect, it } from 'vitest';
import { checkIndex, checkInt, subset, type Dataset, type LabelExample } from './dataset.js';

const digits: Dataset = {
  name: 'digits',
  length: 5,
  modalities: { label: { kind: 'label', numClasses: 5 } },
  get(i) {
    checkIndex('digits.get', i, 5);
    return { label: { kind: 'label', numClasses: 5, value: i } };
  },
};

describe('subset', () => {
  it('views the picked examples in the given order, repeats allowed, without copying', () => {
    const s = subset(digits, [4, 0, 4], 'picked');
    expect(s.name).toBe('picked');
    expect(s.length).toBe(3);
    expect(s.modalities).toBe(digits.modalities);
    expect([0, 1, 2].map((i) => (s.get(i)['label'] as LabelExample).value)).toEqual([4, 0, 4]);
    expect(subset(digits, Int32Array.from([1, 2])).name).toBe('digits[subset 2]');
  });

  it('rejects indices outside the dataset, and out-of-range gets', () => {
    expect(() => subset(digits, [0, 5])).toThrow(/subset: indices\[1\] must be an integer in 0\.\.4, got 5/);
    expect(() => subset(digits, [1.5])).toThrow(/indices\[0\] must be an integer/);
    expect(() => subset(digits, [1], 'one').get(1)).toThrow(/one\.get: i must be an integer in 0\.\.0, got 1/);
  });
});

describe('checkIndex / checkInt', () => {
  it('accept valid values and name the argument otherwise', () => {
    expect(() => checkIndex('f', 0, 1)).not.toThrow();
    expect(() => checkIndex('f', 1, 1)).toThrow(/f: i must be an integer in 0\.\.0, got 1/);
    expect(() => checkIndex('f', Number.NaN, 3)).toThrow(/got NaN/);
    expect(() => checkInt('g', 'n', 3, 3)).not.toThrow();
    expect(() => checkInt('g', 'n', 2, 3)).toThrow(/g: n must be an integer >= 3, got 2/);
    expect(() => checkInt('g', 'n', '4', 3)).toThrow(/got 4/);
  });
});
