import * as tf from '@tensorflow/tfjs';
import { counterNormals } from '@mtd/random';

/**
 * The kernel name and contract that a backend may implement (`@mtd/backend` does for webgpu):
 * input `{ keys }` (int32 `[R, 2]`, key words as bits), attributes `{ counter, size }`, output
 * float32 `[R, size]` equal to `@mtd/random`'s `counterNormals(keys, counter, size)`.
 */
export const COUNTER_NORMAL_KERNEL = 'MtdCounterNormal';

/**
 * Standard normals shaped `shape` (the `eps ~ N(0, I)` of MATH.md 4 and the sampler's step noise,
 * MATH.md 6), addressed by key and counter rather than drawn from a stream:
 * the tensor's elements (row-major) are split into `keys.length / 2` equal rows, row `r` being
 * `counterNormals([keys[2r], keys[2r + 1]], counter, rowSize)` (`@mtd/random`: Threefry-2x32 and
 * Box-Muller). The same keys and counter give the same numbers on every backend: drawn on the
 * device where the backend registers `MtdCounterNormal` (webgpu through `@mtd/backend`: nothing
 * computed on or uploaded from the host), else computed on the host and uploaded.
 */
export function counterNormal(keys: Uint32Array | readonly number[] | tf.Tensor, counter: number, shape: readonly number[]): tf.Tensor {
  const where = 'counterNormal';
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new RangeError(`${where}: shape must be an array of integers >= 0, got ${JSON.stringify(shape)}`);
  }
  const size = shape.reduce((a, d) => a * d, 1);
  if (keys instanceof tf.Tensor) {
    // The key words as a tensor (int32 [R, 2], their bits): a per-step input of a step graph.
    if (keys.dtype !== 'int32' || keys.rank !== 2 || keys.shape[1] !== 2 || keys.shape[0]! < 1 || size % keys.shape[0]! !== 0) {
      throw new RangeError(`${where}: keys as a tensor must be int32 [R, 2] (the words' bits), R >= 1 dividing the ${size} elements of shape [${shape.join(', ')}], got ${keys.dtype} [${keys.shape.join(', ')}]`);
    }
    if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new RangeError(`${where}: counter must be an integer in 0..2^32-1, got ${counter}`);
    if (tf.getKernel(COUNTER_NORMAL_KERNEL, tf.getBackend()) === undefined) return counterNormal(new Uint32Array(Int32Array.from(keys.dataSync()).buffer), counter, shape);
    const rowSize = size / keys.shape[0]!;
    return tf.tidy(() => tf.reshape(tf.engine().runKernel(COUNTER_NORMAL_KERNEL, { keys }, { counter, size: rowSize }) as tf.Tensor, [...shape]));
  }
  const rows = keys.length / 2;
  if (!Number.isInteger(rows) || rows < 1 || size % rows !== 0) {
    throw new RangeError(`${where}: keys must hold two words for each of R rows, R >= 1 dividing the ${size} elements of shape [${shape.join(', ')}], got ${keys.length} words`);
  }
  for (let i = 0; i < keys.length; i++) {
    const w = keys[i]!;
    if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new RangeError(`${where}: keys[${i}] must be an integer in 0..2^32-1, got ${w}`);
  }
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new RangeError(`${where}: counter must be an integer in 0..2^32-1, got ${counter}`);
  const rowSize = size / rows;
  if (rowSize === 0 || tf.getKernel(COUNTER_NORMAL_KERNEL, tf.getBackend()) === undefined) {
    return tf.tensor(counterNormals(keys, counter, rowSize), [...shape], 'float32');
  }
  return tf.tidy(() => {
    const bits = tf.tensor2d(new Int32Array(Uint32Array.from(keys).buffer), [rows, 2], 'int32');
    const out = tf.engine().runKernel(COUNTER_NORMAL_KERNEL, { keys: bits }, { counter, size: rowSize }) as tf.Tensor;
    return tf.reshape(out, [...shape]);
  });
}
