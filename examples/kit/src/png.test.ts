import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { lossCurvePng, movingAverage, plotPoint, tupleGridPng } from './png.js';

const pixel = (png: PNG, x: number, y: number) => Array.from(png.data.subarray(4 * (y * png.width + x), 4 * (y * png.width + x) + 3));

describe('tupleGridPng', () => {
  it('lays each example out as its columns side by side, values mapped from [-1, 1] to 0..255', () => {
    // Two 2x2 examples, two columns: column 0 all -1 (black), column 1 all +1 (white), except one pixel.
    const a = new Float32Array(8).fill(-1);
    const b = new Float32Array(8).fill(1);
    b[4 + 3] = 0; // example 1, bottom-right pixel: mid grey
    const png = PNG.sync.read(Buffer.from(tupleGridPng([a, b], 2, 2, { cellsPerRow: 2, zoom: 1 })));
    // cell width = 2 columns * (2 + 1) - 1 = 5; width = 2 * (5 + 2) + 2 = 16; height = 1 * (2 + 2) + 2 = 6.
    expect([png.width, png.height]).toEqual([16, 6]);
    expect(pixel(png, 2, 2)).toEqual([0, 0, 0]); // example 0, column 0
    expect(pixel(png, 5, 2)).toEqual([255, 255, 255]); // example 0, column 1
    expect(pixel(png, 4, 2)).toEqual([96, 96, 96]); // the 1-px separator
    // example 1 starts at x = 2 + 7 = 9; its column 1 at x = 12; bottom-right pixel (1, 1) at (13, 3).
    expect(pixel(png, 13, 3)).toEqual([128, 128, 128]);
    expect(pixel(png, 12, 2)).toEqual([255, 255, 255]);
  });
  it('draws RGB images channel by channel (NHWC)', () => {
    // Two 1x1 RGB examples: red, and (0, 0, +1) -> (128, 128, 255).
    const a = Float32Array.from([1, -1, -1, 0, 0, 1]);
    const png = PNG.sync.read(Buffer.from(tupleGridPng([a], 2, 1, { channels: 3, cellsPerRow: 2 })));
    expect(pixel(png, 2, 2)).toEqual([255, 0, 0]);
    expect(pixel(png, 5, 2)).toEqual([128, 128, 255]);
    expect(() => tupleGridPng([a], 3, 1, { channels: 3 })).toThrow(/columns\[0\] must hold n \* size \* size \* channels = 9 values, got 6/);
    expect(() => tupleGridPng([a], 1, 1, { channels: 2 as 3 })).toThrow(/options.channels must be 1 or 3, got 2/);
  });
  it('zooms by repeating pixels and clips out-of-range values', () => {
    const a = Float32Array.from([5, -5, 0, 1]);
    const png = PNG.sync.read(Buffer.from(tupleGridPng([a], 1, 2, { zoom: 2 })));
    expect([png.width, png.height]).toEqual([8, 8]);
    expect(pixel(png, 2, 2)).toEqual([255, 255, 255]);
    expect(pixel(png, 3, 3)).toEqual([255, 255, 255]);
    expect(pixel(png, 4, 2)).toEqual([0, 0, 0]);
  });
  it('names the bad argument', () => {
    expect(() => tupleGridPng([new Float32Array(3)], 1, 2)).toThrow(/tupleGridPng: columns\[0\] must hold n \* size \* size \* channels = 4 values, got 3/);
    expect(() => tupleGridPng([], 1, 2)).toThrow(/columns must hold at least one image set/);
    expect(() => tupleGridPng([new Float32Array(4)], 1, 2, { zoom: 0 })).toThrow(/options.zoom must be an integer >= 1, got 0/);
  });
});

describe('movingAverage', () => {
  it('is the centred mean over the window, shorter at the ends', () => {
    expect(movingAverage([1, 2, 3, 4, 5], 3)).toEqual([1.5, 2, 3, 4, 4.5]);
    expect(movingAverage([4, 8], 1)).toEqual([4, 8]);
    expect(() => movingAverage([1], 0)).toThrow(/movingAverage: window must be an integer >= 1, got 0/);
  });
});

describe('lossCurvePng', () => {
  it('draws each series in its colour where plotPoint puts it (log axis for positive losses)', () => {
    const falling = Array.from({ length: 50 }, (_, i) => 1 / (1 + i));
    const flat = Array.from({ length: 50 }, () => 0.2);
    const { png: bytes, box } = lossCurvePng(
      [
        { values: falling, color: [200, 0, 0] },
        { values: flat, color: [0, 0, 200] },
      ],
      { width: 200, height: 120, smooth: 1 },
    );
    const png = PNG.sync.read(Buffer.from(bytes));
    expect([png.width, png.height]).toEqual([200, 120]);
    expect(box.log).toBe(true);
    const [x0, y0] = plotPoint(0, 1, box);
    expect([x0, y0]).toEqual([box.left, box.top]); // the largest value at the top left
    expect(pixel(png, x0, y0)).toEqual([200, 0, 0]);
    const [xl, yl] = plotPoint(49, falling[49]!, box);
    expect([xl, yl]).toEqual([box.right, box.bottom]); // the smallest at the bottom right
    const [xf, yf] = plotPoint(25, 0.2, box);
    expect(pixel(png, xf, yf)).toEqual([0, 0, 200]);
    // The background is white, the x axis black.
    expect(pixel(png, box.left + 5, box.top + 40)).toEqual([255, 255, 255]);
    expect(pixel(png, box.left + 5, box.bottom)).toEqual([0, 0, 0]);
  });
  it('uses a linear axis when a value is not positive, and survives a constant series', () => {
    expect(lossCurvePng([{ values: [0, -1, 2], color: [0, 0, 0] }]).box.log).toBe(false);
    const { box } = lossCurvePng([{ values: [0.5, 0.5], color: [0, 0, 0] }]);
    expect(box.max).toBeGreaterThan(box.min);
  });
  it('names the bad argument', () => {
    expect(() => lossCurvePng([])).toThrow(/lossCurvePng: series must be a non-empty array/);
    expect(() => lossCurvePng([{ values: [1, Number.NaN], color: [0, 0, 0] }])).toThrow(/every series must hold finite values/);
    expect(() => lossCurvePng([{ values: [1], color: [0, 0, 0] }], { width: 10 })).toThrow(/options.width must be an integer >= 64, got 10/);
  });
});
