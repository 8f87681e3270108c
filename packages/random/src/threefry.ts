/**
 * Threefry-2x32 (Salmon, Moraes, Dror, Shaw 2011, "Parallel random numbers: as easy as 1, 2, 3";
 * the Random123 library's `threefry2x32`): a keyed bijection of two 32-bit words. A counter-based
 * generator: the value at position `(c0, c1)` of stream `(k0, k1)` is computed directly, with no
 * state to carry, so a GPU thread can draw element `i` of a tensor on its own and get exactly the
 * word the host would. Only 32-bit adds, rotations and xors: the same arithmetic in JS and WGSL.
 */

/** Rotation constants of Threefry-2x32, one per round mod 8. */
export const THREEFRY_ROTATIONS = [13, 15, 26, 6, 17, 29, 16, 24] as const;
/** Skein's key-schedule parity word. */
export const THREEFRY_PARITY = 0x1bd11bda;

/**
 * Writes `threefry2x32_R(key = (k0, k1), counter = (c0, c1))` into `out[at]`, `out[at + 1]` (as
 * unsigned words). The hot loop of `counterNormals`, so it allocates nothing.
 */
export function threefry2x32Into(k0: number, k1: number, c0: number, c1: number, out: Uint32Array, at = 0, rounds = 20): void {
  const k2 = (THREEFRY_PARITY ^ k0 ^ k1) | 0;
  let x0 = (c0 + k0) | 0;
  let x1 = (c1 + k1) | 0;
  for (let r = 0; r < rounds; r++) {
    const rot = THREEFRY_ROTATIONS[r & 7]!;
    x0 = (x0 + x1) | 0;
    x1 = ((x1 << rot) | (x1 >>> (32 - rot))) ^ x0;
    if ((r & 3) === 3) {
      // Key injection s after every 4 rounds: words (k_s, k_{s+1}) of the 3-word schedule, plus s.
      const s = (r + 1) >> 2;
      const m = s % 3;
      x0 = (x0 + (m === 0 ? k0 : m === 1 ? k1 : k2)) | 0;
      x1 = (x1 + (m === 0 ? k1 : m === 1 ? k2 : k0) + s) | 0;
    }
  }
  out[at] = x0 >>> 0;
  out[at + 1] = x1 >>> 0;
}

/** `threefry2x32_R(key, counter)` as two unsigned 32-bit words (R = 20 rounds by default). */
export function threefry2x32(key: readonly [number, number], counter: readonly [number, number], rounds = 20): [number, number] {
  for (const [name, words] of [['key', key], ['counter', counter]] as const) {
    if (!Array.isArray(words) || words.length !== 2 || !words.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff)) {
      throw new RangeError(`threefry2x32: ${name} must be two integers in 0..2^32-1, got ${JSON.stringify(words)}`);
    }
  }
  if (!Number.isInteger(rounds) || rounds < 0) throw new RangeError(`threefry2x32: rounds must be an integer >= 0, got ${rounds}`);
  const out = new Uint32Array(2);
  threefry2x32Into(key[0], key[1], counter[0], counter[1], out, 0, rounds);
  return [out[0]!, out[1]!];
}
