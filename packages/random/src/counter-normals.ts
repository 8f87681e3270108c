import { threefry2x32Into } from './threefry.js';

/**
 * Standard normals addressed by (key, counter, position): the noise a GPU kernel can draw without
 * the host, and the host reference that kernel is tested against (`@mtd/backend`'s WGSL
 * `MtdCounterNormal`). Row `r` of the `[R, size]` result, pair `p` (elements `2p`, `2p + 1`):
 *
 *     (x0, x1) = threefry2x32_20(key = (keys[2r], keys[2r + 1]), counter = (p, counter))
 *     u1 = ((x0 >> 8) + 1) / 2^24 in (0, 1],   u2 = (x1 >> 8) / 2^24 in [0, 1)
 *     rho = sqrt(-2 ln u1),   theta = pi (2 u2 - 1) in [-pi, pi)
 *     out[r, 2p] = rho cos(theta),   out[r, 2p + 1] = rho sin(theta)   (Box-Muller)
 *
 * 24-bit uniforms so that `u1`, `u2` and `2 u2 - 1` are exact in float32: a float32 kernel and
 * this float64 reference differ only by the rounding of `log`, `cos`, `sin` and `pi (2 u2 - 1)`.
 * The angle is kept in [-pi, pi), where GPU sine and cosine are specified. The cost is the far
 * tail: |z| <= sqrt(48 ln 2) = 5.77 (a standard normal exceeds it with probability 8e-9).
 */
export function counterNormals(keys: Uint32Array | readonly number[], counter: number, size: number): Float32Array;
export function counterNormals<T extends Float32Array | Float64Array>(keys: Uint32Array | readonly number[], counter: number, size: number, out: T): T;
export function counterNormals(keys: Uint32Array | readonly number[], counter: number, size: number, out?: Float32Array | Float64Array): Float32Array | Float64Array {
  const where = 'counterNormals';
  if (keys.length === 0 || keys.length % 2 !== 0) throw new RangeError(`${where}: keys must hold two words per row (a non-empty, even length), got length ${keys.length}`);
  for (let i = 0; i < keys.length; i++) {
    const w = keys[i]!;
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new RangeError(`${where}: keys[${i}] must be an integer in 0..2^32-1, got ${w}`);
  }
  checkCounter(where, 'counter', counter);
  if (!Number.isInteger(size) || size < 0 || size > 2 ** 33) throw new RangeError(`${where}: size must be an integer in 0..2^33, got ${size}`);
  const rows = keys.length / 2;
  const result = out ?? new Float32Array(rows * size);
  if (result.length !== rows * size) throw new RangeError(`${where}: out must have rows * size = ${rows * size} elements, got ${result.length}`);
  const words = new Uint32Array(2);
  for (let r = 0; r < rows; r++) {
    const k0 = keys[2 * r]!;
    const k1 = keys[2 * r + 1]!;
    const base = r * size;
    for (let p = 0; 2 * p < size; p++) {
      threefry2x32Into(k0, k1, p, counter, words);
      const u1 = ((words[0]! >>> 8) + 1) * 2 ** -24;
      const u2 = (words[1]! >>> 8) * 2 ** -24;
      const rho = Math.sqrt(-2 * Math.log(u1));
      const theta = Math.PI * (2 * u2 - 1);
      result[base + 2 * p] = rho * Math.cos(theta);
      if (2 * p + 1 < size) result[base + 2 * p + 1] = rho * Math.sin(theta);
    }
  }
  return result;
}

function checkCounter(where: string, name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) throw new RangeError(`${where}: ${name} must be an integer in 0..2^32-1, got ${value}`);
}
