import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '@mtd/random';

/**
 * Per-example noise streams: the reason a sample does not depend on the batch it was drawn in.
 *
 * Example `i` (counted from `firstExample`, over all batches of a run) draws all of its noise
 * from its own stream `createRng(seed).fork(i)`, in an order fixed by the sampler's moves alone.
 * Splitting a run of 4 into 2 + 2 (`firstExample = 2` for the second half) therefore reproduces
 * every example's noise bit for bit. Noise is drawn in float64 and rounded to float32.
 */
export class ExampleNoise {
  private readonly streams: Rng[];

  constructor(
    seed: number,
    firstExample: number,
    batch: number,
    private readonly shape: readonly number[],
  ) {
    const root = createRng(seed);
    this.streams = Array.from({ length: batch }, (_, b) => root.fork(firstExample + b));
  }

  /** The next `prod(shape)` normals of every example's stream, as a float32 `[B, ...shape]` tensor. */
  next(): tf.Tensor {
    const size = this.shape.reduce((a, d) => a * d, 1);
    const out = new Float32Array(this.streams.length * size);
    this.streams.forEach((rng, b) => rng.fillNormal(out.subarray(b * size, (b + 1) * size)));
    return tf.tensor(out, [this.streams.length, ...this.shape], 'float32');
  }
}
