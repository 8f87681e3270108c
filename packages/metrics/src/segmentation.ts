import { rangeFail as fail, typeFail as failType } from '@mtd/errors';
import { checkInt, isArrayLike } from './check.js';

export interface SegmentationMetrics {
  /** Correctly classified pixels / counted pixels. */
  readonly pixelAccuracy: number;
  /** Mean over classes present in the target of `TP / (TP + FN)` (per-class recall). */
  readonly meanClassAccuracy: number;
  /** Mean over classes present in the target or the prediction of `TP / (TP + FP + FN)`. */
  readonly meanIoU: number;
  /** Per class; NaN for a class absent from the target. */
  readonly classAccuracy: Float64Array;
  /** Per class; NaN for a class absent from both the target and the prediction. */
  readonly iou: Float64Array;
  /** Pixels counted (those whose target is not `ignoreIndex`). */
  readonly pixels: number;
}

export interface ConfusionMatrixOptions {
  /** Target value whose pixels are skipped (e.g. 255 for "unlabelled"); none by default. */
  ignoreIndex?: number;
}

/**
 * A `K x K` confusion matrix of per-pixel class maps, row = target class, column = predicted class,
 * accumulated over any number of maps with `add` (so a test set streams through it in batches).
 */
export class ConfusionMatrix {
  readonly numClasses: number;
  readonly ignoreIndex: number | undefined;
  /** Row-major counts, `counts[target * K + predicted]`. */
  readonly counts: Float64Array;

  constructor(numClasses: number, options: ConfusionMatrixOptions = {}) {
    checkInt('ConfusionMatrix', 'numClasses', numClasses, 1);
    const { ignoreIndex } = options;
    if (ignoreIndex !== undefined && (!Number.isInteger(ignoreIndex) || (ignoreIndex >= 0 && ignoreIndex < numClasses))) {
      fail('ConfusionMatrix', 'options.ignoreIndex', `an integer outside the classes 0..${numClasses - 1}`, ignoreIndex);
    }
    this.numClasses = numClasses;
    this.ignoreIndex = ignoreIndex;
    this.counts = new Float64Array(numClasses * numClasses);
  }

  /**
   * Counts one or more maps, flattened in the same order (any shape: `[H, W]`, `[N, H, W]`...);
   * `await tensor.data()` turns a tfjs class map into one.
   */
  add(predicted: ArrayLike<number>, target: ArrayLike<number>): this {
    const where = 'ConfusionMatrix.add';
    const K = this.numClasses;
    if (!isArrayLike(predicted)) failType(where, 'predicted', 'an array of class indices', predicted);
    if (!isArrayLike(target)) failType(where, 'target', 'an array of class indices', target);
    if (predicted.length !== target.length) {
      throw new RangeError(
        `${where}: predicted and target must have the same number of pixels, got ${predicted.length} and ${target.length}`,
      );
    }
    // Validate everything first so a bad map leaves the counts untouched.
    for (let i = 0; i < target.length; i++) {
      const t = target[i]!;
      if (t === this.ignoreIndex) continue;
      if (!Number.isInteger(t) || t < 0 || t >= K) {
        const also = this.ignoreIndex === undefined ? '' : ` or the ignoreIndex ${this.ignoreIndex}`;
        fail(where, `target[${i}]`, `a class index in 0..${K - 1}${also}`, t);
      }
      const p = predicted[i]!;
      if (!Number.isInteger(p) || p < 0 || p >= K) fail(where, `predicted[${i}]`, `a class index in 0..${K - 1}`, p);
    }
    for (let i = 0; i < target.length; i++) {
      const t = target[i]!;
      if (t === this.ignoreIndex) continue;
      this.counts[t * K + predicted[i]!]!++;
    }
    return this;
  }

  /** Count of pixels of target class `t` predicted as `p`. */
  get(t: number, p: number): number {
    return this.counts[t * this.numClasses + p]!;
  }

  /**
   * Pixel accuracy, mean class accuracy and mean IoU (the FCN paper's definitions, Long et al.
   * 2015). A class absent from the target has no accuracy and one absent from both maps has no
   * IoU: they are left out of the means instead of counting as 0 or 1.
   */
  metrics(): SegmentationMetrics {
    const K = this.numClasses;
    const rows = new Float64Array(K);
    const cols = new Float64Array(K);
    let total = 0;
    let diagonal = 0;
    for (let t = 0; t < K; t++) {
      for (let p = 0; p < K; p++) {
        const c = this.counts[t * K + p]!;
        rows[t]! += c;
        cols[p]! += c;
        total += c;
      }
      diagonal += this.counts[t * K + t]!;
    }
    if (total === 0) {
      throw new RangeError('ConfusionMatrix.metrics: no pixels counted yet (add maps whose target is not all ignoreIndex)');
    }
    const classAccuracy = new Float64Array(K);
    const iou = new Float64Array(K);
    let accSum = 0;
    let accCount = 0;
    let iouSum = 0;
    let iouCount = 0;
    for (let c = 0; c < K; c++) {
      const tp = this.counts[c * K + c]!;
      classAccuracy[c] = rows[c]! > 0 ? tp / rows[c]! : Number.NaN;
      const union = rows[c]! + cols[c]! - tp;
      iou[c] = union > 0 ? tp / union : Number.NaN;
      if (rows[c]! > 0) {
        accSum += classAccuracy[c]!;
        accCount++;
      }
      if (union > 0) {
        iouSum += iou[c]!;
        iouCount++;
      }
    }
    return {
      pixelAccuracy: diagonal / total,
      meanClassAccuracy: accSum / accCount,
      meanIoU: iouSum / iouCount,
      classAccuracy,
      iou,
      pixels: total,
    };
  }
}

/** Segmentation metrics of one set of maps: `new ConfusionMatrix(K).add(predicted, target).metrics()`. */
export function segmentationMetrics(
  predicted: ArrayLike<number>,
  target: ArrayLike<number>,
  numClasses: number,
  options: ConfusionMatrixOptions = {},
): SegmentationMetrics {
  return new ConfusionMatrix(numClasses, options).add(predicted, target).metrics();
}
