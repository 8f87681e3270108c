import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { checkIndex, checkInt, type Dataset, type ImageSpec } from './dataset.js';
import { resizeImage, rgbaTo, type ResizeMethod } from './resize.js';

export interface PngFolderOptions {
  /** The folder; every `*.png` directly in it (not in subfolders) is one example. */
  dir: string;
  /** Output side: every image becomes `size x size`. */
  size: number;
  /** 1 = grey (Rec. 601 luma), 3 = RGB. Alpha is composited over black either way. */
  channels: 1 | 3;
  /** Resampling kernel (see resize.ts); `'area'` by default, which does not alias when shrinking. */
  resize?: ResizeMethod;
  /**
   * How a non-square image becomes square: `'crop'` (default) keeps the centred largest square, so
   * shapes keep their aspect ratio; `'stretch'` resizes the whole image, distorting it.
   */
  fit?: 'crop' | 'stretch';
}

export interface PngFolderDataset extends Dataset {
  /** The file behind each index, in index order (sorted by name). */
  readonly files: readonly string[];
}

function centreCrop(pixels: Float64Array, h: number, w: number, c: number): [Float64Array, number] {
  const side = Math.min(h, w);
  if (h === w) return [pixels, side];
  const top = Math.floor((h - side) / 2);
  const left = Math.floor((w - side) / 2);
  const out = new Float64Array(side * side * c);
  for (let y = 0; y < side; y++) {
    const from = ((top + y) * w + left) * c;
    out.set(pixels.subarray(from, from + side * c), y * side * c);
  }
  return [out, side];
}

/**
 * A folder of PNG images as a dataset with one modality, `image` (uint8 `[size, size, channels]`).
 * Files are sorted by name (code-unit order, so the index of a file does not depend on the
 * locale), decoded with pngjs (any bit depth or colour type, 16-bit scaled to 8), converted,
 * centre-cropped or stretched, resized, and rounded to uint8 to keep memory at one byte per value.
 */
export async function pngFolder(options: PngFolderOptions): Promise<PngFolderDataset> {
  const where = 'pngFolder';
  const { dir, size, channels, resize = 'area', fit = 'crop' } = options;
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError(`${where}: dir must be a folder path, got ${String(dir)}`);
  checkInt(where, 'size', size, 1);
  if (channels !== 1 && channels !== 3) throw new RangeError(`${where}: channels must be 1 or 3, got ${String(channels)}`);
  if (resize !== 'area' && resize !== 'bilinear') {
    throw new RangeError(`${where}: resize must be 'area' or 'bilinear', got ${String(resize)}`);
  }
  if (fit !== 'crop' && fit !== 'stretch') throw new RangeError(`${where}: fit must be 'crop' or 'stretch', got ${String(fit)}`);

  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) throw new Error(`${where}: folder ${dir} does not exist or is not a folder`);
  const entries = await readdir(dir, { withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && e.name.toLowerCase().endsWith('.png'))
    .map((e) => e.name)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  if (files.length === 0) throw new Error(`${where}: folder ${dir} holds no .png files`);

  const stride = size * size * channels;
  const data = new Uint8Array(files.length * stride);
  for (let n = 0; n < files.length; n++) {
    const path = join(dir, files[n]!);
    let png: PNG;
    try {
      png = PNG.sync.read(await readFile(path));
    } catch (err) {
      throw new Error(`${where}: cannot decode ${path} as PNG: ${(err as Error).message}`);
    }
    let pixels = rgbaTo(png.data, png.width * png.height, channels);
    let h = png.height;
    let w = png.width;
    if (fit === 'crop') {
      const [cropped, side] = centreCrop(pixels, h, w, channels);
      pixels = cropped;
      h = w = side;
    }
    const resized = resizeImage(pixels, [h, w, channels], size, size, resize);
    const base = n * stride;
    for (let k = 0; k < stride; k++) data[base + k] = Math.min(255, Math.max(0, Math.round(resized[k]!)));
  }

  const shape = Object.freeze([size, size, channels] as const);
  const spec: ImageSpec = { kind: 'image', shape, dtype: 'uint8' };
  const name = `png-folder:${dir}`;
  const length = files.length;
  return {
    name,
    length,
    files: Object.freeze(files),
    modalities: Object.freeze({ image: spec }),
    get(i: number) {
      checkIndex(`${where}.get`, i, length);
      return { image: { kind: 'image', shape, data: data.subarray(i * stride, (i + 1) * stride) } };
    },
  };
}
