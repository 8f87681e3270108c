/**
 * Float64 references on plain arrays for the kernel tests: direct sums straight from the
 * definitions, with padding computed independently of tfjs (TensorFlow's 'SAME'/'VALID' rules).
 * Test-only; not exported from the package.
 */

export type Shape4 = [number, number, number, number];

export type RefPad = 'same' | 'valid' | [[number, number], [number, number]];

export interface ConvGeometry {
  outH: number;
  outW: number;
  top: number;
  left: number;
}

/** TensorFlow's output size and leading padding for one spatial axis. */
function axis(size: number, k: number, s: number, pad: 'same' | 'valid' | [number, number]): [number, number] {
  if (pad === 'valid') return [Math.ceil((size - k + 1) / s), 0];
  if (pad === 'same') {
    const out = Math.ceil(size / s);
    const total = Math.max((out - 1) * s + k - size, 0);
    return [out, Math.floor(total / 2)];
  }
  return [Math.floor((size + pad[0] + pad[1] - k) / s) + 1, pad[0]];
}

export function convGeometry(xShape: Shape4, kh: number, kw: number, sh: number, sw: number, pad: RefPad): ConvGeometry {
  const [outH, top] = axis(xShape[1], kh, sh, pad === 'same' || pad === 'valid' ? pad : pad[0]);
  const [outW, left] = axis(xShape[2], kw, sw, pad === 'same' || pad === 'valid' ? pad : pad[1]);
  return { outH, outW, top, left };
}

/** `y[n, oh, ow, co] = sum x[n, oh*sh + i - top, ow*sw + j - left, ci] * w[i, j, ci, co]`. */
export function conv2dRef(
  x: ArrayLike<number>, xShape: Shape4, w: ArrayLike<number>, wShape: Shape4,
  sh: number, sw: number, pad: RefPad,
): { y: Float64Array; shape: Shape4 } {
  const [n, h, wd, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const g = convGeometry(xShape, kh, kw, sh, sw, pad);
  const y = new Float64Array(n * g.outH * g.outW * co);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < g.outH; oh++)
      for (let ow = 0; ow < g.outW; ow++)
        for (let o = 0; o < co; o++) {
          let acc = 0;
          for (let i = 0; i < kh; i++) {
            const r = oh * sh + i - g.top;
            if (r < 0 || r >= h) continue;
            for (let j = 0; j < kw; j++) {
              const c = ow * sw + j - g.left;
              if (c < 0 || c >= wd) continue;
              for (let k = 0; k < ci; k++) acc += x[((b * h + r) * wd + c) * ci + k]! * w[((i * kw + j) * ci + k) * co + o]!;
            }
          }
          y[((b * g.outH + oh) * g.outW + ow) * co + o] = acc;
        }
  return { y, shape: [n, g.outH, g.outW, co] };
}

/** `dW[i, j, ci, co] = sum_{n, oh, ow} x[n, oh*sh + i - top, ow*sw + j - left, ci] * dy[n, oh, ow, co]`. */
export function conv2dBackpropFilterRef(
  x: ArrayLike<number>, xShape: Shape4, dy: ArrayLike<number>, wShape: Shape4,
  sh: number, sw: number, pad: RefPad,
): Float64Array {
  const [n, h, wd, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const g = convGeometry(xShape, kh, kw, sh, sw, pad);
  const dW = new Float64Array(kh * kw * ci * co);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < g.outH; oh++)
      for (let ow = 0; ow < g.outW; ow++)
        for (let i = 0; i < kh; i++) {
          const r = oh * sh + i - g.top;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const c = ow * sw + j - g.left;
            if (c < 0 || c >= wd) continue;
            for (let k = 0; k < ci; k++) {
              const xv = x[((b * h + r) * wd + c) * ci + k]!;
              for (let o = 0; o < co; o++) {
                const idx = ((i * kw + j) * ci + k) * co + o;
                dW[idx] = dW[idx]! + xv * dy[((b * g.outH + oh) * g.outW + ow) * co + o]!;
              }
            }
          }
        }
  return dW;
}

/** `dx[n, h, w, ci] = sum dy[n, oh, ow, co] * W[i, j, ci, co]` over `h = oh*sh + i - top`, `w = ow*sw + j - left`. */
export function conv2dBackpropInputRef(
  dy: ArrayLike<number>, xShape: Shape4, w: ArrayLike<number>, wShape: Shape4,
  sh: number, sw: number, pad: RefPad,
): Float64Array {
  const [n, h, wd, ci] = xShape;
  const [kh, kw, , co] = wShape;
  const g = convGeometry(xShape, kh, kw, sh, sw, pad);
  const dx = new Float64Array(n * h * wd * ci);
  for (let b = 0; b < n; b++)
    for (let oh = 0; oh < g.outH; oh++)
      for (let ow = 0; ow < g.outW; ow++)
        for (let i = 0; i < kh; i++) {
          const r = oh * sh + i - g.top;
          if (r < 0 || r >= h) continue;
          for (let j = 0; j < kw; j++) {
            const c = ow * sw + j - g.left;
            if (c < 0 || c >= wd) continue;
            for (let k = 0; k < ci; k++) {
              let acc = 0;
              for (let o = 0; o < co; o++) acc += dy[((b * g.outH + oh) * g.outW + ow) * co + o]! * w[((i * kw + j) * ci + k) * co + o]!;
              const idx = ((b * h + r) * wd + c) * ci + k;
              dx[idx] = dx[idx]! + acc;
            }
          }
        }
  return dx;
}

/** Float64 copy of a float32 array, so references start from exactly the tensors' values. */
export function f64(a: ArrayLike<number>): Float64Array {
  return Float64Array.from(a as ArrayLike<number>);
}
