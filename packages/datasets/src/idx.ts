import { readFile } from 'node:fs/promises';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';

/**
 * The IDX format of LeCun's MNIST files (also used by Fashion-MNIST): a 4-byte magic
 * `0x00 0x00 <type> <ndims>`, then `ndims` big-endian uint32 dimension sizes, then the data,
 * big-endian, row-major. The images magic 2051 is `0x00000803` (ubyte, 3 dims), the labels magic
 * 2049 is `0x00000801` (ubyte, 1 dim).
 */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

export interface IdxArray {
  /** The 32-bit magic number, e.g. 2051 for an image file. */
  readonly magic: number;
  readonly dtype: IdxDtype;
  readonly dims: readonly number[];
  /** Row-major values in native byte order. A uint8 array is a view into the input bytes. */
  readonly data: IdxData;
}

export interface ReadIdxOptions {
  /** Reject any other magic number (2051 for images, 2049 for labels). */
  expectMagic?: number;
  /** Names the bytes' origin (a file path) in error messages. */
  source?: string;
}

/** The IDX magic number of an unsigned-byte array with 3 dims: an image file. */
export const IDX_IMAGES_MAGIC = 2051;
/** The IDX magic number of an unsigned-byte array with 1 dim: a label file. */
export const IDX_LABELS_MAGIC = 2049;

const TYPE_CODES: ReadonlyArray<readonly [number, IdxDtype, number]> = [
  [0x08, 'uint8', 1],
  [0x09, 'int8', 1],
  [0x0b, 'int16', 2],
  [0x0c, 'int32', 4],
  [0x0d, 'float32', 4],
  [0x0e, 'float64', 8],
];

function hex(n: number): string {
  return `0x${n.toString(16).padStart(8, '0')}`;
}

/** Parses one IDX array from its (already decompressed) bytes, checking the header against the size. */
export function readIdx(bytes: Uint8Array, options: ReadIdxOptions = {}): IdxArray {
  const from = options.source === undefined ? '' : ` (${options.source})`;
  const where = `readIdx${from}`;
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError(`readIdx: bytes must be a Uint8Array, got ${Object.prototype.toString.call(bytes)}`);
  }
  if (bytes.length < 4) {
    throw new RangeError(`${where}: bytes must hold at least the 4-byte IDX magic number, got ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  const typeCode = bytes[2]!;
  const ndims = bytes[3]!;
  const type = TYPE_CODES.find(([code]) => code === typeCode);
  if (bytes[0] !== 0 || bytes[1] !== 0 || type === undefined || ndims === 0) {
    throw new RangeError(
      `${where}: bad IDX magic number ${magic} (${hex(magic)}): expected 0x0000 then a type code ` +
        `(0x08, 0x09, 0x0b, 0x0c, 0x0d or 0x0e) and a dimension count >= 1`,
    );
  }
  if (options.expectMagic !== undefined && magic !== options.expectMagic) {
    throw new RangeError(
      `${where}: magic number must be ${options.expectMagic} (${hex(options.expectMagic)}), got ${magic} (${hex(magic)})`,
    );
  }
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new RangeError(
      `${where}: truncated header: ${ndims} dims need ${headerBytes} header bytes, got ${bytes.length}`,
    );
  }
  const dims: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    const size = view.getUint32(4 + 4 * d, false);
    dims.push(size);
    count *= size;
  }
  const [, dtype, itemBytes] = type;
  const dataBytes = count * itemBytes;
  const actual = bytes.length - headerBytes;
  if (actual < dataBytes) {
    throw new RangeError(
      `${where}: truncated data: dims [${dims.join(', ')}] of ${dtype} need ${dataBytes} bytes after the ` +
        `${headerBytes}-byte header, got ${actual}`,
    );
  }
  if (actual > dataBytes) {
    throw new RangeError(
      `${where}: ${actual - dataBytes} unexpected trailing bytes after dims [${dims.join(', ')}] of ${dtype}`,
    );
  }
  return { magic, dtype, dims, data: decode(view, headerBytes, count, dtype, bytes) };
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDtype, bytes: Uint8Array): IdxData {
  switch (dtype) {
    case 'uint8':
      return bytes.subarray(offset, offset + count);
    case 'int8':
      return new Int8Array(bytes.buffer, bytes.byteOffset + offset, count).slice();
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/**
 * Encodes an array as IDX bytes (the inverse of `readIdx`): for writing small IDX files, e.g. a
 * subset of a dataset or a test fixture.
 */
export function encodeIdx(dtype: IdxDtype, dims: readonly number[], data: ArrayLike<number>): Uint8Array {
  const where = 'encodeIdx';
  const type = TYPE_CODES.find(([, name]) => name === dtype);
  if (type === undefined) {
    throw new TypeError(`${where}: dtype must be one of ${TYPE_CODES.map(([, n]) => n).join(', ')}, got ${String(dtype)}`);
  }
  if (dims.length < 1 || dims.length > 255 || dims.some((d) => !Number.isInteger(d) || d < 0 || d > 0xffffffff)) {
    throw new RangeError(`${where}: dims must be 1..255 non-negative uint32 sizes, got [${dims.join(', ')}]`);
  }
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new RangeError(`${where}: data must have ${count} values for dims [${dims.join(', ')}], got ${data.length}`);
  }
  const [code, , itemBytes] = type;
  const header = 4 + 4 * dims.length;
  const out = new Uint8Array(header + count * itemBytes);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = dims.length;
  dims.forEach((d, k) => view.setUint32(4 + 4 * k, d, false));
  for (let i = 0; i < count; i++) {
    const v = data[i]!;
    const at = header + i * itemBytes;
    if (dtype === 'uint8') view.setUint8(at, v);
    else if (dtype === 'int8') view.setInt8(at, v);
    else if (dtype === 'int16') view.setInt16(at, v, false);
    else if (dtype === 'int32') view.setInt32(at, v, false);
    else if (dtype === 'float32') view.setFloat32(at, v, false);
    else view.setFloat64(at, v, false);
  }
  return out;
}

const gunzipAsync = promisify(gunzip);

/** True when the bytes start with the gzip magic `1f 8b`. */
function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads an IDX file, gunzipping it first when it is gzip-compressed (detected from its content,
 * not its name). Errors name the path.
 */
export async function readIdxFile(path: string, options: Omit<ReadIdxOptions, 'source'> = {}): Promise<IdxArray> {
  const raw = await readFile(path);
  let bytes: Uint8Array = raw;
  if (isGzip(raw)) {
    try {
      bytes = await gunzipAsync(raw);
    } catch (err) {
      throw new RangeError(`readIdxFile: ${path} is not a valid gzip file: ${(err as Error).message}`);
    }
  }
  return readIdx(bytes, { ...options, source: path });
}
