import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import { checkFeatureRows, checkInt, isArrayLike, type FeatureRows } from './check.js';

/**
 * Top-k accuracy: the fraction of samples whose true class is among the `k` highest scores of its
 * row. Rows are per-sample class scores (logits or probabilities: only the order matters).
 *
 * Ties are broken by class index, as `argmax` does: the true class's rank is the number of classes
 * scoring strictly higher plus the number of lower-indexed classes scoring the same. So a model
 * that outputs a constant is not credited with every class at once.
 */
export function topKAccuracy(scores: FeatureRows, labels: ArrayLike<number>, k: number): number {
  const where = 'topKAccuracy';
  const { n, d: classes } = checkScores(where, scores, labels);
  checkInt(where, 'k', k, 1);
  if (k > classes) fail(where, 'k', `at most the number of classes (${classes})`, k);
  let correct = 0;
  for (let i = 0; i < n; i++) {
    if (rankOfTrueClass(scores[i]!, labels[i]!) < k) correct++;
  }
  return correct / n;
}

export interface ClassificationAccuracy {
  readonly top1: number;
  readonly top5: number;
}

/** Top-1 and top-5 accuracy (see `topKAccuracy`); needs at least 5 classes. */
export function classificationAccuracy(scores: FeatureRows, labels: ArrayLike<number>): ClassificationAccuracy {
  const where = 'classificationAccuracy';
  const { n, d: classes } = checkScores(where, scores, labels);
  if (classes < 5) fail(where, 'scores', 'rows of at least 5 class scores (for top-5)', classes);
  let top1 = 0;
  let top5 = 0;
  for (let i = 0; i < n; i++) {
    const rank = rankOfTrueClass(scores[i]!, labels[i]!);
    if (rank < 1) top1++;
    if (rank < 5) top5++;
  }
  return { top1: top1 / n, top5: top5 / n };
}

function rankOfTrueClass(row: ArrayLike<number>, label: number): number {
  const s = row[label]!;
  let rank = 0;
  for (let c = 0; c < row.length; c++) {
    const v = row[c]!;
    if (v > s || (v === s && c < label)) rank++;
  }
  return rank;
}

function checkScores(where: string, scores: FeatureRows, labels: ArrayLike<number>): { n: number; d: number } {
  const shape = checkFeatureRows(where, 'scores', scores, 1);
  if (!isArrayLike(labels)) failType(where, 'labels', 'an array of class indices', labels);
  if (labels.length !== shape.n) {
    throw new RangeError(`${where}: labels must have one entry per row of scores (${shape.n}), got ${labels.length}`);
  }
  for (let i = 0; i < shape.n; i++) {
    const y = labels[i];
    if (typeof y !== 'number' || !Number.isInteger(y) || y < 0 || y >= shape.d) {
      fail(where, `labels[${i}]`, `a class index in 0..${shape.d - 1}`, y);
    }
  }
  return shape;
}
