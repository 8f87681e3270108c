import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { writeFileAtomic } from '@mtd/io';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeIdx, readIdx, readIdxFile, type IdxDtype } from './idx.js';

describe('readIdx / encodeIdx', () => {
  it('reads the header fields of a hand-written image file byte for byte', () => {
    // magic 0x00000803, dims 2 x 2 x 3, then 12 pixels.
    const bytes = Uint8Array.from([
      0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3, 0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255,
    ]);
    const idx = readIdx(bytes, { expectMagic: 2051 });
    expect(idx.magic).toBe(2051);
    expect(idx.dtype).toBe('uint8');
    expect(idx.dims).toEqual([2, 2, 3]);
    expect(Array.from(idx.data)).toEqual([0, 1, 2, 3, 4, 5, 250, 251, 252, 253, 254, 255]);
  });

  it('decodes big-endian multi-byte types (hand-written bytes)', () => {
    // int16 [2]: 0x0102 = 258 and 0xfffe = -2.
    const i16 = readIdx(Uint8Array.from([0, 0, 0x0b, 1, 0, 0, 0, 2, 0x01, 0x02, 0xff, 0xfe]));
    expect(i16.dtype).toBe('int16');
    expect(Array.from(i16.data)).toEqual([258, -2]);
    // float32 [1]: 0x3fc00000 = 1.5.
    const f32 = readIdx(Uint8Array.from([0, 0, 0x0d, 1, 0, 0, 0, 1, 0x3f, 0xc0, 0, 0]));
    expect(Array.from(f32.data)).toEqual([1.5]);
  });

  const cases: Array<[IdxDtype, number[]]> = [
    ['uint8', [0, 7, 255, 128]],
    ['int8', [-128, -1, 0, 127]],
    ['int16', [-32768, -2, 258, 32767]],
    ['int32', [-2147483648, -5, 65536, 2147483647]],
    ['float32', [-1.5, 0, 3.25, 1e-3]],
    ['float64', [-1.5, Math.PI, 1e-300, 7]],
  ];
  for (const [dtype, values] of cases) {
    it(`round-trips ${dtype}`, () => {
      const back = readIdx(encodeIdx(dtype, [2, 2], values));
      expect(back.dtype).toBe(dtype);
      expect(back.dims).toEqual([2, 2]);
      const expected = dtype === 'float32' ? values.map(Math.fround) : values;
      expect(Array.from(back.data)).toEqual(expected);
    });
  }

  it('rejects a bad magic number, naming the source', () => {
    const bytes = encodeIdx('uint8', [3], [1, 2, 3]);
    bytes[0] = 1;
    expect(() => readIdx(bytes, { source: 'x.idx' })).toThrow(/readIdx \(x\.idx\): bad IDX magic number 16779265/);
    const unknownType = encodeIdx('uint8', [3], [1, 2, 3]);
    unknownType[2] = 0x0a;
    expect(() => readIdx(unknownType)).toThrow(/bad IDX magic number/);
  });

  it('rejects the wrong kind of file when a magic is expected', () => {
    const labels = encodeIdx('uint8', [3], [1, 2, 3]);
    expect(() => readIdx(labels, { expectMagic: 2051 })).toThrow(
      /magic number must be 2051 \(0x00000803\), got 2049 \(0x00000801\)/,
    );
  });

  it('rejects truncated headers and data, and trailing bytes', () => {
    expect(() => readIdx(Uint8Array.from([0, 0]))).toThrow(/at least the 4-byte IDX magic number, got 2 bytes/);
    const full = encodeIdx('uint8', [2, 3], [1, 2, 3, 4, 5, 6]);
    expect(() => readIdx(full.subarray(0, 9))).toThrow(/truncated header: 2 dims need 12 header bytes, got 9/);
    expect(() => readIdx(full.subarray(0, full.length - 1))).toThrow(
      /truncated data: dims \[2, 3\] of uint8 need 6 bytes after the 12-byte header, got 5/,
    );
    const longer = new Uint8Array(full.length + 2);
    longer.set(full);
    expect(() => readIdx(longer)).toThrow(/2 unexpected trailing bytes after dims \[2, 3\]/);
    const int32 = encodeIdx('int32', [2], [1, 2]);
    expect(() => readIdx(int32.subarray(0, int32.length - 3))).toThrow(/need 8 bytes .* got 5/);
  });

  it('rejects bad arguments to encodeIdx', () => {
    expect(() => encodeIdx('uint16' as IdxDtype, [1], [1])).toThrow(/encodeIdx: dtype must be one of/);
    expect(() => encodeIdx('uint8', [2], [1])).toThrow(/data must have 2 values for dims \[2\], got 1/);
    expect(() => encodeIdx('uint8', [], [])).toThrow(/dims must be/);
    expect(() => readIdx([1, 2, 3] as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('readIdxFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtd-idx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads gzip-compressed and plain files alike', async () => {
    const bytes = encodeIdx('uint8', [4], [9, 8, 7, 6]);
    await writeFileAtomic(join(dir, 'a.gz'), gzipSync(bytes));
    await writeFileAtomic(join(dir, 'a.idx'), bytes);
    for (const name of ['a.gz', 'a.idx']) {
      const idx = await readIdxFile(join(dir, name), { expectMagic: 2049 });
      expect(Array.from(idx.data)).toEqual([9, 8, 7, 6]);
    }
  });

  it('names the file when its gzip stream or its content is bad', async () => {
    const gz = gzipSync(encodeIdx('uint8', [400], new Array(400).fill(3)));
    await writeFileAtomic(join(dir, 'cut.gz'), gz.subarray(0, gz.length - 10));
    await expect(readIdxFile(join(dir, 'cut.gz'))).rejects.toThrow(/readIdxFile: .*cut\.gz is not a valid gzip file/);
    await writeFileAtomic(join(dir, 'bad.gz'), gzipSync(Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 5, 1])));
    await expect(readIdxFile(join(dir, 'bad.gz'))).rejects.toThrow(/readIdx \(.*bad\.gz\): truncated data/);
  });
});
