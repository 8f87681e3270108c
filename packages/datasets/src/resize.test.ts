import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LUMA_WEIGHTS, resizeImage, rgbaTo } from './resize.js';

/**
 * Area reference by supersampling: repeat every input pixel `outSize` times along each axis, then
 * average blocks of `inSize` samples; each output then averages exactly the input area it covers.
 */
function areaReference(src: number[], h: number, w: number, c: number, oh: number, ow: number): number[] {
  const out: number[] = [];
  for (let oy = 0; oy < oh; oy++) {
    for (let ox = 0; ox < ow; ox++) {
      for (let ch = 0; ch < c; ch++) {
        let acc = 0;
        for (let sy = oy * h; sy < (oy + 1) * h; sy++) {
          for (let sx = ox * w; sx < (ox + 1) * w; sx++) {
            acc += src[(Math.floor(sy / oh) * w + Math.floor(sx / ow)) * c + ch]!;
          }
        }
        out.push(acc / (h * w));
      }
    }
  }
  return out;
}

/** Bilinear reference in 2D (not separable), half-pixel centres, clamped. */
function bilinearReference(src: number[], h: number, w: number, c: number, oh: number, ow: number): number[] {
  const out: number[] = [];
  const at = (y: number, x: number, ch: number) => src[(y * w + x) * c + ch]!;
  for (let oy = 0; oy < oh; oy++) {
    const y = Math.min(Math.max((oy + 0.5) * (h / oh) - 0.5, 0), h - 1);
    const y0 = Math.floor(y);
    const y1 = Math.min(y0 + 1, h - 1);
    const fy = y - y0;
    for (let ox = 0; ox < ow; ox++) {
      const x = Math.min(Math.max((ox + 0.5) * (w / ow) - 0.5, 0), w - 1);
      const x0 = Math.floor(x);
      const x1 = Math.min(x0 + 1, w - 1);
      const fx = x - x0;
      for (let ch = 0; ch < c; ch++) {
        out.push(
          (1 - fy) * ((1 - fx) * at(y0, x0, ch) + fx * at(y0, x1, ch)) +
            fy * ((1 - fx) * at(y1, x0, ch) + fx * at(y1, x1, ch)),
        );
      }
    }
  }
  return out;
}

function expectNear(actual: ArrayLike<number>, expected: number[], atol: number): void {
  expect(actual.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!));
  expect(worst).toBeLessThanOrEqual(atol);
}

describe('resizeImage', () => {
  it("'area' shrinking by 2 is the 2x2 block mean (hand-computed)", () => {
    // 4x4 grey: rows 0..3 of values 0..15.
    const src = Array.from({ length: 16 }, (_, i) => i);
    const out = resizeImage(src, [4, 4, 1], 2, 2, 'area');
    expect(Array.from(out)).toEqual([2.5, 4.5, 10.5, 12.5]);
  });

  it("'area' 3 -> 2 weights the middle pixel by half (hand-computed)", () => {
    // One row [0, 3, 6] -> [(0 + 3/2) / 1.5, (3/2 + 6) / 1.5] = [1, 5].
    const out = resizeImage([0, 3, 6], [1, 3, 1], 1, 2, 'area');
    expectNear(out, [1, 5], 1e-6);
  });

  it("'bilinear' enlarging 2 -> 4 matches half-pixel-centre interpolation (hand-computed)", () => {
    // Sample positions -0.25, 0.25, 0.75, 1.25 -> clamped 0, 0.25, 0.75, 1.
    const out = resizeImage([0, 8], [1, 2, 1], 1, 4, 'bilinear');
    expect(Array.from(out)).toEqual([0, 2, 6, 8]);
  });

  it('matches float64 references on random sizes and data (property, 150 runs)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 3 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        (h, w, c, oh, ow, seed) => {
          let s = seed;
          const src = Array.from({ length: h * w * c }, () => {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            return s % 256;
          });
          expectNear(resizeImage(src, [h, w, c], oh, ow, 'area'), areaReference(src, h, w, c, oh, ow), 1e-4);
          expectNear(resizeImage(src, [h, w, c], oh, ow, 'bilinear'), bilinearReference(src, h, w, c, oh, ow), 1e-4);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('is the identity at the same size, and keeps a constant image constant', () => {
    const src = Array.from({ length: 5 * 7 * 3 }, (_, i) => (i * 37) % 256);
    for (const m of ['area', 'bilinear'] as const) {
      expect(Array.from(resizeImage(src, [5, 7, 3], 5, 7, m))).toEqual(src);
      const flat = resizeImage(new Array(5 * 7).fill(200), [5, 7, 1], 3, 11, m);
      for (const v of flat) expect(v).toBeCloseTo(200, 4);
    }
  });

  it('rejects bad arguments, naming them', () => {
    expect(() => resizeImage([1, 2], [1, 3, 1], 2, 2)).toThrow(/resizeImage: src must have 1\*3\*1 = 3 values, got 2/);
    expect(() => resizeImage([1], [1, 1, 1], 0, 2)).toThrow(/outH must be an integer >= 1, got 0/);
    expect(() => resizeImage([1], [1, 1, 1], 1, 1, 'cubic' as 'area')).toThrow(
      /method must be 'area' or 'bilinear', got cubic/,
    );
  });
});

describe('rgbaTo', () => {
  it('computes Rec. 601 luma and composites alpha over black', () => {
    const rgba = [255, 0, 0, 255, 10, 20, 30, 255, 200, 100, 50, 0, 100, 200, 50, 51];
    const grey = rgbaTo(rgba, 4, 1);
    const [wr, wg, wb] = LUMA_WEIGHTS;
    expectNear(grey, [wr * 255, wr * 10 + wg * 20 + wb * 30, 0, (wr * 100 + wg * 200 + wb * 50) * 0.2], 1e-9);
    const rgb = rgbaTo(rgba, 4, 3);
    expectNear(rgb, [255, 0, 0, 10, 20, 30, 0, 0, 0, 20, 40, 10], 1e-9);
  });

  it('keeps a grey pixel grey (the luma weights sum to 1)', () => {
    expect(rgbaTo([77, 77, 77, 255], 1, 1)[0]).toBeCloseTo(77, 12);
  });

  it('rejects bad arguments', () => {
    expect(() => rgbaTo([1, 2, 3], 1, 1)).toThrow(/rgbaTo: rgba must have 4 \* 1 values, got 3/);
    expect(() => rgbaTo([1, 2, 3, 4], 1, 2 as 1)).toThrow(/channels must be 1 or 3, got 2/);
  });
});
