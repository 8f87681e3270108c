import type { Schedule } from '@mtd/schedule';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkSchedule } from './validate.js';
import { isWeightSchedule, type WeightSchedule } from './weights.js';

/**
 * The float64 reference of MATH.md 2 on plain arrays, one example at a time.
 *
 * Every formula is written the way MATH.md states it (no algebraic shortcuts), so that the tensor
 * code, which does simplify, is checked against the contract and not against itself. Users can
 * check their own code against it the same way. Timesteps are 1-based numbers; vectors are any
 * `ArrayLike<number>` (a flattened example); results are Float64Arrays.
 */

export type Vec = ArrayLike<number>;
/** A WeightSchedule, or the canonical weights `w_t` directly (index `k` holding timestep `k + 1`). */
export type WeightInput = WeightSchedule | ArrayLike<number>;
export type Matrix = ArrayLike<ArrayLike<number>>;

export interface ReferenceArgs {
  schedule: Schedule;
  weights: readonly WeightInput[];
  /** 1-based timestep. */
  t: number;
  /** `e_i = E_i(x_i)`, one flattened vector per modality, all of the same length. */
  encodings: readonly Vec[];
}

/** Canonical `w_t` per modality (index `t - 1`). Arrays may hold any finite numbers here. */
function weightValues(where: string, schedule: Schedule, weights: readonly WeightInput[]): Float64Array[] {
  if (!Array.isArray(weights)) typeFail(where, 'weights', 'an array (one weight per modality)', weights);
  return weights.map((w, i) => {
    if (isWeightSchedule(w)) return w.values(schedule);
    if (w === null || typeof w !== 'object' || typeof (w as Vec).length !== 'number') {
      typeFail(where, `weights[${i}]`, 'a WeightSchedule or an array of T weights', w);
    }
    const arr = w as Vec;
    if (arr.length !== schedule.T) rangeFail(where, `weights[${i}].length`, `T = ${schedule.T}`, arr.length);
    const out = Float64Array.from(arr);
    out.forEach((v, k) => {
      if (!Number.isFinite(v)) rangeFail(where, `weights[${i}][${k}]`, 'a finite number', v);
    });
    return out;
  });
}

function checkT(where: string, schedule: Schedule, t: unknown, allowZero = false): number {
  const lo = allowZero ? 0 : 1;
  if (typeof t !== 'number' || !Number.isInteger(t) || t < lo || t > schedule.T) {
    rangeFail(where, 't', `an integer in ${lo}..${schedule.T}`, t);
  }
  return t;
}

function checkVectors(where: string, encodings: readonly Vec[], others: Record<string, Vec | undefined>): number {
  if (!Array.isArray(encodings)) typeFail(where, 'encodings', 'an array of vectors (one per modality)', encodings);
  let size: number | undefined;
  let sizeFrom = '';
  const see = (name: string, v: Vec | undefined) => {
    if (v === undefined) return;
    if (v === null || typeof v !== 'object' || typeof v.length !== 'number') typeFail(where, name, 'an array of numbers', v);
    if (size === undefined) {
      size = v.length;
      sizeFrom = name;
    } else if (v.length !== size) {
      rangeFail(where, `${name}.length`, `${size} (the length of ${sizeFrom})`, v.length);
    }
  };
  for (const [name, v] of Object.entries(others)) see(name, v);
  encodings.forEach((e, i) => see(`encodings[${i}]`, e));
  if (size === undefined) rangeFail(where, 'encodings', 'non-empty, or a size given', encodings);
  return size;
}

/** `lambda_{t,i}` per modality by the recursion of MATH.md 2; index `k` holds timestep `k + 1`. */
function lambdas(schedule: Schedule, weights: readonly WeightInput[]): Float64Array[] {
  checkSchedule('reference.lambdas', schedule);
  return weightValues('reference.lambdas', schedule, weights).map((w) => {
    const out = new Float64Array(schedule.T);
    let previous = 0; // lambda_0 = 0
    for (let t = 1; t <= schedule.T; t++) {
      const current = Math.sqrt(schedule.alphas[t - 1]!) * previous + w[t - 1]!;
      out[t - 1] = current;
      previous = current;
    }
    return out;
  });
}

export interface Aggregation {
  /** `A_t = sum_i lambda_{t,i} e_i`. */
  A_t: Float64Array;
  /** `a_t = sum_i w_{t,i} e_i`. */
  a_t: Float64Array;
  /** `A_{t-1}` (zero at `t = 1`, since `lambda_0 = 0`). */
  A_prev: Float64Array;
}

/** `A_t`, `a_t`, `A_{t-1}` (MATH.md 2). `size` is needed only when there are no modalities. */
function aggregate(args: ReferenceArgs & { size?: number }): Aggregation {
  const where = 'reference.aggregate';
  const { schedule, weights, encodings } = args;
  checkSchedule(where, schedule);
  const t = checkT(where, schedule, args.t);
  if (Array.isArray(encodings) && Array.isArray(weights) && encodings.length !== weights.length) {
    rangeFail(where, 'encodings.length', `weights.length = ${weights.length}`, encodings.length);
  }
  const D =
    Array.isArray(encodings) && encodings.length === 0 && args.size !== undefined
      ? args.size
      : checkVectors(where, encodings, {});
  if (args.size !== undefined && args.size !== D) rangeFail(where, 'size', `the encodings' length ${D}`, args.size);
  const w = weightValues(where, schedule, weights);
  const lam = lambdas(schedule, weights);
  const A_t = new Float64Array(D);
  const a_t = new Float64Array(D);
  const A_prev = new Float64Array(D);
  encodings.forEach((e, i) => {
    const lt = lam[i]![t - 1]!;
    const lp = t === 1 ? 0 : lam[i]![t - 2]!;
    const wt = w[i]![t - 1]!;
    for (let j = 0; j < D; j++) {
      A_t[j] = A_t[j]! + lt * e[j]!;
      a_t[j] = a_t[j]! + wt * e[j]!;
      A_prev[j] = A_prev[j]! + lp * e[j]!;
    }
  });
  return { A_t, a_t, A_prev };
}

function scheduleAt(schedule: Schedule, t: number) {
  const k = t - 1;
  return {
    beta: schedule.betas[k]!,
    alpha: schedule.alphas[k]!,
    alphaBar: schedule.alphaBars[k]!,
    alphaBarPrev: schedule.alphaBarsPrev[k]!,
  };
}

export interface Gaussian {
  mean: Float64Array;
  /** Isotropic: the covariance is `variance * I`. */
  variance: number;
}

/** The marginal `q(z_t | z_0, x) = N(sqrt(alphaBar_t) z_0 + A_t, (1 - alphaBar_t) I)` (paper eq. 4). */
function marginal(args: ReferenceArgs & { z0: Vec }): Gaussian {
  const where = 'reference.marginal';
  const D = checkVectors(where, args.encodings, { z0: args.z0 });
  const { A_t } = aggregate({ ...args, size: D });
  const { alphaBar } = scheduleAt(args.schedule, args.t);
  const mean = new Float64Array(D);
  for (let j = 0; j < D; j++) mean[j] = Math.sqrt(alphaBar) * args.z0[j]! + A_t[j]!;
  return { mean, variance: 1 - alphaBar };
}

/** A sample of the marginal: `z_t = sqrt(alphaBar_t) z_0 + A_t + sqrt(1 - alphaBar_t) noise` (MATH.md 2, 4). */
function qSample(args: ReferenceArgs & { z0: Vec; noise: Vec }): Float64Array {
  checkVectors('reference.qSample', args.encodings, { z0: args.z0, noise: args.noise });
  const { mean, variance } = marginal(args);
  return mean.map((m, j) => m + Math.sqrt(variance) * args.noise[j]!);
}

/** The posterior `q(z_{t-1} | z_t, z_0, x)` exactly as paper eq. 5 / MATH.md 2 write it. */
function posterior(args: ReferenceArgs & { z0: Vec; zt: Vec }): Gaussian {
  const where = 'reference.posterior';
  const D = checkVectors(where, args.encodings, { z0: args.z0, zt: args.zt });
  const { a_t, A_prev } = aggregate({ ...args, size: D });
  const { beta, alpha, alphaBar, alphaBarPrev } = scheduleAt(args.schedule, args.t);
  const mean = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    mean[j] =
      ((Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar)) * args.z0[j]! +
      ((Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar)) * (args.zt[j]! - a_t[j]!) +
      (beta / (1 - alphaBar)) * A_prev[j]!;
  }
  return { mean, variance: (beta * (1 - alphaBarPrev)) / (1 - alphaBar) };
}

/** Plain DDPM's posterior `q(z_{t-1} | z_t, z_0)` (Ho et al. 2020, eq. 7). */
function ddpmPosterior(args: { schedule: Schedule; t: number; z0: Vec; zt: Vec }): Gaussian {
  const where = 'reference.ddpmPosterior';
  checkSchedule(where, args.schedule);
  checkT(where, args.schedule, args.t);
  const D = checkVectors(where, [], { z0: args.z0, zt: args.zt });
  const { beta, alpha, alphaBar, alphaBarPrev } = scheduleAt(args.schedule, args.t);
  const mean = new Float64Array(D);
  for (let j = 0; j < D; j++) {
    mean[j] =
      ((Math.sqrt(alphaBarPrev) * beta) / (1 - alphaBar)) * args.z0[j]! +
      ((Math.sqrt(alpha) * (1 - alphaBarPrev)) / (1 - alphaBar)) * args.zt[j]!;
  }
  return { mean, variance: (beta * (1 - alphaBarPrev)) / (1 - alphaBar) };
}

/** Equivalent form 1 (shifted DDPM): `muTilde_t = muDDPM(z_t - A_t, z_0) + A_{t-1}`. */
function posteriorShifted(args: ReferenceArgs & { z0: Vec; zt: Vec }): Gaussian {
  const D = checkVectors('reference.posteriorShifted', args.encodings, { z0: args.z0, zt: args.zt });
  const { A_t, A_prev } = aggregate({ ...args, size: D });
  const y_t = Float64Array.from(args.zt, (v, j) => v - A_t[j]!);
  const ddpm = ddpmPosterior({ schedule: args.schedule, t: args.t, z0: args.z0, zt: y_t });
  return { mean: ddpm.mean.map((m, j) => m + A_prev[j]!), variance: ddpm.variance };
}

/** The noise that takes `z_0` to `z_t`: `eps = (z_t - sqrt(alphaBar_t) z_0 - A_t) / sqrt(1 - alphaBar_t)`. */
function epsFromZ0(args: ReferenceArgs & { z0: Vec; zt: Vec }): Float64Array {
  const D = checkVectors('reference.epsFromZ0', args.encodings, { z0: args.z0, zt: args.zt });
  const { A_t } = aggregate({ ...args, size: D });
  const { alphaBar } = scheduleAt(args.schedule, args.t);
  return Float64Array.from(
    args.zt,
    (z, j) => (z - Math.sqrt(alphaBar) * args.z0[j]! - A_t[j]!) / Math.sqrt(1 - alphaBar),
  );
}

/** Inverse of the marginal: `z_0 = (z_t - A_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t)`. */
function predictZ0FromEps(args: ReferenceArgs & { zt: Vec; eps: Vec }): Float64Array {
  const D = checkVectors('reference.predictZ0FromEps', args.encodings, { zt: args.zt, eps: args.eps });
  const { A_t } = aggregate({ ...args, size: D });
  const { alphaBar } = scheduleAt(args.schedule, args.t);
  return Float64Array.from(
    args.zt,
    (z, j) => (z - A_t[j]! - Math.sqrt(1 - alphaBar) * args.eps[j]!) / Math.sqrt(alphaBar),
  );
}

/**
 * Equivalent form 2 (noise form, MATH.md 2):
 * `muTilde_t = (z_t - A_t - beta_t / sqrt(1 - alphaBar_t) eps) / sqrt(alpha_t) + A_{t-1}`.
 */
function posteriorFromEps(args: ReferenceArgs & { zt: Vec; eps: Vec }): Float64Array {
  const D = checkVectors('reference.posteriorFromEps', args.encodings, { zt: args.zt, eps: args.eps });
  const { A_t, A_prev } = aggregate({ ...args, size: D });
  const { beta, alpha, alphaBar } = scheduleAt(args.schedule, args.t);
  return Float64Array.from(
    args.zt,
    (z, j) => (z - A_t[j]! - (beta / Math.sqrt(1 - alphaBar)) * args.eps[j]!) / Math.sqrt(alpha) + A_prev[j]!,
  );
}

// ---------------------------------------------------------------------------------------------
// Generic linear-Gaussian conditioning on dense matrices.

function toRows(where: string, name: string, m: Matrix, rows: number, cols: number): number[][] {
  if (!m || typeof m.length !== 'number' || m.length !== rows) rangeFail(where, name, `a ${rows} x ${cols} matrix`, m);
  return Array.from({ length: rows }, (_, r) => {
    const row = m[r]!;
    if (!row || row.length !== cols) rangeFail(where, `${name}[${r}]`, `a row of length ${cols}`, row);
    return Array.from(row);
  });
}

function matMul(a: number[][], b: number[][]): number[][] {
  const n = a.length;
  const k = b.length;
  const m = b[0]?.length ?? 0;
  return Array.from({ length: n }, (_, i) =>
    Array.from({ length: m }, (_, j) => {
      let s = 0;
      for (let l = 0; l < k; l++) s += a[i]![l]! * b[l]![j]!;
      return s;
    }),
  );
}

function transpose(a: number[][]): number[][] {
  const cols = a[0]?.length ?? 0;
  return Array.from({ length: cols }, (_, j) => a.map((row) => row[j]!));
}

/** Inverse by Gauss-Jordan elimination with partial pivoting (the matrices here are small and SPD). */
function invert(where: string, a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    if (m[p]![c] === 0) rangeFail(where, 'W priorCov W^T + noiseCov', 'invertible', 'a singular matrix');
    [m[c], m[p]] = [m[p]!, m[c]!];
    const pivot = m[c]![c]!;
    for (let j = 0; j < 2 * n; j++) m[c]![j]! /= pivot;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      if (f === 0) continue;
      for (let j = 0; j < 2 * n; j++) m[r]![j]! -= f * m[c]![j]!;
    }
  }
  return m.map((row) => row.slice(n));
}

export interface ConditioningArgs {
  /** Prior `x ~ N(priorMean, priorCov)`, dimension n. */
  priorMean: Vec;
  priorCov: Matrix;
  /** Likelihood `y | x ~ N(W x + b, noiseCov)`, dimension m: W is m x n. */
  W: Matrix;
  b: Vec;
  noiseCov: Matrix;
  /** The observed `y`. */
  y: Vec;
}

/**
 * Bayes' rule for linear-Gaussian systems (Murphy, Probabilistic Machine Learning: An
 * Introduction, 2022, sec. 3.3), in its gain form, which also allows a singular prior (at `t = 1`
 * the prior of `z_0` given `z_0` is a point mass):
 * `S = W Sigma W^T + Sigma_y`, `K = Sigma W^T S^{-1}`,
 * `mean = mu + K (y - W mu - b)`, `cov = Sigma - K W Sigma`.
 */
function gaussianConditioning(args: ConditioningArgs): { mean: Float64Array; cov: number[][] } {
  const where = 'reference.gaussianConditioning';
  const n = args.priorMean?.length;
  const m = args.y?.length;
  if (typeof n !== 'number' || n < 1) rangeFail(where, 'priorMean', 'a non-empty vector', args.priorMean);
  if (typeof m !== 'number' || m < 1) rangeFail(where, 'y', 'a non-empty vector', args.y);
  if (args.b?.length !== m) rangeFail(where, 'b.length', `${m} (the length of y)`, args.b?.length);
  const mu = Array.from(args.priorMean);
  const sigma = toRows(where, 'priorCov', args.priorCov, n, n);
  const W = toRows(where, 'W', args.W, m, n);
  const noise = toRows(where, 'noiseCov', args.noiseCov, m, m);
  const sigmaWt = matMul(sigma, transpose(W)); // n x m
  const S = matMul(W, sigmaWt).map((row, i) => row.map((v, j) => v + noise[i]![j]!));
  const K = matMul(sigmaWt, invert(where, S)); // n x m
  const residual = Array.from({ length: m }, (_, i) => {
    let s = args.y[i]! - args.b[i]!;
    for (let j = 0; j < n; j++) s -= W[i]![j]! * mu[j]!;
    return [s];
  });
  const shift = matMul(K, residual);
  const mean = Float64Array.from(mu, (v, i) => v + shift[i]![0]!);
  const KWSigma = matMul(matMul(K, W), sigma);
  const cov = sigma.map((row, i) => row.map((v, j) => v - KWSigma[i]![j]!));
  return { mean, cov };
}

/**
 * Equivalent form 3: the posterior from generic conditioning, with prior
 * `z_{t-1} ~ N(sqrt(alphaBar_{t-1}) z_0 + A_{t-1}, (1 - alphaBar_{t-1}) I)` and likelihood
 * `z_t | z_{t-1} ~ N(sqrt(alpha_t) z_{t-1} + a_t, beta_t I)`. Returns the full covariance.
 */
function posteriorByConditioning(args: ReferenceArgs & { z0: Vec; zt: Vec }): { mean: Float64Array; cov: number[][] } {
  const D = checkVectors('reference.posteriorByConditioning', args.encodings, { z0: args.z0, zt: args.zt });
  const { a_t, A_prev } = aggregate({ ...args, size: D });
  const { beta, alpha, alphaBarPrev } = scheduleAt(args.schedule, args.t);
  const eye = (s: number) => Array.from({ length: D }, (_, i) => Array.from({ length: D }, (_, j) => (i === j ? s : 0)));
  return gaussianConditioning({
    priorMean: Float64Array.from(args.z0, (z, j) => Math.sqrt(alphaBarPrev) * z + A_prev[j]!),
    priorCov: eye(1 - alphaBarPrev),
    W: eye(Math.sqrt(alpha)),
    b: a_t,
    noiseCov: eye(beta),
    y: args.zt,
  });
}

/**
 * The distribution of `z_t` after `t` transitions from a fixed `z_0`, by pushing the Gaussian
 * through each step: `mean_s = sqrt(alpha_s) mean_{s-1} + a_s`, `var_s = alpha_s var_{s-1} + beta_s`.
 * `t = 0` gives `z_0` itself. Equivalent form 5 says this equals `marginal`.
 */
function iterateTransition(args: Omit<ReferenceArgs, 't'> & { t: number; z0: Vec }): Gaussian {
  const where = 'reference.iterateTransition';
  checkSchedule(where, args.schedule);
  const t = checkT(where, args.schedule, args.t, true);
  const D = checkVectors(where, args.encodings, { z0: args.z0 });
  const w = weightValues(where, args.schedule, args.weights);
  const mean = Float64Array.from(args.z0);
  let variance = 0;
  for (let s = 1; s <= t; s++) {
    const { alpha, beta } = scheduleAt(args.schedule, s);
    for (let j = 0; j < D; j++) {
      let a_s = 0;
      args.encodings.forEach((e, i) => (a_s += w[i]![s - 1]! * e[j]!));
      mean[j] = Math.sqrt(alpha) * mean[j]! + a_s;
    }
    variance = alpha * variance + beta;
  }
  return { mean, variance };
}

/**
 * One draw of `z_t` by running the transition (paper eq. 3) `t` times from `z_0`, with standard
 * normals from `normal()` (pass a seeded generator, e.g. `() => rng.normal()` from @mtd/random).
 */
function sampleChain(args: Omit<ReferenceArgs, 't'> & { t: number; z0: Vec; normal: () => number }): Float64Array {
  const where = 'reference.sampleChain';
  checkSchedule(where, args.schedule);
  const t = checkT(where, args.schedule, args.t, true);
  const D = checkVectors(where, args.encodings, { z0: args.z0 });
  if (typeof args.normal !== 'function') typeFail(where, 'normal', 'a function returning standard normals', args.normal);
  const w = weightValues(where, args.schedule, args.weights);
  const z = Float64Array.from(args.z0);
  for (let s = 1; s <= t; s++) {
    const { alpha, beta } = scheduleAt(args.schedule, s);
    for (let j = 0; j < D; j++) {
      let a_s = 0;
      args.encodings.forEach((e, i) => (a_s += w[i]![s - 1]! * e[j]!));
      z[j] = Math.sqrt(alpha) * z[j]! + a_s + Math.sqrt(beta) * args.normal();
    }
  }
  return z;
}

/** The float64 reference of MATH.md 2 (see the module comment). */
export const reference = Object.freeze({
  lambdas,
  aggregate,
  marginal,
  qSample,
  posterior,
  posteriorShifted,
  ddpmPosterior,
  epsFromZ0,
  predictZ0FromEps,
  posteriorFromEps,
  gaussianConditioning,
  posteriorByConditioning,
  iterateTransition,
  sampleChain,
});
