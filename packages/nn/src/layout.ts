import { describeValue, fail, shapeText } from './checks.js';

/**
 * How a variable is laid out in tfjs and in the PyTorch-style file.
 *
 * - `conv2d`: tfjs HWIO `[kh, kw, in, out]`  <->  PyTorch OIHW `[out, in, kh, kw]`
 * - `conv1d`: tfjs `[in, out]` (used with matMul) <->  PyTorch Conv1d `[out, in, 1]`
 *   (ADM's attention `qkv`/`proj_out` are 1x1 Conv1d layers)
 * - `linear`: tfjs `[in, out]`  <->  PyTorch Linear `[out, in]`
 * - `plain`:  same in both (biases, GroupNorm affine, embedding tables `[n, d]`)
 */
export type Layout = 'conv2d' | 'conv1d' | 'linear' | 'plain';

const RANK: Record<Layout, number | undefined> = { conv2d: 4, conv1d: 2, linear: 2, plain: undefined };

function checkLayout(where: string, layout: unknown, shape: readonly number[]): asserts layout is Layout {
  if (layout !== 'conv2d' && layout !== 'conv1d' && layout !== 'linear' && layout !== 'plain') {
    fail(where, 'layout', '"conv2d", "conv1d", "linear" or "plain"', layout);
  }
  const rank = RANK[layout];
  if (!Array.isArray(shape) || (rank !== undefined && shape.length !== rank)) {
    fail(where, 'shape', `a rank-${rank} tfjs shape for layout "${layout}"`, shape);
  }
}

/** The file (PyTorch) shape of a variable with tfjs shape `shape`. */
export function torchShape(layout: Layout, shape: readonly number[]): number[] {
  checkLayout('torchShape', layout, shape);
  switch (layout) {
    case 'conv2d':
      return [shape[3]!, shape[2]!, shape[0]!, shape[1]!];
    case 'conv1d':
      return [shape[1]!, shape[0]!, 1];
    case 'linear':
      return [shape[1]!, shape[0]!];
    case 'plain':
      return [...shape];
  }
}

/**
 * Moves values between the two layouts; `shape` is always the tfjs one. A `[in, out]` matrix is
 * a 1x1 HWIO kernel, so one index map (HWIO <-> OIHW) serves every layout, both ways.
 */
function relayout(where: string, layout: Layout, shape: readonly number[], data: Float32Array, toTorch: boolean): Float32Array {
  checkLayout(where, layout, shape);
  const size = shape.reduce((a, b) => a * b, 1);
  if (!(data instanceof Float32Array) || data.length !== size) {
    const got = data instanceof Float32Array ? `${data.length} values` : (data as object)?.constructor?.name ?? describeValue(data);
    throw new RangeError(`${where}: data must be a Float32Array of ${size} values for tfjs shape ${shapeText(shape)}, got ${got}`);
  }
  if (layout === 'plain') return data.slice();
  const [kh, kw, ci, co] = (layout === 'conv2d' ? shape : [1, 1, shape[0]!, shape[1]!]) as [number, number, number, number];
  const out = new Float32Array(size);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < ci; i++)
        for (let o = 0; o < co; o++) {
          const tfIndex = ((y * kw + x) * ci + i) * co + o;
          const torchIndex = ((o * ci + i) * kh + y) * kw + x;
          if (toTorch) out[torchIndex] = data[tfIndex]!;
          else out[tfIndex] = data[torchIndex]!;
        }
  return out;
}

/** Permutes plain data from tfjs layout to PyTorch layout (exact: only moves values). */
export function toTorchLayout(layout: Layout, shape: readonly number[], data: Float32Array): Float32Array {
  return relayout('toTorchLayout', layout, shape, data, true);
}

/** Inverse of `toTorchLayout`; `shape` is the tfjs shape. */
export function fromTorchLayout(layout: Layout, shape: readonly number[], data: Float32Array): Float32Array {
  return relayout('fromTorchLayout', layout, shape, data, false);
}
