/**
 * float64 references on plain NHWC arrays for the heads' tests (weights in tfjs layout: HWIO
 * convs, [in, out] linears). Written from the definitions, not from the tfjs code.
 */
export interface Img {
  b: number;
  h: number;
  w: number;
  c: number;
  data: Float64Array;
}

export function img(b: number, h: number, w: number, c: number, data: ArrayLike<number>): Img {
  return { b, h, w, c, data: Float64Array.from(data) };
}

export function conv(x: Img, weight: ArrayLike<number>, bias: ArrayLike<number>, k: number, cout: number, stride = 1): Img {
  const p = (k - 1) / 2;
  const ho = Math.floor((x.h + 2 * p - k) / stride) + 1;
  const wo = Math.floor((x.w + 2 * p - k) / stride) + 1;
  const out = new Float64Array(x.b * ho * wo * cout);
  for (let n = 0; n < x.b; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let o = 0; o < cout; o++) {
          let s = bias[o]!;
          for (let dy = 0; dy < k; dy++)
            for (let dx = 0; dx < k; dx++) {
              const y = i * stride + dy - p;
              const xx = j * stride + dx - p;
              if (y < 0 || y >= x.h || xx < 0 || xx >= x.w) continue;
              for (let c = 0; c < x.c; c++) s += x.data[((n * x.h + y) * x.w + xx) * x.c + c]! * weight[((dy * k + dx) * x.c + c) * cout + o]!;
            }
          out[((n * ho + i) * wo + j) * cout + o] = s;
        }
  return { b: x.b, h: ho, w: wo, c: cout, data: out };
}

export function groupNorm(x: Img, gamma: ArrayLike<number>, beta: ArrayLike<number>, groups: number, eps = 1e-5): Img {
  const out = new Float64Array(x.data.length);
  const per = x.c / groups;
  const hw = x.h * x.w;
  for (let n = 0; n < x.b; n++)
    for (let g = 0; g < groups; g++) {
      let mean = 0;
      let sq = 0;
      for (let p = 0; p < hw; p++) for (let c = g * per; c < (g + 1) * per; c++) mean += x.data[(n * hw + p) * x.c + c]!;
      mean /= hw * per;
      for (let p = 0; p < hw; p++) for (let c = g * per; c < (g + 1) * per; c++) sq += (x.data[(n * hw + p) * x.c + c]! - mean) ** 2;
      const inv = 1 / Math.sqrt(sq / (hw * per) + eps);
      for (let p = 0; p < hw; p++)
        for (let c = g * per; c < (g + 1) * per; c++) {
          const i = (n * hw + p) * x.c + c;
          out[i] = (x.data[i]! - mean) * inv * gamma[c]! + beta[c]!;
        }
    }
  return { ...x, data: out };
}

export function silu(x: Img): Img {
  return { ...x, data: x.data.map((v) => v / (1 + Math.exp(-v))) };
}

export function add(a: Img, b: Img): Img {
  return { ...a, data: a.data.map((v, i) => v + b.data[i]!) };
}

/** Mean over positions: [B, C] as a flat array. */
export function meanPool(x: Img): Float64Array {
  const out = new Float64Array(x.b * x.c);
  const hw = x.h * x.w;
  for (let n = 0; n < x.b; n++) for (let p = 0; p < hw; p++) for (let c = 0; c < x.c; c++) out[n * x.c + c]! += x.data[(n * hw + p) * x.c + c]! / hw;
  return out;
}

/** `[B, in] x [in, out] + b`. */
export function dense(x: ArrayLike<number>, batch: number, weight: ArrayLike<number>, bias: ArrayLike<number>, cin: number, cout: number): Float64Array {
  const out = new Float64Array(batch * cout);
  for (let n = 0; n < batch; n++)
    for (let o = 0; o < cout; o++) {
      let s = bias[o]!;
      for (let i = 0; i < cin; i++) s += x[n * cin + i]! * weight[i * cout + o]!;
      out[n * cout + o] = s;
    }
  return out;
}
