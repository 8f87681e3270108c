import * as tf from '@tensorflow/tfjs';

export interface MatmulGflopsOptions {
  /** Timed matMuls (default 5); their time is summed, so short runs average out. */
  repeats?: number;
  /** Untimed matMuls first (default 1): shader compilation, wasm warm-up, buffer allocation. */
  warmup?: number;
  /** Seed for the random operands (default 1). */
  seed?: number;
}

function positiveInteger(where: string, arg: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${where}: ${arg} must be an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/**
 * Dense matMul throughput of the active backend in GFLOP/s (`2 n^3` flops per product), the
 * yardstick printed beside every benchmark so numbers from different machines can be compared.
 *
 * The products are queued back to back and only a scalar (the sum of their sums) is read back:
 * downloading an `n x n` result would time the transfer, not the GPU (PLATFORM.md).
 */
export async function measureMatmulGflops(n = 1024, options: MatmulGflopsOptions = {}): Promise<number> {
  const where = 'measureMatmulGflops';
  positiveInteger(where, 'n', n, 1);
  const repeats = positiveInteger(where, 'options.repeats', options.repeats ?? 5, 1);
  const warmup = positiveInteger(where, 'options.warmup', options.warmup ?? 1, 0);
  const seed = options.seed ?? 1;
  const a = tf.randomUniform([n, n], -1, 1, 'float32', seed);
  const b = tf.randomUniform([n, n], -1, 1, 'float32', seed + 1);
  try {
    const run = async (count: number): Promise<void> => {
      const total = tf.tidy(() => {
        let acc = tf.scalar(0);
        for (let i = 0; i < count; i++) acc = tf.add(acc, tf.sum(tf.matMul(a, b)));
        return acc;
      });
      await total.data();
      total.dispose();
    };
    if (warmup > 0) await run(warmup);
    const start = performance.now();
    await run(repeats);
    const seconds = (performance.now() - start) / 1000;
    return (2 * n ** 3 * repeats) / seconds / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}
