import { rangeFail as fail } from '@mtd/errors';
import { checkDataRange, checkSameShape, meanOf, readImages, type ImageInput, type PerImage } from './images.js';

export interface SsimOptions {
  /** Width of the pixel range, `max - min` (2 for [-1, 1]). Required, as the constants scale with it. */
  dataRange: number;
}

/** Window size and Gaussian width of Wang et al. 2004. */
export const SSIM_WINDOW = 11;
export const SSIM_SIGMA = 1.5;
const K1 = 0.01;
const K2 = 0.03;

/** The normalised 11-tap Gaussian (sigma 1.5); the 2-D window is its outer product. */
export function ssimWindow(): Float64Array {
  const half = (SSIM_WINDOW - 1) / 2;
  const g = new Float64Array(SSIM_WINDOW);
  let s = 0;
  for (let i = 0; i < SSIM_WINDOW; i++) {
    g[i] = Math.exp(-((i - half) ** 2) / (2 * SSIM_SIGMA * SSIM_SIGMA));
    s += g[i]!;
  }
  for (let i = 0; i < SSIM_WINDOW; i++) g[i]! /= s;
  return g;
}

/**
 * Structural similarity (Wang, Bovik, Sheikh & Simoncelli 2004) per image: local means, variances
 * and covariance under an 11x11 Gaussian window (sigma 1.5), `C1 = (0.01 R)^2`,
 * `C2 = (0.03 R)^2` with `R = dataRange`,
 *
 *   `SSIM = (2 mu_x mu_y + C1)(2 sigma_xy + C2) / ((mu_x^2 + mu_y^2 + C1)(sigma_x^2 + sigma_y^2 + C2))`,
 *
 * averaged over the window positions that fit inside the image (the paper's "valid" map; equal
 * to scikit-image's `structural_similarity(gaussian_weights=True, sigma=1.5,
 * use_sample_covariance=False)`, which crops the same border), computed per channel and averaged
 * over channels. Identical images give exactly 1. Images must be at least 11x11. Float64.
 */
export async function ssim(images: ImageInput, reference: ImageInput, options: SsimOptions): Promise<PerImage> {
  const where = 'ssim';
  const range = checkDataRange(where, options?.dataRange);
  const a = await readImages(where, 'images', images);
  const b = await readImages(where, 'reference', reference);
  checkSameShape(where, 'images', a, 'reference', b);
  const { n, h, w, c } = a;
  if (h < SSIM_WINDOW || w < SSIM_WINDOW) {
    fail(where, 'images', `at least ${SSIM_WINDOW}x${SSIM_WINDOW} pixels (the window size)`, `${h}x${w}`);
  }
  const g = ssimWindow();
  const c1 = (K1 * range) ** 2;
  const c2 = (K2 * range) ** 2;
  const oh = h - SSIM_WINDOW + 1;
  const ow = w - SSIM_WINDOW + 1;
  // Five maps filtered along rows first (h x ow), then along columns (oh x ow).
  const rowPass = Array.from({ length: 5 }, () => new Float64Array(h * ow));
  const perImage = new Float64Array(n);
  for (let img = 0; img < n; img++) {
    let channelSum = 0;
    for (let ch = 0; ch < c; ch++) {
      const at = (y: number, x: number): number => ((img * h + y) * w + x) * c + ch;
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < ow; x++) {
          let sx = 0;
          let sy = 0;
          let sxx = 0;
          let syy = 0;
          let sxy = 0;
          for (let k = 0; k < SSIM_WINDOW; k++) {
            const wk = g[k]!;
            const u = a.data[at(y, x + k)]!;
            const v = b.data[at(y, x + k)]!;
            sx += wk * u;
            sy += wk * v;
            sxx += wk * u * u;
            syy += wk * v * v;
            sxy += wk * u * v;
          }
          const o = y * ow + x;
          rowPass[0]![o] = sx;
          rowPass[1]![o] = sy;
          rowPass[2]![o] = sxx;
          rowPass[3]![o] = syy;
          rowPass[4]![o] = sxy;
        }
      }
      let mapSum = 0;
      for (let y = 0; y < oh; y++) {
        for (let x = 0; x < ow; x++) {
          const m = [0, 0, 0, 0, 0];
          for (let k = 0; k < SSIM_WINDOW; k++) {
            const wk = g[k]!;
            const o = (y + k) * ow + x;
            for (let q = 0; q < 5; q++) m[q]! += wk * rowPass[q]![o]!;
          }
          const [mx, my, exx, eyy, exy] = m as [number, number, number, number, number];
          const vx = exx - mx * mx;
          const vy = eyy - my * my;
          const cxy = exy - mx * my;
          mapSum += ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2));
        }
      }
      channelSum += mapSum / (oh * ow);
    }
    perImage[img] = channelSum / c;
  }
  return { mean: meanOf(perImage), perImage };
}
