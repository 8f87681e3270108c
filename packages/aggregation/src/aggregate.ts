import * as tf from '@tensorflow/tfjs';
import { combine, perExample } from './coefficients.js';
import { prepare, type AggregationArgs } from './prepare.js';

export interface AggregateArgs extends AggregationArgs {
  /** The shape of the results, needed only when there are no modalities (then all three are zeros). */
  shape?: readonly number[];
}

export interface AggregateResult {
  /** `A_t = sum_i lambda_{t,i} e_i`: the offset of the marginal mean at `t`. */
  A_t: tf.Tensor;
  /** `a_t = sum_i w_{t,i} e_i`: what one transition adds at `t`. */
  a_t: tf.Tensor;
  /** `A_{t-1}`, zero for examples at `t = 1` (`lambda_0 = 0`). */
  A_prev: tf.Tensor;
}

/**
 * The three aggregates of MATH.md 2 for a batch, each example at its own timestep. The results
 * are shaped like the encodings; the caller owns them.
 */
export function aggregate(args: AggregateArgs): AggregateResult {
  return tf.tidy(() => {
    const p = prepare('aggregate', args, [], args.shape);
    if (p.encodings.length === 0) {
      return { A_t: tf.zeros(p.shape), a_t: tf.zeros(p.shape), A_prev: tf.zeros(p.shape) };
    }
    const columns = perExample(
      p.encodings.flatMap((_, i) => [
        (t: number) => p.lambda[i]![t]!,
        (t: number) => p.w[i]![t - 1]!,
        (t: number) => p.lambda[i]![t - 1]!,
      ]),
      p.T,
      p.t,
      p.rank,
    );
    const pick = (offset: number) => combine(p.encodings.map((e, i) => [columns[3 * i + offset]!, e]));
    return { A_t: pick(0), a_t: pick(1), A_prev: pick(2) };
  });
}
