import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PNG, type ColorType } from 'pngjs';
import { writeFileAtomic } from '@mtd/io';
import { afterAll, describe, expect, it } from 'vitest';
import type { ImageExample } from './dataset.js';
import { pngFolder } from './png-folder.js';

const root = mkdtempSync(join(tmpdir(), 'mtd-png-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Writes a PNG from RGBA pixels given as `[r, g, b, a]` per pixel, row-major. */
async function writePng(dir: string, name: string, width: number, height: number, rgba: number[][], colorType: ColorType = 6) {
  const png = new PNG({ width, height, colorType, inputColorType: 6, inputHasAlpha: true });
  png.data = Buffer.from(rgba.flat());
  await writeFileAtomic(join(dir, name), PNG.sync.write(png, { colorType, inputColorType: 6, inputHasAlpha: true }));
}

function folder(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir);
  return dir;
}

const pixel = (grey: number) => [grey, grey, grey, 255];

describe('pngFolder', () => {
  it("shrinks with 'area' to the exact 2x2 block means, rounded (RGB)", async () => {
    const dir = folder('area');
    // 4x4 image; R = 16 * y + 4 * x, G = 255 - R, B = 7.
    const px: number[][] = [];
    for (let y = 0; y < 4; y++) for (let x = 0; x < 4; x++) px.push([16 * y + 4 * x, 255 - (16 * y + 4 * x), 7, 255]);
    await writePng(dir, 'a.png', 4, 4, px);
    const ds = await pngFolder({ dir, size: 2, channels: 3 });
    expect(ds.length).toBe(1);
    expect(ds.modalities['image']).toEqual({ kind: 'image', shape: [2, 2, 3], dtype: 'uint8' });
    const img = ds.get(0)['image'] as ImageExample;
    // Block means of R: (0+4+16+20)/4 = 10, then 18, 42, 50; G = 255 - R.
    expect(Array.from(img.data)).toEqual([10, 245, 7, 18, 237, 7, 42, 213, 7, 50, 205, 7]);
  });

  it('converts to grey with Rec. 601 luma and composites alpha over black', async () => {
    const dir = folder('grey');
    await writePng(dir, 'red.png', 1, 1, [[255, 0, 0, 255]]);
    await writePng(dir, 'half.png', 1, 1, [[200, 200, 200, 128]]);
    const ds = await pngFolder({ dir, size: 1, channels: 1 });
    expect(ds.files).toEqual(['half.png', 'red.png']);
    expect((ds.get(0)['image'] as ImageExample).data[0]).toBe(Math.round((200 * 128) / 255));
    expect((ds.get(1)['image'] as ImageExample).data[0]).toBe(Math.round(0.299 * 255));
  });

  it('reads grey-type PNGs, enlarges with bilinear, and sorts files by name ignoring non-PNGs', async () => {
    const dir = folder('mixed');
    await writePng(dir, 'b.png', 2, 1, [pixel(0), pixel(80)], 0);
    await writePng(dir, 'A.PNG', 1, 1, [pixel(9)], 0);
    await writeFileAtomic(join(dir, 'notes.txt'), 'not an image');
    mkdirSync(join(dir, 'sub.png'));
    const ds = await pngFolder({ dir, size: 4, channels: 1, resize: 'bilinear', fit: 'stretch' });
    expect(ds.files).toEqual(['A.PNG', 'b.png']);
    expect(Array.from((ds.get(0)['image'] as ImageExample).data)).toEqual(new Array(16).fill(9));
    // Each row of b: samples at x = 0, 0.25, 0.75, 1 of [0, 80] -> 0, 20, 60, 80.
    expect(Array.from((ds.get(1)['image'] as ImageExample).data.subarray(0, 4))).toEqual([0, 20, 60, 80]);
  });

  it("'crop' keeps the centred square, 'stretch' keeps the whole image", async () => {
    const dir = folder('wide');
    // 6x2: columns 0-1 black, 2-3 white, 4-5 black.
    const px: number[][] = [];
    for (let y = 0; y < 2; y++) for (let x = 0; x < 6; x++) px.push(pixel(x >= 2 && x < 4 ? 255 : 0));
    await writePng(dir, 'w.png', 6, 2, px);
    const cropped = await pngFolder({ dir, size: 2, channels: 1 });
    expect(Array.from((cropped.get(0)['image'] as ImageExample).data)).toEqual([255, 255, 255, 255]);
    const stretched = await pngFolder({ dir, size: 2, channels: 1, fit: 'stretch' });
    // Each output column averages 3 input columns: (0 + 0 + 255) / 3 = 85.
    expect(Array.from((stretched.get(0)['image'] as ImageExample).data)).toEqual([85, 85, 85, 85]);
  });

  it('names the folder when it is missing or holds no PNG, and the file when one is corrupt', async () => {
    const missing = join(root, 'nope');
    await expect(pngFolder({ dir: missing, size: 8, channels: 1 })).rejects.toThrow(
      new RegExp(`pngFolder: folder ${missing.replace(/[/\\]/g, '.')} does not exist`),
    );
    const empty = folder('empty');
    await writeFileAtomic(join(empty, 'readme.txt'), 'x');
    await expect(pngFolder({ dir: empty, size: 8, channels: 1 })).rejects.toThrow(/pngFolder: folder .*empty holds no \.png files/);
    const broken = folder('broken');
    await writeFileAtomic(join(broken, 'x.png'), 'definitely not a png');
    await expect(pngFolder({ dir: broken, size: 8, channels: 1 })).rejects.toThrow(/cannot decode .*broken.x\.png as PNG/);
  });

  it('rejects bad options and out-of-range indices', async () => {
    const dir = join(root, 'area');
    await expect(pngFolder({ dir, size: 0, channels: 1 })).rejects.toThrow(/pngFolder: size must be an integer >= 1, got 0/);
    await expect(pngFolder({ dir, size: 4, channels: 2 as 1 })).rejects.toThrow(/channels must be 1 or 3, got 2/);
    await expect(pngFolder({ dir, size: 4, channels: 1, fit: 'pad' as 'crop' })).rejects.toThrow(/fit must be/);
    const ds = await pngFolder({ dir, size: 4, channels: 1 });
    expect(() => ds.get(1)).toThrow(/pngFolder\.get: i must be an integer in 0\.\.0, got 1/);
  });
});
