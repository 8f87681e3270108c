import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { threefry2x32 } from './threefry.js';

// Random123's kat_vectors (counter words, key words -> output words).
const KAT: Array<[rounds: number, counter: [number, number], key: [number, number], out: [number, number]]> = [
  [13, [0, 0], [0, 0], [0x9d1c5ec6, 0x8bd50731]],
  [13, [0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0xfd36d048, 0x2d17272c]],
  [13, [0x243f6a88, 0x85a308d3], [0x13198a2e, 0x03707344], [0xba3e4725, 0xf27d669e]],
  [20, [0, 0], [0, 0], [0x6b200159, 0x99ba4efe]],
  [20, [0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff], [0x1cb996fc, 0xbb002be7]],
  [20, [0x243f6a88, 0x85a308d3], [0x13198a2e, 0x03707344], [0xc4923a9c, 0x483df7a0]],
];

/** Threefry-2x32 in BigInt arithmetic, written from the paper's description: a second reference. */
function threefryBig(key: [number, number], counter: [number, number], rounds: number): [number, number] {
  const M = 0xffffffffn;
  const rot = [13n, 15n, 26n, 6n, 17n, 29n, 16n, 24n];
  const ks = [BigInt(key[0]), BigInt(key[1]), 0x1bd11bdan ^ BigInt(key[0]) ^ BigInt(key[1])];
  let x = [(BigInt(counter[0]) + ks[0]!) & M, (BigInt(counter[1]) + ks[1]!) & M];
  for (let r = 0; r < rounds; r++) {
    const a = (x[0]! + x[1]!) & M;
    const k = rot[r % 8]!;
    const b = (((x[1]! << k) | (x[1]! >> (32n - k))) & M) ^ a;
    x = [a, b];
    if (r % 4 === 3) {
      const s = BigInt((r + 1) / 4);
      x = [(x[0]! + ks[Number(s % 3n)]!) & M, (x[1]! + ks[Number((s + 1n) % 3n)]! + s) & M];
    }
  }
  return [Number(x[0]), Number(x[1])];
}

describe('threefry2x32', () => {
  it.each(KAT)('matches Random123 known answers (%i rounds, counter %j, key %j)', (rounds, counter, key, out) => {
    expect(threefry2x32(key, counter, rounds)).toEqual(out);
  });

  it('equals a BigInt reference on random keys and counters', () => {
    const word = fc.integer({ min: 0, max: 0xffffffff });
    fc.assert(
      fc.property(word, word, word, word, fc.constantFrom(13, 20), (k0, k1, c0, c1, rounds) => {
        expect(threefry2x32([k0, k1], [c0, c1], rounds)).toEqual(threefryBig([k0, k1], [c0, c1], rounds));
      }),
      { numRuns: 300 },
    );
  });

  it('names the bad argument', () => {
    expect(() => threefry2x32([1, 2 ** 32], [0, 0])).toThrow(/threefry2x32: key must be two integers in 0\.\.2\^32-1/);
    expect(() => threefry2x32([1, 2], [0, -1])).toThrow(/threefry2x32: counter must be two integers/);
    expect(() => threefry2x32([1, 2], [0, 0], 2.5)).toThrow(/threefry2x32: rounds must be an integer >= 0, got 2.5/);
  });
});
