import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { digitPixel, GLYPH_LEVELS, labelCells, labelLayout, oneHotRows } from './glyph.js';

/** The cell's pixel at (y, x). */
const at = (cell: Float32Array, size: number, y: number, x: number) => cell[y * size + x]!;

describe('digitPixel', () => {
  it('draws a 1 as a centre column with a foot, and an 8 with a hole on each side of its middle bar', () => {
    expect([0, 1, 2, 3, 4].map((r) => digitPixel(1, r, 1))).toEqual([true, true, true, true, true]);
    expect(digitPixel(1, 0, 2)).toBe(false);
    expect([0, 1, 2].map((c) => digitPixel(1, 4, c))).toEqual([true, true, true]);
    expect(digitPixel(8, 1, 1)).toBe(false);
    expect(digitPixel(8, 3, 1)).toBe(false);
    expect(digitPixel(8, 2, 1)).toBe(true);
  });

  it('gives every digit a different bitmap', () => {
    const maps = Array.from({ length: 10 }, (_, d) => Array.from({ length: 15 }, (_, p) => (digitPixel(d, Math.floor(p / 3), p % 3) ? '#' : '.')).join(''));
    expect(new Set(maps).size).toBe(10);
  });

  it('rejects a non-digit', () => {
    expect(() => digitPixel(10, 0, 0)).toThrow(/digitPixel: d must be a digit 0..9, got 10/);
  });
});

describe('labelCells', () => {
  it('draws the argmax digit at the layout position, in the 16-px cell the cpu preset uses', () => {
    const size = 16;
    const cells = labelCells(oneHotRows([7], 10), 1, 10, size);
    const L = labelLayout(7, 10, size);
    expect(L.scale).toBe(1);
    for (let r = 0; r < 5; r++) {
      for (let c = 0; c < 3; c++) {
        const want = digitPixel(7, r, c) ? GLYPH_LEVELS.digit : GLYPH_LEVELS.background;
        expect(at(cells, size, L.textTop + r, L.textLeft + c), `row ${r} col ${c}`).toBe(want);
      }
    }
  });

  it('draws a full-height white bar for a one-hot class and bare baseline ticks for the others', () => {
    const size = 16;
    const cells = labelCells(oneHotRows([3], 10), 1, 10, size);
    const L = labelLayout(3, 10, size);
    const column = (k: number) => Array.from({ length: size }, (_, y) => at(cells, size, y, L.barLeft + k * L.barWidth));
    // Class 3: the bottom L.barHeight rows lit white, nothing above the bar's top but background (and no digit pixels this far right/below).
    const c3 = column(3);
    expect(c3.slice(size - L.barHeight).every((v) => v === GLYPH_LEVELS.topBar)).toBe(true);
    expect(c3[size - L.barHeight - 1]).toBe(GLYPH_LEVELS.background);
    for (const k of [0, 1, 2, 4, 9]) {
      const col = column(k);
      expect(col[size - 1], `class ${k}`).toBe(GLYPH_LEVELS.baseline);
      expect(col[size - 2], `class ${k}`).toBe(GLYPH_LEVELS.background);
    }
  });

  it('makes bar heights proportional to the probabilities (rounded to whole pixels)', () => {
    const size = 16;
    const L = labelLayout(0, 10, size);
    const p = new Float32Array([0.5, 0.25, 0.125, 0.125, 0, 0, 0, 0, 0, 0]);
    const cells = labelCells(p, 1, 10, size);
    const height = (k: number) => {
      let h = 0;
      for (let y = size - 1; y >= 0; y--) {
        const v = at(cells, size, y, L.barLeft + k * L.barWidth);
        if (v === GLYPH_LEVELS.bar || v === GLYPH_LEVELS.topBar) h++;
        else break;
      }
      return h;
    };
    expect(L.barHeight).toBe(8);
    expect([0, 1, 2, 3, 4].map(height)).toEqual([4, 2, 1, 1, 0]);
    // The most likely class (0) is white, the others grey.
    expect(at(cells, size, size - 1, L.barLeft)).toBe(GLYPH_LEVELS.topBar);
    expect(at(cells, size, size - 1, L.barLeft + L.barWidth)).toBe(GLYPH_LEVELS.bar);
  });

  it('keeps every value in [-1, 1] and draws each example from its own row (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), fc.integer({ min: 10, max: 33 }), fc.array(fc.float({ min: 0, max: 1, noNaN: true }), { minLength: 40, maxLength: 40 }), (n, size, values) => {
        const classes = 10;
        const probs = Float32Array.from(values.slice(0, n * classes));
        const cells = labelCells(probs, n, classes, size);
        expect(cells.length).toBe(n * size * size);
        expect(cells.every((v) => v >= -1 && v <= 1)).toBe(true);
        // Example i alone gives the same pixels as example i inside the batch.
        const i = n - 1;
        const alone = labelCells(probs.slice(i * classes, (i + 1) * classes), 1, classes, size);
        expect(Array.from(cells.subarray(i * size * size))).toEqual(Array.from(alone));
      }),
      { numRuns: 100 },
    );
  });

  it('scales the font with the cell (2x at 32 px) and centres two-digit labels', () => {
    expect(labelLayout(3, 10, 32).scale).toBe(2);
    const L = labelLayout(12, 16, 16);
    // Two digits: 3 + 1 + 3 = 7 px wide, centred in 16.
    expect(L.textLeft).toBe(4);
  });

  it('rejects bad arguments with the argument named', () => {
    expect(() => labelCells(new Float32Array(5), 1, 10, 16)).toThrow(/labelCells: probs must be a Float32Array of n \* classes = 10 values, got 5/);
    expect(() => labelCells(new Float32Array(10), 0, 10, 16)).toThrow(/labelCells: n must be an integer >= 1, got 0/);
    expect(() => labelCells(new Float32Array(10), 1, 10, 7)).toThrow(/labelLayout: size must be an integer >= 8, got 7/);
    expect(() => labelCells(new Float32Array(20), 1, 20, 16)).toThrow(/classes must be at most size/);
    expect(() => labelCells(Float32Array.from([2, 0, 0, 0, 0, 0, 0, 0, 0, 0]), 1, 10, 16)).toThrow(/labelCells: probs\[0\]\[0\] must be a probability in \[0, 1\], got 2/);
    expect(() => oneHotRows([10], 10)).toThrow(/oneHotRows: labels\[0\] must be a class index in 0..9, got 10/);
  });
});
