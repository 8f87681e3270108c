import * as tf from '@tensorflow/tfjs';
import { combine, perExample } from './coefficients.js';
import { prepare, type AggregationArgs } from './prepare.js';

export interface QSampleArgs extends AggregationArgs {
  /** Clean data in the diffusion space, `[B, ...]`. */
  z0: tf.Tensor;
  /** Standard normal noise shaped like `z0` (drawn by the caller, so every draw has a seed). */
  noise: tf.Tensor;
}

/**
 * A draw from the marginal (MATH.md 2, paper eq. 4; the training input of MATH.md 4):
 * `z_t = sqrt(alphaBar_t) z_0 + A_t + sqrt(1 - alphaBar_t) noise`.
 * Differentiable in `z0`, `noise` and the encodings.
 */
export function qSample(args: QSampleArgs): tf.Tensor {
  return tf.tidy(() => {
    const p = prepare('qSample', args, [
      ['z0', args.z0],
      ['noise', args.noise],
    ]);
    const ab = p.schedule.alphaBars;
    const columns = perExample(
      [
        (t: number) => Math.sqrt(ab[t - 1]!),
        (t: number) => Math.sqrt(1 - ab[t - 1]!),
        ...p.lambda.map((l) => (t: number) => l[t]!),
      ],
      p.T,
      p.t,
      p.rank,
    );
    return combine([
      [columns[0]!, args.z0],
      [columns[1]!, args.noise],
      ...p.encodings.map((e, i): [tf.Tensor, tf.Tensor] => [columns[2 + i]!, e]),
    ]);
  });
}
