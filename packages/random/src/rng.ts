/**
 * A seeded, serialisable pseudo-random generator (xoshiro128**, seeded through splitmix32).
 *
 * Why not tfjs's own seeded ops: their state cannot be saved, so a resumed training run could not
 * continue the same stream. Here the whole state is four words plus the Box-Muller spare, and
 * `state()` / `restoreRng()` round-trip it exactly.
 */

export interface RngState {
  readonly algorithm: 'xoshiro128**';
  /** The four 32-bit state words. */
  readonly s: readonly [number, number, number, number];
  /** The second normal of the last Box-Muller pair, if not yet used. */
  readonly spare: number | null;
  /** Identity of the stream, from the seed and fork labels; `fork` derives children from it. */
  readonly key: number;
}

export interface Rng {
  /** A uniform 32-bit unsigned integer. */
  nextUint32(): number;
  /** A uniform double in [0, 1) with 53 random bits. */
  uniform(): number;
  /** A standard normal (Box-Muller; the pair's second value is kept for the next call). */
  normal(): number;
  /** Fills `out` with normals of the given mean and standard deviation, and returns it. */
  fillNormal<T extends Float32Array | Float64Array>(out: T, mean?: number, std?: number): T;
  /** Fills `out` with uniforms in [lo, hi), and returns it. */
  fillUniform<T extends Float32Array | Float64Array>(out: T, lo?: number, hi?: number): T;
  /** A uniform integer in 0..n-1, without modulo bias. */
  int(n: number): number;
  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(array: T[]): T[];
  /** A uniformly random permutation of 0..n-1. */
  permutation(n: number): Int32Array;
  /** The full state as plain JSON; `restoreRng(state)` continues exactly from here. */
  state(): RngState;
  /**
   * An independent child stream named by `label`. It depends only on this stream's seed and the
   * label, not on how many numbers were drawn, so adding a draw elsewhere never shifts it.
   */
  fork(label: string | number): Rng;
}

const TWO_PI = 2 * Math.PI;

function splitmix32(x: number): [number, number] {
  x = (x + 0x9e3779b9) | 0;
  let z = x;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return [x, z >>> 0];
}

/** FNV-1a over the label's text, mixed with the parent key. */
function deriveKey(parent: number, label: string | number): number {
  const text = `${typeof label}:${String(label)}`;
  let h = (0x811c9dc5 ^ parent) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return splitmix32(h)[1];
}

function seedKey(seed: number): number {
  // Mix both halves of a safe integer so that seeds 2^32 apart differ.
  const lo = seed >>> 0;
  const hi = Math.floor(seed / 0x100000000) >>> 0;
  return deriveKey(splitmix32(lo)[1] ^ hi, 'seed');
}

function stateFromKey(key: number): [number, number, number, number] {
  let x = key;
  const s: number[] = [];
  for (let i = 0; i < 4; i++) {
    const [nx, out] = splitmix32(x);
    x = nx;
    s.push(out);
  }
  if ((s[0]! | s[1]! | s[2]! | s[3]!) === 0) s[0] = 1; // xoshiro's one forbidden state
  return s as [number, number, number, number];
}

class Xoshiro128 implements Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spare: number | null;

  constructor(
    private readonly key: number,
    s: readonly [number, number, number, number],
    spare: number | null,
  ) {
    [this.s0, this.s1, this.s2, this.s3] = s;
    this.spare = spare;
  }

  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  uniform(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  normal(): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return z;
    }
    const u1 = 1 - this.uniform(); // (0, 1]: log stays finite
    const u2 = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(TWO_PI * u2);
    return r * Math.cos(TWO_PI * u2);
  }

  fillNormal<T extends Float32Array | Float64Array>(out: T, mean = 0, std = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = mean + std * this.normal();
    return out;
  }

  fillUniform<T extends Float32Array | Float64Array>(out: T, lo = 0, hi = 1): T {
    for (let i = 0; i < out.length; i++) out[i] = lo + (hi - lo) * this.uniform();
    return out;
  }

  int(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x100000000) {
      throw new RangeError(`Rng.int: n must be an integer in 1..2^32, got ${n}`);
    }
    // Rejection sampling: accept only draws below the largest multiple of n.
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }

  shuffle<T>(array: T[]): T[] {
    for (let i = array.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = array[i]!;
      array[i] = array[j]!;
      array[j] = tmp;
    }
    return array;
  }

  permutation(n: number): Int32Array {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Rng.permutation: n must be an integer >= 0, got ${n}`);
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = p[i]!;
      p[i] = p[j]!;
      p[j] = tmp;
    }
    return p;
  }

  state(): RngState {
    return {
      algorithm: 'xoshiro128**',
      s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0],
      spare: this.spare,
      key: this.key,
    };
  }

  fork(label: string | number): Rng {
    if (typeof label !== 'string' && typeof label !== 'number') {
      throw new TypeError(`Rng.fork: label must be a string or a number, got ${typeof label}`);
    }
    const key = deriveKey(this.key, label);
    return new Xoshiro128(key, stateFromKey(key), null);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** A generator for `seed` (any safe integer). The same seed always gives the same stream. */
export function createRng(seed: number): Rng {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new RangeError(`createRng: seed must be a safe integer, got ${String(seed)}`);
  }
  const key = seedKey(seed);
  return new Xoshiro128(key, stateFromKey(key), null);
}

/** Continues a stream from `rng.state()`. */
export function restoreRng(state: RngState): Rng {
  const ok =
    state !== null &&
    typeof state === 'object' &&
    state.algorithm === 'xoshiro128**' &&
    Array.isArray(state.s) &&
    state.s.length === 4 &&
    state.s.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) &&
    state.s.some((w) => w !== 0) &&
    (state.spare === null || typeof state.spare === 'number') &&
    Number.isInteger(state.key);
  if (!ok) {
    throw new TypeError(
      'restoreRng: state must be { algorithm: "xoshiro128**", s: four uint32 words (not all 0), spare: number | null, key: integer }',
    );
  }
  return new Xoshiro128(state.key >>> 0, [state.s[0] | 0, state.s[1] | 0, state.s[2] | 0, state.s[3] | 0], state.spare);
}
