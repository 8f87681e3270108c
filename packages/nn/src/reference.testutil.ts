/**
 * float64 references on plain arrays for @mtd/nn's tests, written from the definitions (PyTorch's
 * Conv2d, GroupNorm, Linear, SiLU; ADM's legacy-order attention), not from the tfjs code.
 * Tensors are NHWC / row-major, weights in tfjs layout (HWIO convs, `[in, out]` matrices).
 */

/** `x` `[rows, cin]` times `weight` `[cin, cout]` plus `bias`. */
export function linearRef(x: ArrayLike<number>, rows: number, weight: ArrayLike<number>, bias: ArrayLike<number>, cin: number, cout: number): Float64Array {
  const out = new Float64Array(rows * cout);
  for (let r = 0; r < rows; r++)
    for (let o = 0; o < cout; o++) {
      let s = bias[o]!;
      for (let i = 0; i < cin; i++) s += x[r * cin + i]! * weight[i * cout + o]!;
      out[r * cout + o] = s;
    }
  return out;
}

export function siluRef(x: ArrayLike<number>): Float64Array {
  return Float64Array.from(x, (v) => v / (1 + Math.exp(-v)));
}

/** GroupNorm of `[batch, positions, channels]` with the biased variance (PyTorch). */
export function groupNormRef(
  x: ArrayLike<number>, batch: number, positions: number, channels: number,
  gamma: ArrayLike<number>, beta: ArrayLike<number>, groups: number, eps = 1e-5,
): Float64Array {
  const out = new Float64Array(batch * positions * channels);
  const per = channels / groups;
  for (let n = 0; n < batch; n++)
    for (let g = 0; g < groups; g++) {
      const members: number[] = [];
      for (let p = 0; p < positions; p++) for (let c = g * per; c < (g + 1) * per; c++) members.push((n * positions + p) * channels + c);
      const mean = members.reduce((s, i) => s + x[i]!, 0) / members.length;
      const variance = members.reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / members.length;
      for (const i of members) {
        const c = i % channels;
        out[i] = ((x[i]! - mean) / Math.sqrt(variance + eps)) * gamma[c]! + beta[c]!;
      }
    }
  return out;
}

/** PyTorch Conv2d with `padding = (k - 1) / 2` on NHWC `x`; returns the data and the output size. */
export function conv2dRef(
  x: ArrayLike<number>, [b, h, w, cin]: readonly number[], weight: ArrayLike<number>, bias: ArrayLike<number>,
  k: number, cout: number, stride: number,
): { data: Float64Array; shape: number[] } {
  const pad = (k - 1) / 2;
  const ho = Math.floor((h! + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((w! + 2 * pad - k) / stride) + 1;
  const out = new Float64Array(b! * ho * wo * cout);
  for (let n = 0; n < b!; n++)
    for (let i = 0; i < ho; i++)
      for (let j = 0; j < wo; j++)
        for (let o = 0; o < cout; o++) {
          let s = bias[o]!;
          for (let dy = 0; dy < k; dy++)
            for (let dx = 0; dx < k; dx++) {
              const y = i * stride + dy - pad;
              const xx = j * stride + dx - pad;
              if (y < 0 || y >= h! || xx < 0 || xx >= w!) continue; // zero padding
              for (let c = 0; c < cin!; c++) s += x[((n * h! + y) * w! + xx) * cin! + c]! * weight[((dy * k + dx) * cin! + c) * cout + o]!;
            }
          out[((n * ho + i) * wo + j) * cout + o] = s;
        }
  return { data: out, shape: [b!, ho, wo, cout] };
}

export interface DenseArrays {
  weight: ArrayLike<number>;
  bias: ArrayLike<number>;
}

export interface AttentionArrays {
  gamma: ArrayLike<number>;
  beta: ArrayLike<number>;
  qkv: DenseArrays;
  projOut: DenseArrays;
  encoderKv?: DenseArrays;
}

/**
 * ADM's AttentionBlock with QKVAttentionLegacy: per head `h` the channels `[q, k, v]` of the qkv
 * projection are `3 w h .. 3 w h + 3w`; GLIDE's `encoder_kv` gives per head `[k, v]` for every
 * context token, attended together with the image's own keys. `x` is `[b, positions, c]`.
 */
export function attentionRef(
  x: ArrayLike<number>, b: number, positions: number, c: number, p: AttentionArrays, heads: number, groups: number,
  context?: { data: ArrayLike<number>; length: number; dim: number },
): Float64Array {
  const width = c / heads;
  const normed = groupNormRef(x, b, positions, c, p.gamma, p.beta, groups);
  const qkv = linearRef(normed, b * positions, p.qkv.weight, p.qkv.bias, c, 3 * c);
  const kv = context && p.encoderKv ? linearRef(context.data, b * context.length, p.encoderKv.weight, p.encoderKv.bias, context.dim, 2 * c) : undefined;
  const merged = new Float64Array(b * positions * c);
  for (let n = 0; n < b; n++)
    for (let hd = 0; hd < heads; hd++) {
      const keys: number[][] = [];
      const values: number[][] = [];
      const slice = (src: Float64Array, row: number, rowWidth: number, start: number) =>
        Array.from({ length: width }, (_, d) => src[row * rowWidth + start + d]!);
      if (kv) {
        for (let l = 0; l < context!.length; l++) {
          keys.push(slice(kv, n * context!.length + l, 2 * c, hd * 2 * width));
          values.push(slice(kv, n * context!.length + l, 2 * c, hd * 2 * width + width));
        }
      }
      for (let s = 0; s < positions; s++) {
        keys.push(slice(qkv, n * positions + s, 3 * c, hd * 3 * width + width));
        values.push(slice(qkv, n * positions + s, 3 * c, hd * 3 * width + 2 * width));
      }
      for (let t = 0; t < positions; t++) {
        const q = slice(qkv, n * positions + t, 3 * c, hd * 3 * width);
        const logits = keys.map((key) => key.reduce((s, kd, d) => s + kd * q[d]!, 0) / Math.sqrt(width));
        const top = Math.max(...logits);
        const e = logits.map((z) => Math.exp(z - top));
        const total = e.reduce((s, v) => s + v, 0);
        for (let d = 0; d < width; d++) {
          merged[(n * positions + t) * c + hd * width + d] = e.reduce((s, ei, j) => s + (ei / total) * values[j]![d]!, 0);
        }
      }
    }
  const projected = linearRef(merged, b * positions, p.projOut.weight, p.projOut.bias, c, c);
  return projected.map((v, i) => v + x[i]!);
}
