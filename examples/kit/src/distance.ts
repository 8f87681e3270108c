/**
 * The restoration distance of Table 1. The paper uses LPIPS (AlexNet/VGG features, unavailable
 * offline); here the same idea on the project's Fashion-MNIST feature network: per image pair,
 * `1 - cos(f(a), f(b))` of the 64 penultimate features (0 when the network sees the same thing,
 * up to 2). Like LPIPS it is a feature distance, so it is 0 for identical images and grows with
 * semantic change, but its scale is its own: it is not comparable with the paper's numbers.
 */
export function cosineDistances(a: readonly Float64Array[], b: readonly Float64Array[]): Float64Array {
  if (a.length !== b.length) throw new RangeError(`cosineDistances: a and b must hold as many rows, got ${a.length} and ${b.length}`);
  const out = new Float64Array(a.length);
  a.forEach((x, i) => {
    const y = b[i]!;
    if (x.length !== y.length) throw new RangeError(`cosineDistances: row ${i} must have the same length in a and b, got ${x.length} and ${y.length}`);
    let xy = 0;
    let xx = 0;
    let yy = 0;
    for (let j = 0; j < x.length; j++) {
      xy += x[j]! * y[j]!;
      xx += x[j]! * x[j]!;
      yy += y[j]! * y[j]!;
    }
    // Two zero vectors are the same features; one zero vector is as far as orthogonal.
    out[i] = xx === 0 && yy === 0 ? 0 : xx === 0 || yy === 0 ? 1 : 1 - xy / Math.sqrt(xx * yy);
  });
  return out;
}

/** Per image root-mean-square pixel difference of two `[n, P]` row-major image sets. */
export function rmsDistances(a: Float32Array, b: Float32Array, n: number): Float64Array {
  if (a.length !== b.length || a.length % n !== 0) throw new RangeError(`rmsDistances: a and b must both hold n * P values, got ${a.length}, ${b.length} for n = ${n}`);
  const P = a.length / n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = i * P; j < (i + 1) * P; j++) s += (a[j]! - b[j]!) ** 2;
    out[i] = Math.sqrt(s / P);
  }
  return out;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  return values.length === 0 ? Number.NaN : s / values.length;
}
