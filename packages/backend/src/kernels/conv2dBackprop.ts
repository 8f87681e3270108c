import * as tf from '@tensorflow/tfjs';

/**
 * The two convolution gradients written with ops every backend has (transpose, pad, slice,
 * conv2d; and an im2col + matMul alternative), so a backend's fast conv does the work:
 *
 * - wasm has no `Conv2DBackpropFilter` kernel at all, and its `Conv2DBackpropInput` is a scalar
 *   loop 3-20x slower than the same sum through its (XNNPACK) conv2d;
 * - cpu's `Conv2DBackpropFilter` runs at ~0.01 GFLOP/s, against ~0.4 for its conv2d.
 *
 * Conventions are tfjs's: NHWC (NCHW is transposed in and out), filter `[kh, kw, inC, outC]`,
 * dilation 1 (tfjs's conv2d gradient rejects dilation > 1 before any kernel runs), one group.
 * Padding comes from `backend_util.computeConv2DInfo`, so 'same', 'valid' and explicit padding and
 * the rounding mode match the forward conv exactly.
 */

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
type DataFormat = 'NHWC' | 'NCHW';

export interface Conv2DBackpropFilterArgs {
  x: tf.Tensor4D;
  dy: tf.Tensor4D;
  filterShape: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: DataFormat;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

export interface Conv2DBackpropInputArgs {
  dy: tf.Tensor4D;
  filter: tf.Tensor4D;
  inputShape: [number, number, number, number];
  strides: number | [number, number];
  pad: Pad;
  dataFormat?: DataFormat;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function toNhwc(t: tf.Tensor4D, dataFormat: DataFormat): tf.Tensor4D {
  return dataFormat === 'NCHW' ? tf.transpose(t, [0, 2, 3, 1]) : t;
}

function shapeToNhwc(s: [number, number, number, number], dataFormat: DataFormat): [number, number, number, number] {
  return dataFormat === 'NCHW' ? [s[0], s[2], s[3], s[1]] : s;
}

/**
 * Strides and the forward conv's top/left padding, from `computeConv2DInfo` so that 'same',
 * 'valid', explicit padding and the rounding mode match the forward conv exactly.
 */
function forwardGeometry(
  xShape: [number, number, number, number],
  filterShape: [number, number, number, number],
  args: { strides: number | [number, number]; pad: Pad; dimRoundingMode?: 'floor' | 'round' | 'ceil' },
): { sh: number; sw: number; top: number; left: number } {
  const info = tf.backend_util.computeConv2DInfo(xShape, filterShape, args.strides, 1, args.pad, args.dimRoundingMode, false, 'channelsLast');
  return { sh: info.strideHeight, sw: info.strideWidth, top: info.padInfo.top, left: info.padInfo.left };
}

/**
 * Pads (positive amounts) or crops (negative amounts) the two spatial axes of an NHWC tensor, so
 * padding arithmetic that goes negative at the far edge needs no special cases.
 */
function padOrCrop(t: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = t.shape;
  const cropTop = Math.max(0, -top);
  const cropBottom = Math.max(0, -bottom);
  const cropLeft = Math.max(0, -left);
  const cropRight = Math.max(0, -right);
  let out = t;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    out = tf.slice(out, [0, cropTop, cropLeft, 0], [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c]);
  }
  const padTop = Math.max(0, top);
  const padBottom = Math.max(0, bottom);
  const padLeft = Math.max(0, left);
  const padRight = Math.max(0, right);
  if (padTop + padBottom + padLeft + padRight > 0) {
    out = tf.pad(out, [
      [0, 0],
      [padTop, padBottom],
      [padLeft, padRight],
      [0, 0],
    ]);
  }
  return out;
}

/**
 * `dW[i, j, ci, co] = sum_{n, oh, ow} x[n, oh*sh + i - top, ow*sw + j - left, ci] * dy[n, oh, ow, co]`
 * (zero outside x), by im2col: the `kh*kw` shifted, strided views of the padded input are
 * concatenated on the channel axis into patches `[N*Ho*Wo, kh*kw*Ci]`, then one matMul with `dy`.
 * Registered for webgpu, where matMul is the fastest kernel (issue 7's profile: ~7 ms against the
 * built-in's 159 ms for a 32x32x64 layer); on wasm and cpu `conv2dBackpropFilterViaConv` is 2-30x
 * faster (wasm's strided slices are scalar loops and its transposed matMul skips XNNPACK). It
 * costs `kh*kw` input copies.
 */
export function conv2dBackpropFilterViaMatMul(args: Conv2DBackpropFilterArgs, options: FilterMatMulOptions = {}): tf.Tensor4D {
  const dataFormat = args.dataFormat ?? 'NHWC';
  return tf.tidy(() => {
    const x = toNhwc(args.x, dataFormat);
    const dy = toNhwc(args.dy, dataFormat);
    const [kh, kw, inC, outC] = args.filterShape;
    const { sh, sw, top, left } = forwardGeometry(x.shape, args.filterShape, args);
    const [n, h, w] = x.shape;
    // dy's own size, not info's: tfjs's conv2d gradient drops dimRoundingMode, so trust the data.
    const [, oh, ow] = dy.shape;
    // Rows the last window reaches; anything below it is never read (negative = crop).
    const needH = (oh - 1) * sh + kh;
    const needW = (ow - 1) * sw + kw;
    const xp = padOrCrop(x, top, needH - h - top, left, needW - w - left);
    const rows = n * oh * ow;
    const cols = kh * kw * inC;
    const columns: tf.Tensor4D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        columns.push(
          tf.stridedSlice(xp, [0, i, j, 0], [n, i + (oh - 1) * sh + 1, j + (ow - 1) * sw + 1, inC], [1, sh, sw, 1]) as tf.Tensor4D,
        );
      }
    }
    const patches = columns.length === 1 ? columns[0]! : tf.concat(columns, 3);
    const splits = splitCount(rows, cols, outC, options.splits ?? 'auto');
    if (splits === 1) {
      const dW = tf.matMul(patches.reshape([rows, cols]), dy.reshape([rows, outC]), true, false);
      return dW.reshape([kh, kw, inC, outC]);
    }
    // Split-K: the rows (the reduction axis) in `splits` slabs, one batched matMul, then a sum.
    const part = rows / splits;
    const partial = tf.matMul(patches.reshape([splits, part, cols]), dy.reshape([splits, part, outC]), true, false);
    return tf.sum(partial, 0).reshape([kh, kw, inC, outC]);
  });
}

/** Options of `conv2dBackpropFilterViaMatMul`. */
export interface FilterMatMulOptions {
  /**
   * Split the matMul's reduction axis (`N*Ho*Wo` rows) into this many slabs, multiplied as one
   * batch and summed (split-K). The gradient `[kh*kw*Ci, Co]` is small and its reduction long,
   * so an unsplit matMul runs on a few dozen workgroups (36 for a 3x3 64->64 conv) while the rest of
   * the GPU idles. A number is an upper bound (the largest divisor of the row count not above it
   * is used); `'auto'` (default) aims at ~512 output tiles of 32x32 with at least 256 rows a slab.
   */
  splits?: number | 'auto';
}

/** Output tiles the split aims at: a few per multiprocessor of a large GPU (132 on an H100). */
const TARGET_TILES = 512;
/** The fewest rows a slab keeps, so the extra sum stays small beside the matMul. */
const MIN_ROWS_PER_SPLIT = 256;

/**
 * How many slabs a filter gradient's reduction over `rows` should be cut into (at least 1): about
 * TARGET_TILES 32x32 output tiles in all, MIN_ROWS_PER_SPLIT rows a slab at least. Shared by the
 * im2col form and the WGSL kernel.
 */
export function filterGradientSplits(rows: number, cols: number, outC: number): number {
  const tiles = Math.ceil(cols / 32) * Math.ceil(outC / 32);
  return Math.max(1, Math.min(Math.ceil(TARGET_TILES / tiles), Math.floor(rows / MIN_ROWS_PER_SPLIT)));
}

/** The largest divisor of `rows` not above the bound: how many equal slabs. */
function splitCount(rows: number, cols: number, outC: number, splits: number | 'auto'): number {
  if (splits !== 'auto' && (!Number.isInteger(splits) || splits < 1)) {
    throw new RangeError(`conv2dBackpropFilterViaMatMul: options.splits must be 'auto' or an integer >= 1, got ${String(splits)}`);
  }
  const bound = splits === 'auto' ? filterGradientSplits(rows, cols, outC) : splits;
  for (let s = Math.min(bound, rows); s > 1; s--) if (rows % s === 0) return s;
  return 1;
}

/**
 * The same `dW` as a convolution: with the batch axis moved to channels, `dW` is the correlation
 * of the input `[Ci, H, W, N]` (images = input channels) with `dy` as the filter `[Ho, Wo, N, Co]`,
 * the forward stride becoming the dilation. It reads the input once, with no patch matrix, and
 * lets the backend's conv (XNNPACK on wasm) do the GEMM: on wasm this is 8-30x faster than the
 * im2col form (its strided slices are scalar loops and its transposed matMul is unpacked).
 */
export function conv2dBackpropFilterViaConv(args: Conv2DBackpropFilterArgs): tf.Tensor4D {
  const dataFormat = args.dataFormat ?? 'NHWC';
  return tf.tidy(() => {
    const x = toNhwc(args.x, dataFormat);
    const dy = toNhwc(args.dy, dataFormat);
    const [kh, kw] = args.filterShape;
    const { sh, sw, top, left } = forwardGeometry(x.shape, args.filterShape, args);
    const [, h, w] = x.shape;
    const [, oh, ow] = dy.shape;
    const images = tf.transpose(x, [3, 1, 2, 0]) as tf.Tensor4D;
    const padded = padOrCrop(images, top, (oh - 1) * sh + kh - h - top, left, (ow - 1) * sw + kw - w - left);
    const filter = tf.transpose(dy, [1, 2, 0, 3]) as tf.Tensor4D;
    const dWt = tf.conv2d(padded, filter, 1, 'valid', 'NHWC', [sh, sw]);
    return tf.transpose(dWt, [1, 2, 0, 3]) as tf.Tensor4D;
  });
}

/** Options of `conv2dBackpropInputViaConv`. */
export interface InputConvOptions {
  /**
   * Let the conv pad `dy` (explicit padding) instead of a separate pad kernel, where no side
   * needs cropping. Off by default: the results are the same sums, but wasm's committed training
   * runs were made with the separate pad and are kept bit for bit; webgpu's registration turns it on.
   */
  convPads?: boolean;
}

/**
 * `dx[n, h, w, ci] = sum_{i, j, co} dy[n, oh, ow, co] * W[i, j, ci, co]` over `h = oh*sh + i - top`,
 * `w = ow*sw + j - left`: the stride-1 "full" convolution of the zero-dilated `dy` with the
 * spatially flipped, in/out-swapped filter. Padding: `top' = kh - 1 - top`, and the far side is
 * whatever makes the output exactly `H` (cropped when negative).
 */
export function conv2dBackpropInputViaConv(args: Conv2DBackpropInputArgs, options: InputConvOptions = {}): tf.Tensor4D {
  const dataFormat = args.dataFormat ?? 'NHWC';
  if (options.convPads !== undefined && typeof options.convPads !== 'boolean') {
    throw new TypeError(`conv2dBackpropInputViaConv: options.convPads must be a boolean, got ${String(options.convPads)}`);
  }
  const result = tf.tidy(() => {
    const dy = toNhwc(args.dy, dataFormat);
    const inputShape = shapeToNhwc(args.inputShape, dataFormat);
    const [kh, kw, , outC] = args.filter.shape;
    const fwd = forwardGeometry(inputShape, args.filter.shape, args);
    const { sh, sw } = fwd;
    const [n, oh, ow] = dy.shape;
    const [, h, w] = inputShape;
    // Insert sh-1 zero rows after every row, then sw-1 zero columns after every column: reshape,
    // pad, reshape, one axis at a time so no tensor exceeds rank 4 (WebGPU's Pad shader fails to
    // compile for rank 6 and then returns garbage without throwing).
    let dilated = dy;
    if (sh > 1) {
      dilated = tf.pad(dilated.reshape([n * oh, 1, ow * outC]), [[0, 0], [0, sh - 1], [0, 0]]).reshape([n, oh * sh, ow, outC]);
    }
    if (sw > 1) {
      dilated = tf.pad(dilated.reshape([n * oh * sh, ow, 1, outC]), [[0, 0], [0, 0], [0, sw - 1], [0, 0]]).reshape([n, oh * sh, ow * sw, outC]);
    }
    const top = kh - 1 - fwd.top;
    const left = kw - 1 - fwd.left;
    const bottom = h + kh - 1 - oh * sh - top;
    const right = w + kw - 1 - ow * sw - left;
    const flipped = tf.transpose(tf.reverse(args.filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    // Padding the conv does itself saves a copy of dy (and a kernel); cropping needs the copy.
    if (options.convPads === true && Math.min(top, bottom, left, right) >= 0) {
      return tf.conv2d(dilated, flipped, 1, [[0, 0], [top, bottom], [left, right], [0, 0]]);
    }
    return tf.conv2d(padOrCrop(dilated, top, bottom, left, right), flipped, 1, 'valid');
  });
  if (dataFormat === 'NCHW') {
    const nchw = tf.transpose(result, [0, 3, 1, 2]);
    result.dispose();
    return nchw;
  }
  return result;
}
