import { checkDataRange, checkSameShape, meanOf, readImages, type ImageInput, type PerImage } from './images.js';

export interface PsnrOptions {
  /** Width of the pixel range, `max - min` (2 for [-1, 1]). Required: guessing it silently shifts every value. */
  dataRange: number;
}

export interface Psnr extends PerImage {
  /** Mean squared error per image, over all pixels and channels. */
  readonly mse: Float64Array;
}

/**
 * Peak signal-to-noise ratio per image, `10 log10(R^2 / MSE)` in dB with `R = dataRange`, and its
 * mean over images. Identical images give `Infinity` (and so does the mean if any image is
 * identical to its reference, as in scikit-image). Float64.
 */
export async function psnr(images: ImageInput, reference: ImageInput, options: PsnrOptions): Promise<Psnr> {
  const where = 'psnr';
  const range = checkDataRange(where, options?.dataRange);
  const a = await readImages(where, 'images', images);
  const b = await readImages(where, 'reference', reference);
  checkSameShape(where, 'images', a, 'reference', b);
  const size = a.h * a.w * a.c;
  const mse = new Float64Array(a.n);
  const perImage = new Float64Array(a.n);
  for (let i = 0; i < a.n; i++) {
    let s = 0;
    for (let j = i * size; j < (i + 1) * size; j++) s += (a.data[j]! - b.data[j]!) ** 2;
    mse[i] = s / size;
    perImage[i] = 10 * Math.log10((range * range) / mse[i]!);
  }
  return { mean: meanOf(perImage), perImage, mse };
}
