import { createRng } from '@mtd/random';
import { describe, expect, it } from 'vitest';
import { inceptionScore } from './inception-score.js';

function oneHot(classes: number, c: number): number[] {
  return Array.from({ length: classes }, (_, j) => (j === c ? 1 : 0));
}

/** The definition written out with plain loops, for one split. */
function isReference(probs: number[][]): number {
  const c = probs[0]!.length;
  const py = new Array<number>(c).fill(0);
  for (const p of probs) for (let j = 0; j < c; j++) py[j]! += p[j]! / probs.length;
  let kl = 0;
  for (const p of probs) for (let j = 0; j < c; j++) if (p[j]! > 0) kl += p[j]! * Math.log(p[j]! / py[j]!);
  return Math.exp(kl / probs.length);
}

describe('inceptionScore', () => {
  it('a confident classifier that uses all C classes uniformly scores C', () => {
    for (const classes of [2, 5, 10]) {
      const probs = Array.from({ length: 20 * classes }, (_, i) => oneHot(classes, i % classes));
      const s = inceptionScore(probs, { input: 'probabilities', splits: 4 });
      expect(s.mean).toBeCloseTo(classes, 12);
      expect(s.std).toBeCloseTo(0, 12);
      // The same through very confident logits.
      const logits = probs.map((p) => p.map((x) => (x === 1 ? 60 : 0)));
      expect(inceptionScore(logits, { splits: 4 }).mean).toBeCloseTo(classes, 10);
    }
  });

  it('a classifier that always says the same class, or is never confident, scores 1', () => {
    const same = Array.from({ length: 30 }, () => oneHot(10, 3));
    expect(inceptionScore(same, { input: 'probabilities', splits: 3 }).mean).toBeCloseTo(1, 12);
    const flat = Array.from({ length: 30 }, () => new Array<number>(10).fill(0));
    expect(inceptionScore(flat, { splits: 3 }).mean).toBeCloseTo(1, 12);
  });

  it('matches the definition per split on random logits, with mean and population std', () => {
    const rng = createRng(4);
    const logits = Array.from({ length: 103 }, () => Array.from({ length: 6 }, () => 3 * rng.normal()));
    const probs = logits.map((row) => {
      const m = Math.max(...row);
      const e = row.map((x) => Math.exp(x - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / s);
    });
    const splits = 5;
    const s = inceptionScore(logits, { splits });
    const bounds = Array.from({ length: splits + 1 }, (_, k) => Math.floor((k * 103) / splits));
    const ref = Array.from({ length: splits }, (_, k) => isReference(probs.slice(bounds[k], bounds[k + 1])));
    for (let k = 0; k < splits; k++) expect(s.perSplit[k]).toBeCloseTo(ref[k]!, 12);
    const mean = ref.reduce((a, b) => a + b, 0) / splits;
    const std = Math.sqrt(ref.reduce((a, b) => a + (b - mean) ** 2, 0) / splits);
    expect(s.mean).toBeCloseTo(mean, 12);
    expect(s.std).toBeCloseTo(std, 12);
    expect(s.mean).toBeGreaterThanOrEqual(1);
    expect(s.mean).toBeLessThanOrEqual(6);
  });

  it('is invariant to adding a constant to a row of logits', () => {
    const rng = createRng(9);
    const logits = Array.from({ length: 40 }, () => Array.from({ length: 4 }, () => rng.normal()));
    const shifted = logits.map((r, i) => r.map((x) => x + 100 * i));
    expect(inceptionScore(shifted, { splits: 2 }).mean).toBeCloseTo(inceptionScore(logits, { splits: 2 }).mean, 10);
  });

  it('rejects bad input', () => {
    expect(() => inceptionScore([[0.5, 0.5]], { splits: 2, input: 'probabilities' })).toThrow(
      /inceptionScore: rows must have at least options.splits = 2 samples, got 1/,
    );
    expect(() => inceptionScore([[0.5, 0.6]], { splits: 1, input: 'probabilities' })).toThrow(
      /rows\[0\] must be probabilities summing to 1, got 1.1/,
    );
    expect(() => inceptionScore([[-0.5, 1.5]], { splits: 1, input: 'probabilities' })).toThrow(/rows\[0\]\[0\] must be a probability/);
    expect(() => inceptionScore([[1, Number.NaN]], { splits: 1 })).toThrow(/rows\[0\]\[1\] must be a finite number, got NaN/);
    expect(() => inceptionScore([[1, 2]], { splits: 0 })).toThrow(/options.splits must be an integer >= 1, got 0/);
    expect(() => inceptionScore([[1, 2]], { input: 'softmax' as never })).toThrow(/options.input must be/);
  });
});
