import type * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { counterNormal } from './counter-normal.js';

/**
 * Per-example noise: the reason a sample does not depend on the batch it was drawn in.
 *
 * Example `i` (counted from `firstExample`, over all batches of a run) has its own Threefry key,
 * the first two words of `createRng(seed).fork(i)`, and its `d`-th draw is `counterNormal` with
 * that key and counter `d`, in an order fixed by the sampler's moves alone. Splitting a run of 4
 * into 2 + 2 (`firstExample = 2` for the second half) therefore reproduces every example's noise;
 * and since the values are addressed rather than streamed, a backend with the `MtdCounterNormal`
 * kernel draws them on the device (the same numbers, up to float32 rounding of log, sin, cos).
 */
export class ExampleNoise {
  private readonly keys: Uint32Array;
  private draws = 0;

  constructor(
    seed: number,
    firstExample: number,
    batch: number,
    private readonly shape: readonly number[],
  ) {
    const root = createRng(seed);
    this.keys = new Uint32Array(2 * batch);
    for (let b = 0; b < batch; b++) {
      const stream = root.fork(firstExample + b);
      this.keys[2 * b] = stream.nextUint32();
      this.keys[2 * b + 1] = stream.nextUint32();
    }
  }

  /** Every example's next `prod(shape)` normals, as a float32 `[B, ...shape]` tensor. */
  next(): tf.Tensor {
    return counterNormal(this.keys, this.draws++, [this.keys.length / 2, ...this.shape]);
  }
}
