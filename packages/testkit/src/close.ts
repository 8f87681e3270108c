/** Numeric comparisons for tests: float32 results against float64 references. */

export interface CloseOptions {
  /** Relative tolerance, scaled by |expected|. */
  rtol?: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Names the quantity in the failure message. */
  label?: string;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths('maxAbsDiff', a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (Number.isNaN(d)) return Number.NaN;
    if (d > m) m = d;
  }
  return m;
}

/** max |a - b| / max(|b|, tiny): relative to the second argument, the reference. */
export function maxRelDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths('maxRelDiff', a, b);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!) / Math.max(Math.abs(b[i]!), 1e-30);
    if (Number.isNaN(d)) return Number.NaN;
    if (d > m) m = d;
  }
  return m;
}

/** Throws unless |actual - expected| <= atol + rtol * |expected| elementwise (numpy's allclose rule). */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, options: CloseOptions = {}): void {
  const { rtol = 1e-5, atol = 1e-6, label = 'value' } = options;
  checkLengths(`expectClose(${label})`, actual, expected);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const ok = a === e || Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) {
      throw new Error(
        `expectClose(${label}): element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e)} > atol ${atol} + rtol ${rtol} * |expected|)`,
      );
    }
  }
}

function checkLengths(where: string, a: ArrayLike<number>, b: ArrayLike<number>): void {
  if (a.length !== b.length) throw new Error(`${where}: lengths differ, ${a.length} vs ${b.length}`);
}
