import * as tf from '@tensorflow/tfjs';

/**
 * Per-example coefficients: turns float64 tables over `t` into float32 tensors shaped
 * `[B, 1, ..., 1]`, one value per example, ready to broadcast against `[B, ...]` data.
 *
 * Every table is computed in float64 on the host (ratios such as `beta_t / sqrt(1 - alphaBar_t)`
 * included) and rounded to float32 once, so no float32 arithmetic happens on schedule values.
 * The lookup is a `tf.gather` on the device, which works on every backend without reading `t`
 * back. Column 0 of the table (timestep 0, which no function takes) is NaN, so an unchecked
 * out-of-range `t` on webgpu shows up instead of passing silently.
 */
export function perExample(tables: readonly ((t: number) => number)[], T: number, t: tf.Tensor1D, rank: number): tf.Tensor[] {
  const K = tables.length;
  if (K === 0) return [];
  const host = new Float32Array(K * (T + 1));
  tables.forEach((f, k) => {
    host[k * (T + 1)] = Number.NaN;
    for (let s = 1; s <= T; s++) host[k * (T + 1) + s] = f(s);
  });
  const table = tf.tensor2d(host, [K, T + 1]);
  const B = t.shape[0];
  const picked = tf.gather(table, t, 1); // [K, B]
  const shape = [B, ...Array.from({ length: rank - 1 }, () => 1)];
  return tf.unstack(picked, 0).map((column) => tf.reshape(column, shape));
}

/** `sum_k c_k x_k` with per-example coefficients; the terms are all of one shape. */
export function combine(terms: readonly [tf.Tensor, tf.Tensor][]): tf.Tensor {
  const products = terms.map(([c, x]) => tf.mul(c, x));
  return products.length === 1 ? products[0]! : tf.addN(products);
}
