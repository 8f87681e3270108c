import fc from 'fast-check';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type SafeTensor } from './safetensors.js';

/** Builds a file by hand, byte by byte, the way the reference writer lays it out. */
function handMade(headerJson: string, data: number[]): Uint8Array {
  const h = new TextEncoder().encode(headerJson);
  const out = new Uint8Array(8 + h.length + data.length);
  out[0] = h.length & 0xff;
  out[1] = (h.length >> 8) & 0xff;
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('safetensors', () => {
  it('decodes a hand-made file (F32 [2] = 1.0, -2.0 and I32 [1] = 7, with metadata)', () => {
    const header =
      '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]}}';
    // 1.0f = 00 00 80 3f, -2.0f = 00 00 00 c0, 7 = 07 00 00 00 (little-endian)
    const file = decodeSafetensors(handMade(header, [0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0, 7, 0, 0, 0]));
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(Array.from(file.tensors.a!.data as Float32Array)).toEqual([1, -2]);
    expect(file.tensors.a!.shape).toEqual([2]);
    expect(Array.from(file.tensors.b!.data as Int32Array)).toEqual([7]);
  });

  it('encodes the layout the format specifies: u64 LE header length, 8-aligned JSON, packed data', () => {
    const bytes = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: new Float32Array([1]) } }, { k: 'v' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(n % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n)));
    expect(header).toEqual({ __metadata__: { k: 'v' }, w: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } });
    expect(Array.from(bytes.subarray(8 + n))).toEqual([0, 0, 0x80, 0x3f]);
  });

  it('round-trips bit-exactly (NaN payloads, -0, subnormals, every dtype)', () => {
    const tensorArb = fc.oneof(
      fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 40 }).map(
        (w): SafeTensor => ({ dtype: 'F32', shape: [w.length], data: new Float32Array(new Uint32Array(w).buffer) }),
      ),
      fc.array(fc.double(), { maxLength: 20 }).map((v): SafeTensor => ({ dtype: 'F64', shape: [v.length], data: new Float64Array(v) })),
      fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 20 }).map(
        (v): SafeTensor => ({ dtype: 'I32', shape: [v.length, 1], data: new Int32Array(v) }),
      ),
      fc.array(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), { maxLength: 10 }).map(
        (v): SafeTensor => ({ dtype: 'I64', shape: [v.length], data: new BigInt64Array(v) }),
      ),
      fc.uint8Array({ maxLength: 30 }).map((v): SafeTensor => ({ dtype: 'U8', shape: [v.length], data: v })),
    );
    fc.assert(
      fc.property(fc.dictionary(fc.string({ minLength: 1 }).filter((s) => s !== '__metadata__'), tensorArb, { maxKeys: 5 }), (tensors) => {
        const bytes = encodeSafetensors(tensors);
        const back = decodeSafetensors(bytes);
        expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(tensors).sort());
        for (const [name, t] of Object.entries(tensors)) {
          const b = back.tensors[name]!;
          expect(b.dtype).toBe(t.dtype);
          expect(b.shape).toEqual(t.shape);
          const raw = (x: SafeTensor['data']) => Array.from(new Uint8Array(x.buffer, x.byteOffset, x.byteLength));
          expect(raw(b.data)).toEqual(raw(t.data));
        }
        // Deterministic: equal inputs give equal bytes.
        expect(encodeSafetensors(back.tensors)).toEqual(bytes);
      }),
      { numRuns: 100 },
    );
  });

  it('keeps a tensor named "__proto__" (found by the property above)', () => {
    const tensors = Object.create(null) as Record<string, SafeTensor>;
    tensors['__proto__'] = { dtype: 'U8', shape: [1], data: new Uint8Array([7]) };
    const back = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(back.tensors)).toEqual(['__proto__']);
    expect(Array.from(back.tensors['__proto__']!.data as Uint8Array)).toEqual([7]);
  });

  it('decodes an empty tensor that shares its offset with a tensor the header lists first (found by the property above)', () => {
    // Names sort " " < "0", so " " gets [0, 0] and "0" gets [0, 8]; JSON lists the integer-like "0" first.
    const tensors: Record<string, SafeTensor> = {
      '0': { dtype: 'F64', shape: [1], data: Float64Array.from([0]) },
      ' ': { dtype: 'F64', shape: [0], data: Float64Array.from([]) },
    };
    const back = decodeSafetensors(encodeSafetensors(tensors));
    expect(Object.keys(back.tensors).sort()).toEqual([' ', '0']);
    expect(back.tensors[' ']!.shape).toEqual([0]);
    expect(Array.from(back.tensors['0']!.data as Float64Array)).toEqual([0]);
  });

  it('rejects corrupt or inconsistent files with a message saying what is wrong', () => {
    const good = encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float32Array(2) } });
    expect(() => decodeSafetensors(good.subarray(0, 5))).toThrow(/shorter than the 8-byte header length/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 1))).toThrow(/past the data's 7 bytes \(truncated file\?\)/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => decodeSafetensors(extra)).toThrow(/4 bytes of data are not covered/);
    expect(() => decodeSafetensors(handMade('{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}', [0, 0]))).toThrow(/unsupported dtype F16/);
    expect(() => decodeSafetensors(handMade('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', [0, 0, 0, 0]))).toThrow(
      /spans 4 bytes but F32 \[2\] needs 8/,
    );
    expect(() =>
      decodeSafetensors(handMade('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [0])),
    ).toThrow(/gap or overlap/);
    expect(() => decodeSafetensors(handMade('{not json', []))).toThrow(/header is not valid UTF-8 JSON/);
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(
      /tensor "a": data has 2 elements but shape \[3\] needs 3/,
    );
    expect(() => encodeSafetensors({ a: { dtype: 'F32', shape: [2], data: new Float64Array(2) } as never })).toThrow(/data must be a Float32Array/);
  });

  it('saves atomically and loads back; a missing file names its path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'mtd-io-'));
    dirs.push(dir);
    const path = join(dir, 'sub', 'model.safetensors');
    const tensors = { x: { dtype: 'F32' as const, shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) } };
    await saveSafetensors(path, tensors, { step: '3' });
    const back = await loadSafetensors(path);
    expect(Array.from(back.tensors.x!.data as Float32Array)).toEqual([1, 2, 3, 4]);
    expect(back.metadata.step).toBe('3');
    expect((await readdir(join(dir, 'sub'))).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    await expect(loadSafetensors(join(dir, 'nope.safetensors'))).rejects.toThrow(/cannot read .*nope.safetensors/);
  });
});
