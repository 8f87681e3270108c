import { createRng } from '@mtd/random';
import { describe, expect, it } from 'vitest';
import { ConfusionMatrix, segmentationMetrics } from './segmentation.js';

describe('segmentation metrics', () => {
  // A 3x4 map with classes 0..3 (class 3 appears nowhere, class 2 only in the prediction).
  const target = [
    0, 0, 1, 1, //
    0, 0, 1, 1, //
    0, 0, 0, 1,
  ];
  const predicted = [
    0, 1, 1, 1, //
    0, 0, 1, 2, //
    0, 0, 0, 0,
  ];

  it('matches the hand-computed confusion matrix and metrics', () => {
    const cm = new ConfusionMatrix(4).add(predicted, target);
    // Target 0 (7 px): 6 -> 0, 1 -> 1. Target 1 (5 px): 3 -> 1, 1 -> 2, 1 -> 0.
    expect(cm.get(0, 0)).toBe(6);
    expect(cm.get(0, 1)).toBe(1);
    expect(cm.get(1, 1)).toBe(3);
    expect(cm.get(1, 2)).toBe(1);
    expect(cm.get(1, 0)).toBe(1);
    const m = cm.metrics();
    expect(m.pixels).toBe(12);
    expect(m.pixelAccuracy).toBeCloseTo(9 / 12, 15);
    // Class accuracy over classes in the target (0, 1): (6/7 + 3/5) / 2.
    expect(Array.from(m.classAccuracy.slice(0, 3))).toEqual([6 / 7, 3 / 5, Number.NaN]);
    expect(m.meanClassAccuracy).toBeCloseTo((6 / 7 + 3 / 5) / 2, 15);
    // IoU: class 0: 6 / (7 + 7 - 6) = 6/8; class 1: 3 / (5 + 4 - 3) = 3/6; class 2: 0 / 1;
    // class 3 absent from both: left out.
    expect(m.iou[0]).toBeCloseTo(6 / 8, 15);
    expect(m.iou[1]).toBeCloseTo(3 / 6, 15);
    expect(m.iou[2]).toBe(0);
    expect(m.iou[3]).toBeNaN();
    expect(m.meanIoU).toBeCloseTo((6 / 8 + 3 / 6 + 0) / 3, 15);
  });

  it('a perfect prediction scores 1 everywhere, and streaming equals one big add', () => {
    const perfect = segmentationMetrics(target, target, 4);
    expect([perfect.pixelAccuracy, perfect.meanClassAccuracy, perfect.meanIoU]).toEqual([1, 1, 1]);
    const rng = createRng(2);
    const t = Array.from({ length: 200 }, () => rng.int(5));
    const p = t.map((c) => (rng.uniform() < 0.7 ? c : rng.int(5)));
    const whole = segmentationMetrics(p, t, 5);
    const streamed = new ConfusionMatrix(5).add(p.slice(0, 77), t.slice(0, 77)).add(p.slice(77), t.slice(77)).metrics();
    expect(streamed).toEqual(whole);
  });

  it('skips ignoreIndex pixels in the target', () => {
    const m = segmentationMetrics([0, 1, 1, 0], [0, 255, 1, 255], 2, { ignoreIndex: 255 });
    expect(m.pixels).toBe(2);
    expect(m.pixelAccuracy).toBe(1);
  });

  it('rejects bad input', () => {
    expect(() => segmentationMetrics([0, 1], [0], 2)).toThrow(/predicted and target must have the same number of pixels, got 2 and 1/);
    expect(() => segmentationMetrics([0, 2], [0, 1], 2)).toThrow(/predicted\[1\] must be a class index in 0..1, got 2/);
    expect(() => segmentationMetrics([0, 1], [0, -1], 2)).toThrow(/target\[1\] must be a class index in 0..1, got -1/);
    expect(() => segmentationMetrics([0, 1], [0, 1], 0)).toThrow(/numClasses must be an integer >= 1, got 0/);
    expect(() => segmentationMetrics([0], [255], 2, { ignoreIndex: 255 })).toThrow(/no pixels counted/);
    expect(() => new ConfusionMatrix(3, { ignoreIndex: 1 })).toThrow(/options.ignoreIndex must be an integer outside the classes 0..2, got 1/);
    const cm = new ConfusionMatrix(2);
    expect(() => cm.add([0, 0], [0, 5])).toThrow(/target\[1\]/);
    expect(Array.from(cm.counts)).toEqual([0, 0, 0, 0]);
  });
});
