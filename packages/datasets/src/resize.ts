/**
 * Plain-array image resampling (no tensors: datasets stay typed arrays until a batch is built).
 *
 * Both methods are separable: each output row/column is a weighted sum of input rows/columns, and
 * the weights come from one of two kernels:
 * - `'area'` (the default): each output pixel is the average of the input area it covers, weighted
 *   by exact fractional coverage (OpenCV's INTER_AREA for shrinking, TF's `area`). Shrinking by an
 *   integer factor is the plain block mean, so it does not alias. Enlarging with it repeats pixels
 *   (a box filter), with coverage-weighted blends at the seams.
 * - `'bilinear'`: linear interpolation between the two nearest input samples, with half-pixel
 *   centres (`align_corners = false`, as PIL, OpenCV and `tf.image.resizeBilinear(...,
 *   halfPixelCenters = true)`), edges clamped. Smooth when enlarging; aliases when shrinking by
 *   more than 2x, which is why it is not the default.
 */
export type ResizeMethod = 'area' | 'bilinear';

/** Per output index: the contributing input indices and their weights (summing to 1). */
interface AxisWeights {
  readonly starts: Int32Array;
  readonly counts: Int32Array;
  readonly index: Int32Array;
  readonly weight: Float64Array;
}

function axisWeights(inSize: number, outSize: number, method: ResizeMethod): AxisWeights {
  const lists: Array<Array<[number, number]>> = [];
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const list: Array<[number, number]> = [];
    if (method === 'area') {
      const lo = o * scale;
      const hi = (o + 1) * scale;
      for (let i = Math.floor(lo); i < Math.min(inSize, Math.ceil(hi)); i++) {
        const overlap = Math.min(hi, i + 1) - Math.max(lo, i);
        if (overlap > 0) list.push([i, overlap / scale]);
      }
    } else {
      const x = Math.min(Math.max((o + 0.5) * scale - 0.5, 0), inSize - 1);
      const i0 = Math.floor(x);
      const frac = x - i0;
      list.push([i0, 1 - frac]);
      if (frac > 0) list.push([i0 + 1, frac]);
    }
    lists.push(list);
  }
  const total = lists.reduce((a, l) => a + l.length, 0);
  const starts = new Int32Array(outSize);
  const counts = new Int32Array(outSize);
  const index = new Int32Array(total);
  const weight = new Float64Array(total);
  let k = 0;
  lists.forEach((list, o) => {
    starts[o] = k;
    counts[o] = list.length;
    for (const [i, w] of list) {
      index[k] = i;
      weight[k++] = w;
    }
  });
  return { starts, counts, index, weight };
}

function checkDim(where: string, name: string, v: number): void {
  if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${name} must be an integer >= 1, got ${String(v)}`);
}

/**
 * Resizes an `H x W x C` channels-last image to `outH x outW x C` (float64 arithmetic, float32 out,
 * same units as the input).
 */
export function resizeImage(
  src: ArrayLike<number>,
  shape: readonly [number, number, number],
  outH: number,
  outW: number,
  method: ResizeMethod = 'area',
): Float32Array {
  const where = 'resizeImage';
  const [h, w, c] = shape;
  checkDim(where, 'height', h);
  checkDim(where, 'width', w);
  checkDim(where, 'channels', c);
  checkDim(where, 'outH', outH);
  checkDim(where, 'outW', outW);
  if (method !== 'area' && method !== 'bilinear') {
    throw new RangeError(`${where}: method must be 'area' or 'bilinear', got ${String(method)}`);
  }
  if (src.length !== h * w * c) {
    throw new RangeError(`${where}: src must have ${h}*${w}*${c} = ${h * w * c} values, got ${src.length}`);
  }
  const xs = axisWeights(w, outW, method);
  const ys = axisWeights(h, outH, method);
  // Horizontal pass first: h x outW x c.
  const tmp = new Float64Array(h * outW * c);
  for (let y = 0; y < h; y++) {
    for (let ox = 0; ox < outW; ox++) {
      const s = xs.starts[ox]!;
      const n = xs.counts[ox]!;
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = s; k < s + n; k++) acc += xs.weight[k]! * src[(y * w + xs.index[k]!) * c + ch]!;
        tmp[(y * outW + ox) * c + ch] = acc;
      }
    }
  }
  const out = new Float32Array(outH * outW * c);
  for (let oy = 0; oy < outH; oy++) {
    const s = ys.starts[oy]!;
    const n = ys.counts[oy]!;
    for (let ox = 0; ox < outW; ox++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let k = s; k < s + n; k++) acc += ys.weight[k]! * tmp[(ys.index[k]! * outW + ox) * c + ch]!;
        out[(oy * outW + ox) * c + ch] = acc;
      }
    }
  }
  return out;
}

/** Rec. 601 luma weights (PIL's `convert('L')`): grey = 0.299 R + 0.587 G + 0.114 B. */
export const LUMA_WEIGHTS: readonly [number, number, number] = Object.freeze([0.299, 0.587, 0.114]) as readonly [
  number,
  number,
  number,
];

/**
 * Converts 8-bit RGBA pixels (pngjs's decoded layout) to 1 (grey) or 3 (RGB) channels in 0..255,
 * compositing alpha over black so transparent areas match the black padding of the batcher.
 */
export function rgbaTo(rgba: ArrayLike<number>, pixels: number, channels: 1 | 3): Float64Array {
  const where = 'rgbaTo';
  if (channels !== 1 && channels !== 3) throw new RangeError(`${where}: channels must be 1 or 3, got ${String(channels)}`);
  if (rgba.length !== pixels * 4) {
    throw new RangeError(`${where}: rgba must have 4 * ${pixels} values, got ${rgba.length}`);
  }
  const out = new Float64Array(pixels * channels);
  const [wr, wg, wb] = LUMA_WEIGHTS;
  for (let p = 0; p < pixels; p++) {
    const a = rgba[4 * p + 3]! / 255;
    const r = rgba[4 * p]! * a;
    const g = rgba[4 * p + 1]! * a;
    const b = rgba[4 * p + 2]! * a;
    if (channels === 1) out[p] = wr * r + wg * g + wb * b;
    else {
      out[3 * p] = r;
      out[3 * p + 1] = g;
      out[3 * p + 2] = b;
    }
  }
  return out;
}
