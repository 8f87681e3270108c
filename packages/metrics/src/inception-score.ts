import { rangeFail as fail } from '@mtd/errors';
import { checkFeatureRows, checkInt, type FeatureRows } from './check.js';

export interface InceptionScoreOptions {
  /**
   * Number of equal parts the samples are split into; the score is computed per part and the
   * mean and standard deviation over parts are reported (Salimans et al. 2016 use 10).
   */
  splits?: number;
  /** Whether the rows are classifier logits (softmax applied here) or probabilities. */
  input?: 'logits' | 'probabilities';
}

export interface InceptionScore {
  /** Mean of the per-split scores. */
  readonly mean: number;
  /** Population standard deviation of the per-split scores (numpy's default, as in the original code). */
  readonly std: number;
  readonly perSplit: Float64Array;
}

/**
 * Inception-style score (Salimans et al. 2016, "Improved techniques for training GANs"):
 *
 *   `IS = exp( E_x KL( p(y|x) || p(y) ) )`,  `p(y) = E_x p(y|x)` over the split,
 *
 * computed separately on `splits` consecutive parts (part `k` = rows `floor(k n / splits)` to
 * `floor((k+1) n / splits) - 1`, the indexing of the reference implementations) and summarised by
 * mean and standard deviation. It lies in `[1, C]` for `C` classes: `C` when every sample is
 * classified confidently and the classes are used uniformly.
 *
 * Rows are one per sample: logits by default (a float64 log-softmax is applied), or probabilities
 * with `input: 'probabilities'` (each row must be >= 0 and sum to 1 within 1e-6). `0 log 0` is 0.
 * "Inception" is only the name of the formula: the classifier is whatever produced the rows.
 */
export function inceptionScore(rows: FeatureRows, options: InceptionScoreOptions = {}): InceptionScore {
  const where = 'inceptionScore';
  const { splits = 10, input = 'logits' } = options;
  if (input !== 'logits' && input !== 'probabilities') {
    fail(where, 'options.input', "'logits' or 'probabilities'", input);
  }
  checkInt(where, 'options.splits', splits, 1);
  const { n, d: classes } = checkFeatureRows(where, 'rows', rows, 1);
  if (n < splits) {
    throw new RangeError(`${where}: rows must have at least options.splits = ${splits} samples, got ${n}`);
  }
  // log p(y|x) per row, float64.
  const logP = new Float64Array(n * classes);
  for (let i = 0; i < n; i++) {
    const row = rows[i]!;
    const base = i * classes;
    if (input === 'logits') {
      let max = -Infinity;
      for (let c = 0; c < classes; c++) max = Math.max(max, row[c]!);
      let sum = 0;
      for (let c = 0; c < classes; c++) sum += Math.exp(row[c]! - max);
      const logSum = max + Math.log(sum);
      for (let c = 0; c < classes; c++) logP[base + c] = row[c]! - logSum;
    } else {
      let sum = 0;
      for (let c = 0; c < classes; c++) {
        const p = row[c]!;
        if (p < 0 || p > 1) fail(where, `rows[${i}][${c}]`, 'a probability in [0, 1]', p);
        sum += p;
      }
      if (Math.abs(sum - 1) > 1e-6) fail(where, `rows[${i}]`, 'probabilities summing to 1', sum);
      for (let c = 0; c < classes; c++) logP[base + c] = Math.log(row[c]!);
    }
  }

  const perSplit = new Float64Array(splits);
  const marginal = new Float64Array(classes);
  for (let k = 0; k < splits; k++) {
    const start = Math.floor((k * n) / splits);
    const end = Math.floor(((k + 1) * n) / splits);
    const m = end - start;
    marginal.fill(0);
    for (let i = start; i < end; i++) {
      for (let c = 0; c < classes; c++) marginal[c]! += Math.exp(logP[i * classes + c]!) / m;
    }
    let kl = 0;
    for (let i = start; i < end; i++) {
      for (let c = 0; c < classes; c++) {
        const lp = logP[i * classes + c]!;
        if (lp === -Infinity) continue;
        kl += Math.exp(lp) * (lp - Math.log(marginal[c]!));
      }
    }
    perSplit[k] = Math.exp(kl / m);
  }
  let mean = 0;
  for (const s of perSplit) mean += s / splits;
  let variance = 0;
  for (const s of perSplit) variance += (s - mean) ** 2 / splits;
  return { mean, std: Math.sqrt(variance), perSplit };
}
