import * as tf from '@tensorflow/tfjs';
import { combine, perExample } from './coefficients.js';
import { prepare, type AggregationArgs } from './prepare.js';

export interface PosteriorArgs extends AggregationArgs {
  z0: tf.Tensor;
  zt: tf.Tensor;
}

export interface PosteriorResult {
  /** `muTilde_t`, shaped like `zt`. */
  mean: tf.Tensor;
  /** `betaTilde_t` (DDPM's "fixed small"), shaped `[B, 1, ..., 1]` to broadcast against `mean`. */
  variance: tf.Tensor;
}

/**
 * The forward posterior `q(z_{t-1} | z_t, z_0, x)` of MATH.md 2 (paper eq. 5):
 * `muTilde_t = sqrt(alphaBar_{t-1}) beta_t / (1 - alphaBar_t) z_0
 *            + sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t) (z_t - a_t)
 *            + beta_t / (1 - alphaBar_t) A_{t-1}`,  variance `betaTilde_t`.
 * The `a_t` and `A_{t-1}` terms are folded into one float64 coefficient per modality,
 * `beta_t / (1 - alphaBar_t) lambda_{t-1,i} - sqrt(alpha_t) (1 - alphaBar_{t-1}) / (1 - alphaBar_t) w_{t,i}`,
 * so each encoding is read once. To use a clipped `z_0` estimate, pass it as `z0`.
 */
export function posteriorMeanVariance(args: PosteriorArgs): PosteriorResult {
  return tf.tidy(() => {
    const p = prepare('posteriorMeanVariance', args, [
      ['z0', args.z0],
      ['zt', args.zt],
    ]);
    const s = p.schedule;
    const c0 = (t: number) => (Math.sqrt(s.alphaBarsPrev[t - 1]!) * s.betas[t - 1]!) / (1 - s.alphaBars[t - 1]!);
    const c1 = (t: number) =>
      (Math.sqrt(s.alphas[t - 1]!) * (1 - s.alphaBarsPrev[t - 1]!)) / (1 - s.alphaBars[t - 1]!);
    const c2 = (t: number) => s.betas[t - 1]! / (1 - s.alphaBars[t - 1]!);
    const columns = perExample(
      [
        c0,
        c1,
        (t: number) => s.posteriorVariance[t - 1]!,
        ...p.encodings.map((_, i) => (t: number) => c2(t) * p.lambda[i]![t - 1]! - c1(t) * p.w[i]![t - 1]!),
      ],
      p.T,
      p.t,
      p.rank,
    );
    const mean = combine([
      [columns[0]!, args.z0],
      [columns[1]!, args.zt],
      ...p.encodings.map((e, i): [tf.Tensor, tf.Tensor] => [columns[3 + i]!, e]),
    ]);
    return { mean, variance: columns[2]! };
  });
}

export interface FromEpsArgs extends AggregationArgs {
  zt: tf.Tensor;
  /** The noise (or the model's estimate `epsilon_theta(z_t, t)`), shaped like `zt`. */
  eps: tf.Tensor;
}

/**
 * `z_0` from `z_t` and the noise, inverting the marginal (MATH.md 2):
 * `z_0 = (z_t - A_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t)`.
 */
export function predictZ0FromEps(args: FromEpsArgs): tf.Tensor {
  return tf.tidy(() => {
    const p = prepare('predictZ0FromEps', args, [
      ['zt', args.zt],
      ['eps', args.eps],
    ]);
    const ab = p.schedule.alphaBars;
    const columns = perExample(
      [
        (t: number) => 1 / Math.sqrt(ab[t - 1]!),
        (t: number) => -Math.sqrt((1 - ab[t - 1]!) / ab[t - 1]!),
        ...p.lambda.map((l) => (t: number) => -l[t]! / Math.sqrt(ab[t - 1]!)),
      ],
      p.T,
      p.t,
      p.rank,
    );
    return combine([
      [columns[0]!, args.zt],
      [columns[1]!, args.eps],
      ...p.encodings.map((e, i): [tf.Tensor, tf.Tensor] => [columns[2 + i]!, e]),
    ]);
  });
}

/**
 * The posterior mean in noise form (MATH.md 2, form 2; the sampler's `mu_theta`, MATH.md 3):
 * `muTilde_t = (z_t - A_t - beta_t / sqrt(1 - alphaBar_t) eps) / sqrt(alpha_t) + A_{t-1}`.
 * Since `A_t - sqrt(alpha_t) A_{t-1} = a_t`, this is computed as
 * `(z_t - a_t - beta_t / sqrt(1 - alphaBar_t) eps) / sqrt(alpha_t)`, which avoids subtracting the
 * two large aggregates from each other.
 */
export function posteriorMeanFromEps(args: FromEpsArgs): tf.Tensor {
  return tf.tidy(() => {
    const p = prepare('posteriorMeanFromEps', args, [
      ['zt', args.zt],
      ['eps', args.eps],
    ]);
    const s = p.schedule;
    const columns = perExample(
      [
        (t: number) => 1 / Math.sqrt(s.alphas[t - 1]!),
        (t: number) => -s.betas[t - 1]! / (Math.sqrt(s.alphas[t - 1]!) * Math.sqrt(1 - s.alphaBars[t - 1]!)),
        ...p.w.map((w) => (t: number) => -w[t - 1]! / Math.sqrt(s.alphas[t - 1]!)),
      ],
      p.T,
      p.t,
      p.rank,
    );
    return combine([
      [columns[0]!, args.zt],
      [columns[1]!, args.eps],
      ...p.encodings.map((e, i): [tf.Tensor, tf.Tensor] => [columns[2 + i]!, e]),
    ]);
  });
}
