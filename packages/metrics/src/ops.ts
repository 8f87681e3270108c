import * as tf from '@tensorflow/tfjs';

/** tfjs types customGrad's callback with a rest parameter; ours have fixed arity. */
type CustomGradFn = Parameters<typeof tf.customGrad>[0];

/**
 * The few ops the feature network is built from, written so that training needs only kernels
 * every tfjs backend has and that are fast on the wasm backend (PLATFORM.md):
 *
 * - wasm has no Conv2DBackpropFilter kernel, so convolutions are im2col + matMul;
 * - wasm's matMul with a transpose flag is ~10x slower than an explicit transpose followed by a
 *   plain matMul (measured: 450 ms vs 50 ms for the 25088x288 by 288x64 products of one batch),
 *   and the built-in matMul gradient uses the flags; so both ops here carry their own gradient
 *   written with explicit transposes;
 * - concat's gradient (SplitV along the channel axis) and the strided slices of a second im2col are
 *   slow on wasm too; the input gradient of a 3x3 'same' convolution is itself a 3x3 'same'
 *   convolution of the output gradient with the flipped, in/out-swapped kernel, so it is computed
 *   with the forward Conv2D kernel every backend has (XNNPACK on wasm), not Conv2DBackpropInput.
 *   Measured on wasm, batch 128: a training step of the feature net drops from ~510 ms to ~360 ms.
 */

/** `a @ b` with a gradient that uses explicit transposes (see above). */
export const matMul = tf.customGrad(((a: tf.Tensor, b: tf.Tensor, save: tf.GradSaveFunc) => {
  save([a, b]);
  return {
    value: tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sa, sb] = saved as [tf.Tensor2D, tf.Tensor2D];
      return [tf.matMul(dy as tf.Tensor2D, tf.transpose(sb)), tf.matMul(tf.transpose(sa), dy as tf.Tensor2D)];
    },
  };
}) as unknown as CustomGradFn) as (a: tf.Tensor2D, b: tf.Tensor2D) => tf.Tensor2D;

/**
 * The im2col matrix of a 3x3 'same' convolution: `[B*H*W, 9*C]`, column `(dy*3 + dx)*C + c` holds
 * input channel `c` at offset `(dy - 1, dx - 1)`, zero outside the image. With this column order a
 * `[9*C, Cout]` weight is exactly an HWIO `[3, 3, C, Cout]` kernel reshaped.
 */
export function im2col3x3(x: tf.Tensor4D): tf.Tensor2D {
  return tf.tidy(() => {
    const [b, h, w, c] = x.shape;
    const padded = tf.pad(x, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
    const shifted: tf.Tensor4D[] = [];
    for (let dy = 0; dy < 3; dy++) {
      for (let dx = 0; dx < 3; dx++) shifted.push(tf.slice(padded, [0, dy, dx, 0], [b, h, w, c]));
    }
    return tf.reshape(tf.concat(shifted, 3), [b * h * w, 9 * c]);
  });
}

/** `[9*Cin, Cout]` -> HWIO `[3, 3, Cout, Cin]`: the kernel of the transposed (input-gradient) convolution. */
function flippedKernel(w: tf.Tensor2D, cin: number, cout: number): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.reverse(tf.reshape(w, [3, 3, cin, cout]), [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D);
}

function conv3x3Value(x: tf.Tensor4D, w: tf.Tensor2D): { col: tf.Tensor2D; y: tf.Tensor4D } {
  const [b, h, wd] = x.shape;
  const col = im2col3x3(x);
  return { col, y: tf.reshape(tf.matMul(col, w), [b, h, wd, w.shape[1]]) };
}

function makeConv(inputGradient: boolean): (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D {
  return tf.customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
    const x4 = x as tf.Tensor4D;
    const w2 = w as tf.Tensor2D;
    const { col, y } = conv3x3Value(x4, w2);
    save([col, w2]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [sCol, sW] = saved as [tf.Tensor2D, tf.Tensor2D];
        const [b, h, wd, cin] = x4.shape;
        const cout = sW.shape[1];
        const dy2 = tf.reshape(dy, [b * h * wd, cout]) as tf.Tensor2D;
        const dW = tf.matMul(tf.transpose(sCol), dy2);
        // The network's input needs no gradient: skip the largest transposed convolution.
        const dx = inputGradient ? tf.conv2d(dy as tf.Tensor4D, flippedKernel(sW, cin, cout), 1, 'same') : tf.zerosLike(x4);
        return [dx, dW];
      },
    };
  }) as unknown as CustomGradFn) as (x: tf.Tensor4D, w: tf.Tensor2D) => tf.Tensor4D;
}

const convWithInputGrad = makeConv(true);
const convWithoutInputGrad = makeConv(false);

/**
 * 3x3 convolution, stride 1, 'same' zero padding, of NHWC `x` with a `[9*Cin, Cout]` weight
 * (an HWIO kernel reshaped). `inputGradient: false` returns a zero gradient for `x`, for the first
 * layer of a network, whose input is data.
 */
export function conv3x3(x: tf.Tensor4D, w: tf.Tensor2D, options: { inputGradient?: boolean } = {}): tf.Tensor4D {
  return options.inputGradient === false ? convWithoutInputGrad(x, w) : convWithInputGrad(x, w);
}

/**
 * 2x2 max pooling, stride 2 ('valid'). tfjs's own MaxPool: unlike Conv2DBackpropFilter, its
 * gradient kernel (MaxPoolGrad) exists on every backend, wasm included. A reshape + max
 * formulation also avoids MaxPoolGrad but its gradient is a broadcasting Equal, which wasm runs
 * slowly (measured: 0.94 s of a 1.8 s training step). Max rather than average pooling: the same
 * network reached 89.9% on Fashion-MNIST with average pooling after 4 epochs.
 */
export function maxPool2x2(x: tf.Tensor4D): tf.Tensor4D {
  return tf.maxPool(x, 2, 2, 'valid');
}
