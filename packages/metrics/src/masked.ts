import { rangeFail as fail } from '@mtd/errors';
import { checkDataRange, checkSameShape, meanOf, readImages, type ImageInput } from './images.js';

export interface MaskedDistanceOptions {
  /** Width of the pixel range, `max - min` (2 for [-1, 1]), for the PSNR. */
  dataRange: number;
  /**
   * Which pixels are compared: `'masked'` (mask = 0, the missing pixels a restoration fills in;
   * the default) or `'kept'` (mask = 1, which constrained restoration must leave unchanged).
   */
  region?: 'masked' | 'kept';
}

export interface MaskedDistance {
  /** Per image: mean squared error over the region's pixel values (all channels). NaN if the region is empty. */
  readonly mse: Float64Array;
  /** Per image: mean absolute error over the region. */
  readonly l1: Float64Array;
  /** Per image: `10 log10(R^2 / mse)` over the region, in dB. */
  readonly psnr: Float64Array;
  /** Per image: largest absolute difference in the region (0 when nothing there changed). */
  readonly maxAbs: Float64Array;
  /** Per image: number of pixel values (pixels x channels) in the region. */
  readonly count: Float64Array;
  /** Means over the images whose region is not empty. */
  readonly meanMse: number;
  readonly meanL1: number;
  readonly meanPsnr: number;
  /** Largest `maxAbs` over all images. */
  readonly maxAbsOverall: number;
  /** Images whose region is not empty (those the means are over). */
  readonly images: number;
}

/**
 * Distances between `images` and `reference` restricted to a region of a binary mask, for the
 * constrained-restoration experiment (EXPERIMENTS.md E2): the mask has 1 where a pixel was kept
 * and 0 where it was masked out (the `@mtd/datasets` Mask-k convention).
 *
 * The mask is `[N, H, W]`, `[N, H, W, 1]` (shared by all channels) or the images' full
 * `[N, H, W, C]` shape. Values must be exactly 0 or 1. Float64.
 */
export async function maskedDistance(
  images: ImageInput,
  reference: ImageInput,
  mask: ImageInput,
  options: MaskedDistanceOptions,
): Promise<MaskedDistance> {
  const where = 'maskedDistance';
  const range = checkDataRange(where, options?.dataRange);
  const region = options.region ?? 'masked';
  if (region !== 'masked' && region !== 'kept') fail(where, 'options.region', "'masked' or 'kept'", region);
  const a = await readImages(where, 'images', images);
  const b = await readImages(where, 'reference', reference);
  checkSameShape(where, 'images', a, 'reference', b);
  const m = await readImages(where, 'mask', mask);
  const { n, h, w, c } = a;
  const perChannel = m.c === c && m.n === n && m.h === h && m.w === w;
  const shared = m.c === 1 && m.n === n && m.h === h && m.w === w;
  // readImages takes a rank-3 shape as [H, W, C]; a [N, H, W] mask is recognised by its size.
  const flatShared = !perChannel && !shared && m.data.length === n * h * w;
  if (!perChannel && !shared && !flatShared) {
    throw new RangeError(
      `${where}: mask must be [N, H, W], [N, H, W, 1] or [N, H, W, C] for images [${n}, ${h}, ${w}, ${c}], got ${m.data.length} values shaped [${m.n}, ${m.h}, ${m.w}, ${m.c}] (NHWC)`,
    );
  }
  const want = region === 'masked' ? 0 : 1;
  const mse = new Float64Array(n);
  const l1 = new Float64Array(n);
  const psnr = new Float64Array(n);
  const maxAbs = new Float64Array(n);
  const count = new Float64Array(n);
  const size = h * w * c;
  for (let i = 0; i < n; i++) {
    let s2 = 0;
    let s1 = 0;
    let mx = 0;
    let k = 0;
    for (let j = 0; j < size; j++) {
      const idx = i * size + j;
      const mIdx = perChannel ? idx : (idx - (idx % c)) / c;
      const mv = m.data[mIdx]!;
      if (mv !== 0 && mv !== 1) fail(where, `mask (flat index ${mIdx})`, '0 (masked) or 1 (kept)', mv);
      if (mv !== want) continue;
      const d = a.data[idx]! - b.data[idx]!;
      s2 += d * d;
      s1 += Math.abs(d);
      mx = Math.max(mx, Math.abs(d));
      k++;
    }
    count[i] = k;
    mse[i] = k > 0 ? s2 / k : Number.NaN;
    l1[i] = k > 0 ? s1 / k : Number.NaN;
    psnr[i] = k > 0 ? 10 * Math.log10((range * range) / mse[i]!) : Number.NaN;
    maxAbs[i] = k > 0 ? mx : Number.NaN;
  }
  let nonEmpty = 0;
  let maxAbsOverall = 0;
  for (let i = 0; i < n; i++) {
    if (count[i]! > 0) {
      nonEmpty++;
      maxAbsOverall = Math.max(maxAbsOverall, maxAbs[i]!);
    }
  }
  return {
    mse,
    l1,
    psnr,
    maxAbs,
    count,
    meanMse: meanOf(mse),
    meanL1: meanOf(l1),
    meanPsnr: meanOf(psnr),
    maxAbsOverall: nonEmpty > 0 ? maxAbsOverall : Number.NaN,
    images: nonEmpty,
  };
}
