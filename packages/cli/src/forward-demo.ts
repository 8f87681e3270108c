import * as tf from '@tensorflow/tfjs';
import { aggregate, constantWeight, lambdas, qSample, sqrtAlphaBarWeight, type WeightSchedule } from '@mtd/aggregation';
import { createRng } from '@mtd/random';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { fmt, formatTable } from './table.js';

export interface ForwardDemoOptions {
  schedule?: 'linear' | 'cosine';
  T?: number;
  /** Image side of the toy modality pair. */
  size?: number;
  /** Forward samples drawn per timestep for the marginal check. */
  samples?: number;
  seed?: number;
}

export interface ForwardDemoRow {
  t: number;
  beta: number;
  alphaBar: number;
  posteriorVariance: number;
  lambdas: number[];
  /** Largest |empirical mean - closed-form mean| over pixels, in standard errors. */
  meanErrorSE: number;
  /** Empirical variance / closed-form variance, averaged over pixels. */
  varianceRatio: number;
}

export interface ForwardDemoReport {
  schedule: string;
  T: number;
  seed: number;
  samples: number;
  weights: string[];
  /** lambda_T per modality (MATH.md 7: large values mismatch unconditional sampling from N(0, I)). */
  lambdaT: number[];
  rows: ForwardDemoRow[];
  text: string;
}

/**
 * The main job until the examples exist: print a schedule, and draw z_t through the forward
 * aggregation of a two-modality toy (an image and its masked copy, both identity-encoded), checking
 * the samples against the closed-form marginal of MATH.md 2.
 */
export async function forwardDemo(options: ForwardDemoOptions = {}): Promise<ForwardDemoReport> {
  const { schedule: kind = 'cosine', T = 1000, size = 8, samples = 400, seed = 0 } = options;
  if (kind !== 'linear' && kind !== 'cosine') throw new RangeError(`forwardDemo: schedule must be 'linear' or 'cosine', got ${String(kind)}`);
  if (!Number.isInteger(samples) || samples < 2) throw new RangeError(`forwardDemo: samples must be an integer >= 2, got ${samples}`);
  const schedule: Schedule = kind === 'linear' ? linearSchedule({ T }) : cosineSchedule({ T });
  const weights: WeightSchedule[] = [constantWeight(0.002), sqrtAlphaBarWeight(0.004)];
  const lam = lambdas(schedule, weights);
  const rng = createRng(seed);

  // A smooth image in [-1, 1] and its copy with the centre patch zeroed.
  const n = size * size;
  const image = new Float32Array(n);
  for (let i = 0; i < size; i++) for (let j = 0; j < size; j++) image[i * size + j] = Math.sin((i + 1) / 2) * Math.cos(j / 3);
  const masked = image.slice();
  const lo = Math.floor(size / 4);
  const hi = size - lo;
  for (let i = lo; i < hi; i++) for (let j = lo; j < hi; j++) masked[i * size + j] = 0;

  const checkpoints = [...new Set([1, Math.round(T / 4), Math.round(T / 2), Math.round((3 * T) / 4), T])].filter((t) => t >= 1);
  const rows: ForwardDemoRow[] = [];
  for (const t of checkpoints) {
    const { zt, mean } = tf.tidy(() => {
      const z0 = tf.tensor4d(image, [1, size, size, 1]).tile([samples, 1, 1, 1]);
      const e = tf.tensor4d(masked, [1, size, size, 1]).tile([samples, 1, 1, 1]);
      const encodings = [e, e];
      const tt = tf.fill([samples], t, 'int32') as tf.Tensor1D;
      const noise = tf.tensor4d(rng.fillNormal(new Float32Array(samples * n)), [samples, size, size, 1]);
      const z = qSample({ schedule, weights, t: tt, z0, encodings, noise });
      const { A_t } = aggregate({ schedule, weights, t: tt, encodings });
      // MATH.md 2 marginal mean: sqrt(alphaBar_t) z0 + A_t.
      const m = tf.add(tf.mul(z0, Math.sqrt(schedule.alphaBars[t - 1]!)), A_t);
      return { zt: z, mean: m.slice([0, 0, 0, 0], [1, size, size, 1]) };
    });
    const zs = (await zt.data()) as Float32Array;
    const mu = (await mean.data()) as Float32Array;
    zt.dispose();
    mean.dispose();
    const variance = 1 - schedule.alphaBars[t - 1]!;
    let worstSE = 0;
    let ratio = 0;
    for (let p = 0; p < n; p++) {
      let s = 0;
      let s2 = 0;
      for (let b = 0; b < samples; b++) {
        const v = zs[b * n + p]!;
        s += v;
        s2 += v * v;
      }
      const m = s / samples;
      const v = (s2 - samples * m * m) / (samples - 1);
      worstSE = Math.max(worstSE, Math.abs(m - mu[p]!) / Math.sqrt(variance / samples));
      ratio += v / variance / n;
    }
    rows.push({
      t,
      beta: schedule.betas[t - 1]!,
      alphaBar: schedule.alphaBars[t - 1]!,
      posteriorVariance: schedule.posteriorVariance[t - 1]!,
      lambdas: lam.map((l) => l[t - 1]!),
      meanErrorSE: worstSE,
      varianceRatio: ratio,
    });
  }

  const lambdaT = lam.map((l) => l[T - 1]!);
  const table = formatTable(
    ['t', 'beta_t', 'alphaBar_t', 'betaTilde_t', ...weights.map((w) => `lambda_t ${w.description}`), 'mean err (SE)', 'var ratio'],
    rows.map((r) => [
      String(r.t),
      fmt(r.beta),
      fmt(r.alphaBar),
      fmt(r.posteriorVariance),
      ...r.lambdas.map((l) => fmt(l)),
      fmt(r.meanErrorSE, 2),
      fmt(r.varianceRatio, 3),
    ]),
  );
  const text = [
    `MT-Diffusion forward aggregation: ${kind} schedule, T = ${T}, seed ${seed}`,
    `modalities: image z0 (${size}x${size}) with two identity-encoded masked copies, weights ${weights.map((w) => w.description).join(' and ')}`,
    `z_t drawn ${samples} times per timestep through qSample and checked against the closed-form marginal`,
    `N(sqrt(alphaBar_t) z0 + A_t, (1 - alphaBar_t) I) (MATH.md 2):`,
    '',
    table,
    '',
    `lambda_T per modality: ${lambdaT.map((l) => fmt(l)).join(', ')} (MATH.md 7: the chain ends at N(A_T, I);`,
    'a constant weight lets lambda_t grow towards w / (1 - sqrt(alpha_t)); w_t = c sqrt(alphaBar_t) gives exactly c t sqrt(alphaBar_t)).',
  ].join('\n');
  return { schedule: kind, T, seed, samples, weights: weights.map((w) => w.description), lambdaT, rows, text };
}
