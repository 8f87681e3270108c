import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';

/**
 * The safetensors format (what PyTorch's `safetensors` reads and writes): an 8-byte little-endian
 * header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin, end] },
 * "__metadata__": { string: string } }`, then the raw little-endian tensor bytes, packed without gaps.
 */

export type SafeDType = 'F32' | 'F64' | 'I32' | 'I64' | 'U8' | 'BOOL';

export interface SafeTensor {
  dtype: SafeDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
}

export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

const ARRAY_TYPES = {
  F32: Float32Array,
  F64: Float64Array,
  I32: Int32Array,
  I64: BigInt64Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
} as const;

/** Headers larger than this are refused before parsing, as the reference implementation does. */
const MAX_HEADER_BYTES = 100_000_000;

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('@mtd/io: safetensors support assumes a little-endian host');
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function checkTensor(name: string, t: SafeTensor): void {
  const where = `encodeSafetensors: tensor "${name}"`;
  if (!t || typeof t !== 'object') throw new TypeError(`${where} must be { dtype, shape, data }`);
  const Ctor = ARRAY_TYPES[t.dtype as SafeDType];
  if (!Ctor) throw new TypeError(`${where}: dtype must be one of ${Object.keys(ARRAY_TYPES).join(', ')}, got ${String(t.dtype)}`);
  if (!Array.isArray(t.shape) || t.shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new TypeError(`${where}: shape must be a list of integers >= 0, got ${JSON.stringify(t.shape)}`);
  }
  if (!(t.data instanceof Ctor)) throw new TypeError(`${where}: data must be a ${Ctor.name} for dtype ${t.dtype}`);
  if (t.data.length !== numel(t.shape)) {
    throw new RangeError(`${where}: data has ${t.data.length} elements but shape ${JSON.stringify(t.shape)} needs ${numel(t.shape)}`);
  }
}

/** Serialises tensors (written in name order, so equal inputs give equal bytes). */
export function encodeSafetensors(tensors: Record<string, SafeTensor>, metadata: Record<string, string> = {}): Uint8Array {
  if (!tensors || typeof tensors !== 'object') throw new TypeError('encodeSafetensors: tensors must be a record of name -> tensor');
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== 'string') throw new TypeError(`encodeSafetensors: metadata["${k}"] must be a string, got ${typeof v}`);
  }
  const names = Object.keys(tensors).sort();
  // Null-prototype records throughout: a tensor may be named "__proto__", and on a plain object that
  // assignment would set the prototype instead of adding the entry.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new RangeError('encodeSafetensors: "__metadata__" is reserved and cannot name a tensor');
    const t = tensors[name]!;
    checkTensor(name, t);
    const bytes = t.data.byteLength;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  // Pad the header with spaces to a multiple of 8 so the data starts aligned.
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let at = 8 + json.length;
  for (const name of names) {
    const d = tensors[name]!.data;
    out.set(new Uint8Array(d.buffer, d.byteOffset, d.byteLength), at);
    at += d.byteLength;
  }
  return out;
}

/** Parses safetensors bytes, checking the header against the data so a corrupt file fails loudly. */
export function decodeSafetensors(bytes: Uint8Array): SafetensorsFile {
  const where = 'decodeSafetensors';
  if (!(bytes instanceof Uint8Array)) throw new TypeError(`${where}: bytes must be a Uint8Array`);
  if (bytes.length < 8) throw new RangeError(`${where}: file is ${bytes.length} bytes, shorter than the 8-byte header length`);
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES || 8 + n > bytes.length) {
    throw new RangeError(`${where}: header length ${n} does not fit in a file of ${bytes.length} bytes`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + n)));
  } catch (e) {
    throw new RangeError(`${where}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new RangeError(`${where}: header must be a JSON object`);
  const dataStart = 8 + n;
  const dataLength = bytes.length - dataStart;
  const metadata: Record<string, string> = Object.create(null);
  const spans: Array<[number, number, string]> = [];
  const tensors: Record<string, SafeTensor> = Object.create(null);
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((entry ?? {}) as Record<string, unknown>)) {
        if (typeof v !== 'string') throw new RangeError(`${where}: __metadata__["${k}"] must be a string`);
        metadata[k] = v;
      }
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const Ctor = ARRAY_TYPES[e?.dtype as SafeDType];
    if (!Ctor) throw new RangeError(`${where}: tensor "${name}" has unsupported dtype ${String(e?.dtype)} (supported: ${Object.keys(ARRAY_TYPES).join(', ')})`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new RangeError(`${where}: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isInteger(o) && o >= 0) || offs[0] > offs[1]) {
      throw new RangeError(`${where}: tensor "${name}" has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const expected = numel(shape as number[]) * Ctor.BYTES_PER_ELEMENT;
    if (end - begin !== expected) {
      throw new RangeError(`${where}: tensor "${name}" spans ${end - begin} bytes but ${e.dtype} ${JSON.stringify(shape)} needs ${expected}`);
    }
    if (end > dataLength) throw new RangeError(`${where}: tensor "${name}" ends at byte ${end}, past the data's ${dataLength} bytes (truncated file?)`);
    spans.push([begin, end, name]);
    // Copy so the typed array is aligned and owns its memory.
    const copy = bytes.slice(dataStart + begin, dataStart + end);
    const data = new Ctor(copy.buffer, 0, numel(shape as number[]));
    tensors[name] = { dtype: e.dtype as SafeDType, shape: shape as number[], data };
  }
  // The data must be covered exactly, without holes or overlaps. Ties on the start are broken by
  // the end so that an empty tensor sorts before the one it shares an offset with, whatever order
  // the header lists them in (JSON objects put integer-like names first).
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== at) throw new RangeError(`${where}: tensor "${name}" starts at byte ${begin}, expected ${at} (gap or overlap)`);
    at = end;
  }
  if (at !== dataLength) throw new RangeError(`${where}: ${dataLength - at} bytes of data are not covered by any tensor`);
  return { tensors, metadata };
}

/** Writes a safetensors file atomically. */
export async function saveSafetensors(path: string, tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}

/** Reads a safetensors file; errors name the path. */
export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(path));
  } catch (e) {
    throw new Error(`loadSafetensors: cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return decodeSafetensors(bytes);
  } catch (e) {
    throw new RangeError(`loadSafetensors: ${path}: ${(e as Error).message}`);
  }
}
