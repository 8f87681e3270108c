import { PNG } from 'pngjs';
import { writeFileAtomic } from '@mtd/io';

/**
 * Writes `n` images (`[n, H, W, C]` row-major floats in [-1, 1], C = 1 or 3) as one PNG grid,
 * `columns` wide, with a 1-pixel black border between cells. Values are clipped to [-1, 1] and
 * mapped to 0..255. Written atomically.
 */
export async function writeImageGrid(
  path: string,
  data: ArrayLike<number>,
  shape: readonly [number, number, number, number],
  columns = Math.ceil(Math.sqrt(shape[0])),
): Promise<void> {
  const [n, h, w, c] = shape;
  if (c !== 1 && c !== 3) throw new RangeError(`writeImageGrid: images must have 1 or 3 channels, got ${c}`);
  const cols = Math.max(1, Math.min(columns, n));
  const rows = Math.ceil(n / cols);
  const width = cols * (w + 1) + 1;
  const height = rows * (h + 1) + 1;
  const png = new PNG({ width, height });
  png.data.fill(0);
  for (let p = 3; p < png.data.length; p += 4) png.data[p] = 255;
  const byte = (v: number) => Math.round(((Math.min(1, Math.max(-1, v)) + 1) / 2) * 255);
  for (let i = 0; i < n; i++) {
    const x0 = 1 + (i % cols) * (w + 1);
    const y0 = 1 + Math.floor(i / cols) * (h + 1);
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) {
        const src = ((i * h + y) * w + x) * c;
        const dst = ((y0 + y) * width + x0 + x) * 4;
        for (let k = 0; k < 3; k++) png.data[dst + k] = byte(data[src + (c === 1 ? 0 : k)]!);
      }
    }
  }
  await writeFileAtomic(path, new Uint8Array(PNG.sync.write(png)));
}
