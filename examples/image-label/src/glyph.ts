/**
 * A generated label drawn as a small grey image, so the PNG grids can show each generated image
 * beside its generated label (the kit's `tupleGridPng` takes image columns only): the class index
 * as digits in a 3x5 pixel font at the top, and one bar per class below, its height the class's
 * probability, the most likely class's bar white and the others grey.
 */

/** 3x5 bitmaps of the digits 0-9, rows top to bottom, `#` = lit. */
const DIGITS: readonly string[][] = [
  ['###', '#.#', '#.#', '#.#', '###'],
  ['.#.', '##.', '.#.', '.#.', '###'],
  ['###', '..#', '###', '#..', '###'],
  ['###', '..#', '.##', '..#', '###'],
  ['#.#', '#.#', '###', '..#', '..#'],
  ['###', '#..', '###', '..#', '###'],
  ['###', '#..', '###', '#.#', '###'],
  ['###', '..#', '.#.', '.#.', '.#.'],
  ['###', '#.#', '###', '#.#', '###'],
  ['###', '#.#', '###', '..#', '###'],
];

/** Whether pixel (row, col) of digit `d`'s 3x5 bitmap is lit. */
export function digitPixel(d: number, row: number, col: number): boolean {
  if (!Number.isInteger(d) || d < 0 || d > 9) throw new RangeError(`digitPixel: d must be a digit 0..9, got ${String(d)}`);
  return DIGITS[d]![row]?.[col] === '#';
}

/** Pixel values of the drawing, in the images' [-1, 1] range. */
export const GLYPH_LEVELS = { background: -1, digit: 1, baseline: -0.5, bar: 0.25, topBar: 1 } as const;

/** Where things go in a `size x size` label cell (exported for the tests). */
export interface LabelLayout {
  /** Pixels per font pixel. */
  scale: number;
  /** Top-left corner of the digits. */
  textTop: number;
  textLeft: number;
  /** Width of one bar and the x of class 0's bar. */
  barWidth: number;
  barLeft: number;
  /** Rows available to a bar of probability 1; bars stand on the bottom row. */
  barHeight: number;
}

export function labelLayout(label: number, classes: number, size: number): LabelLayout {
  const where = 'labelLayout';
  if (!Number.isInteger(classes) || classes < 2) throw new RangeError(`${where}: classes must be an integer >= 2, got ${String(classes)}`);
  if (!Number.isInteger(size) || size < 8) throw new RangeError(`${where}: size must be an integer >= 8, got ${String(size)}`);
  if (classes > size) throw new RangeError(`${where}: classes must be at most size (one bar column per class), got ${classes} classes for size ${size}`);
  if (!Number.isInteger(label) || label < 0 || label >= classes) throw new RangeError(`${where}: label must be a class index in 0..${classes - 1}, got ${String(label)}`);
  const scale = Math.max(1, Math.floor(size / 16));
  const digits = String(label).length;
  const textWidth = digits * 3 * scale + (digits - 1) * scale;
  if (textWidth > size) throw new RangeError(`${where}: label ${label} does not fit in a ${size}-px cell`);
  const barWidth = Math.max(1, Math.floor(size / classes));
  return {
    scale,
    textTop: 1,
    textLeft: Math.floor((size - textWidth) / 2),
    barWidth,
    barLeft: Math.floor((size - classes * barWidth) / 2),
    barHeight: Math.max(1, size - (1 + 5 * scale) - 2),
  };
}

/**
 * `n` label cells, `[n, size, size, 1]` row-major in [-1, 1]: example `i` shows `argmax` of
 * `probs[i]` (ties to the lower index, like argmax) as digits and the row as bars.
 *
 * @param probs `[n, classes]` row-major class probabilities (any non-negative scores in [0, 1]).
 */
export function labelCells(probs: Float32Array, n: number, classes: number, size: number): Float32Array {
  const where = 'labelCells';
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: n must be an integer >= 1, got ${String(n)}`);
  if (!(probs instanceof Float32Array) || probs.length < n * classes) {
    throw new RangeError(`${where}: probs must be a Float32Array of n * classes = ${n * classes} values, got ${probs instanceof Float32Array ? probs.length : typeof probs}`);
  }
  labelLayout(0, classes, size);
  const out = new Float32Array(n * size * size).fill(GLYPH_LEVELS.background);
  for (let i = 0; i < n; i++) {
    const row = probs.subarray(i * classes, (i + 1) * classes);
    let best = 0;
    for (let k = 0; k < classes; k++) {
      const p = row[k]!;
      if (!(p >= 0 && p <= 1)) throw new RangeError(`${where}: probs[${i}][${k}] must be a probability in [0, 1], got ${String(p)}`);
      if (p > row[best]!) best = k;
    }
    const cell = out.subarray(i * size * size, (i + 1) * size * size);
    const L = labelLayout(best, classes, size);
    drawDigits(cell, size, best, L);
    for (let k = 0; k < classes; k++) {
      const h = Math.round(row[k]! * L.barHeight);
      const level = k === best ? GLYPH_LEVELS.topBar : GLYPH_LEVELS.bar;
      for (let x = L.barLeft + k * L.barWidth; x < L.barLeft + (k + 1) * L.barWidth; x++) {
        cell[(size - 1) * size + x] = h > 0 ? level : GLYPH_LEVELS.baseline;
        for (let y = size - 2; y > size - 1 - h; y--) cell[y * size + x] = level;
      }
    }
  }
  return out;
}

/** One-hot probabilities `[n, classes]` of class ids (to draw known labels with `labelCells`). */
export function oneHotRows(labels: ArrayLike<number>, classes: number): Float32Array {
  const out = new Float32Array(labels.length * classes);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new RangeError(`oneHotRows: labels[${i}] must be a class index in 0..${classes - 1}, got ${String(y)}`);
    out[i * classes + y] = 1;
  }
  return out;
}

function drawDigits(cell: Float32Array, size: number, label: number, L: LabelLayout): void {
  const text = String(label);
  for (let c = 0; c < text.length; c++) {
    const d = Number(text[c]);
    const left = L.textLeft + c * 4 * L.scale;
    for (let r = 0; r < 5; r++) {
      for (let col = 0; col < 3; col++) {
        if (!digitPixel(d, r, col)) continue;
        for (let dy = 0; dy < L.scale; dy++) {
          for (let dx = 0; dx < L.scale; dx++) cell[(L.textTop + r * L.scale + dy) * size + left + col * L.scale + dx] = GLYPH_LEVELS.digit;
        }
      }
    }
  }
}
