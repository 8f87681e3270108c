import { PNG } from 'pngjs';

export type Rgb = readonly [number, number, number];

function checkImages(where: string, columns: readonly Float32Array[], n: number, size: number, channels: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`${where}: n must be an integer >= 1, got ${String(n)}`);
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`${where}: size must be an integer >= 1, got ${String(size)}`);
  if (channels !== 1 && channels !== 3) throw new RangeError(`${where}: options.channels must be 1 or 3, got ${String(channels)}`);
  if (columns.length < 1) throw new RangeError(`${where}: columns must hold at least one image set, got 0`);
  const need = n * size * size * channels;
  columns.forEach((c, i) => {
    if (c.length < need) throw new RangeError(`${where}: columns[${i}] must hold n * size * size * channels = ${need} values, got ${c.length}`);
  });
}

export interface GridOptions {
  /** Cells (examples) per row; default about square. */
  cellsPerRow?: number;
  /** Repeat every pixel `zoom` times (16-px images are tiny on screen). */
  zoom?: number;
  /** 1 (grey) or 3 (RGB); images are NHWC. Default 1. */
  channels?: 1 | 3;
}

/**
 * A grid of image tuples: example `i` is one cell holding `columns[0][i]`, `columns[1][i]`, ...
 * side by side (e.g. generated image | generated masked image, or masked | restored | original),
 * cells separated by a 2-px grey gap, images 1 px apart, `cellsPerRow` cells per row. Values in
 * [-1, 1] (clipped) map to 0..255.
 */
export function tupleGridPng(columns: readonly Float32Array[], n: number, size: number, options: GridOptions = {}): Uint8Array {
  const where = 'tupleGridPng';
  const C = options.channels ?? 1;
  checkImages(where, columns, n, size, C);
  const zoom = options.zoom ?? 1;
  if (!Number.isInteger(zoom) || zoom < 1) throw new RangeError(`${where}: options.zoom must be an integer >= 1, got ${String(zoom)}`);
  const perRow = Math.min(n, options.cellsPerRow ?? Math.max(1, Math.round(Math.sqrt(n / columns.length))));
  if (!Number.isInteger(perRow) || perRow < 1) throw new RangeError(`${where}: options.cellsPerRow must be an integer >= 1, got ${String(options.cellsPerRow)}`);
  const s = size * zoom;
  const cellW = columns.length * (s + 1) - 1;
  const gap = 2;
  const rows = Math.ceil(n / perRow);
  const width = perRow * (cellW + gap) + gap;
  const height = rows * (s + gap) + gap;
  const png = new PNG({ width, height });
  for (let p = 0; p < width * height; p++) png.data.set([96, 96, 96, 255], 4 * p);
  const byte = (v: number) => Math.round(((Math.min(1, Math.max(-1, v)) + 1) / 2) * 255);
  for (let i = 0; i < n; i++) {
    const x0 = gap + (i % perRow) * (cellW + gap);
    const y0 = gap + Math.floor(i / perRow) * (s + gap);
    columns.forEach((images, c) => {
      for (let y = 0; y < s; y++) {
        for (let x = 0; x < s; x++) {
          const at = (i * size * size + Math.floor(y / zoom) * size + Math.floor(x / zoom)) * C;
          const r = byte(images[at]!);
          const rgb = C === 1 ? [r, r, r] : [r, byte(images[at + 1]!), byte(images[at + 2]!)];
          png.data.set([rgb[0]!, rgb[1]!, rgb[2]!, 255], 4 * ((y0 + y) * width + x0 + c * (s + 1) + x));
        }
      }
    });
  }
  return new Uint8Array(PNG.sync.write(png));
}

export interface LossSeries {
  values: readonly number[];
  color: Rgb;
}

/** Centred moving average over `window` points (shorter at the ends). */
export function movingAverage(values: readonly number[], window: number): number[] {
  if (!Number.isInteger(window) || window < 1) throw new RangeError(`movingAverage: window must be an integer >= 1, got ${String(window)}`);
  const half = Math.floor(window / 2);
  return values.map((_, i) => {
    const lo = Math.max(0, i - half);
    const hi = Math.min(values.length, i + half + 1);
    let s = 0;
    for (let j = lo; j < hi; j++) s += values[j]!;
    return s / (hi - lo);
  });
}

/** Pixel position of a data point in `lossCurvePng`'s plot area (exported for its test). */
export function plotPoint(step: number, value: number, box: PlotBox): [number, number] {
  const x = box.left + (box.steps <= 1 ? 0 : (step / (box.steps - 1)) * (box.right - box.left));
  const u = box.log ? (Math.log(value) - Math.log(box.min)) / (Math.log(box.max) - Math.log(box.min)) : (value - box.min) / (box.max - box.min);
  const y = box.bottom - (Number.isFinite(u) ? u : 0) * (box.bottom - box.top);
  return [Math.round(x), Math.round(y)];
}

export interface PlotBox {
  left: number;
  right: number;
  top: number;
  bottom: number;
  steps: number;
  min: number;
  max: number;
  log: boolean;
}

/**
 * A loss-curve PNG drawn with pngjs (no fonts: the report names the colours): white background,
 * black axes with a tick every tenth of the steps, one polyline per series (its moving average,
 * `smooth` points wide, over the raw values drawn in a light tint). Log y axis when every value
 * is positive. Returns the PNG bytes and the plot box (where step/value land).
 */
export function lossCurvePng(series: readonly LossSeries[], options: { width?: number; height?: number; smooth?: number } = {}): { png: Uint8Array; box: PlotBox } {
  const where = 'lossCurvePng';
  if (!Array.isArray(series) || series.length === 0) throw new RangeError(`${where}: series must be a non-empty array, got ${String(series)}`);
  const width = options.width ?? 640;
  const height = options.height ?? 360;
  if (!Number.isInteger(width) || width < 64) throw new RangeError(`${where}: options.width must be an integer >= 64, got ${String(width)}`);
  if (!Number.isInteger(height) || height < 64) throw new RangeError(`${where}: options.height must be an integer >= 64, got ${String(height)}`);
  const all = series.flatMap((s) => s.values);
  if (all.length === 0 || all.some((v) => !Number.isFinite(v))) throw new RangeError(`${where}: every series must hold finite values, and at least one value overall`);
  const smooth = options.smooth ?? Math.max(1, Math.round(Math.max(...series.map((s) => s.values.length)) / 50));
  let min = Math.min(...all);
  let max = Math.max(...all);
  const log = min > 0;
  if (max === min) {
    max = log ? max * 1.1 : max + 1;
    min = log ? min / 1.1 : min - 1;
  }
  const box: PlotBox = { left: 40, right: width - 10, top: 10, bottom: height - 30, steps: Math.max(...series.map((s) => s.values.length)), min, max, log };
  const png = new PNG({ width, height });
  png.data.fill(255);
  const set = (x: number, y: number, c: Rgb) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    png.data.set([c[0], c[1], c[2], 255], 4 * (y * width + x));
  };
  const line = (x0: number, y0: number, x1: number, y1: number, c: Rgb) => {
    // Bresenham.
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    let err = dx + dy;
    for (;;) {
      set(x0, y0, c);
      if (x0 === x1 && y0 === y1) return;
      const e2 = 2 * err;
      if (e2 >= dy) { err += dy; x0 += sx; }
      if (e2 <= dx) { err += dx; y0 += sy; }
    }
  };
  const black: Rgb = [0, 0, 0];
  line(box.left, box.top, box.left, box.bottom, black);
  line(box.left, box.bottom, box.right, box.bottom, black);
  for (let k = 0; k <= 10; k++) {
    const x = Math.round(box.left + (k / 10) * (box.right - box.left));
    line(x, box.bottom, x, box.bottom + 4, black);
  }
  const polyline = (values: readonly number[], c: Rgb) => {
    let prev: [number, number] | undefined;
    values.forEach((v, i) => {
      const p = plotPoint(i, v, box);
      if (prev) line(prev[0], prev[1], p[0], p[1], c);
      else set(p[0], p[1], c);
      prev = p;
    });
  };
  const tint = (c: Rgb): Rgb => [Math.round(c[0] + (255 - c[0]) * 0.7), Math.round(c[1] + (255 - c[1]) * 0.7), Math.round(c[2] + (255 - c[2]) * 0.7)];
  for (const s of series) if (smooth > 1) polyline(s.values, tint(s.color));
  for (const s of series) polyline(smooth > 1 ? movingAverage(s.values, smooth) : s.values, s.color);
  // Legend: a colour swatch per series, top right, in series order.
  series.forEach((s, i) => {
    for (let y = 0; y < 8; y++) for (let x = 0; x < 16; x++) set(box.right - 20 - x, box.top + 4 + i * 12 + y, s.color);
  });
  return { png: new Uint8Array(PNG.sync.write(png)), box };
}
