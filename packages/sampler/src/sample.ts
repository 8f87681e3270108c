import * as tf from '@tensorflow/tfjs';
import { lambdasWithZero } from '@mtd/aggregation';
import type { RespaceSpec, Schedule } from '@mtd/schedule';
import {
  alphaBarOfState,
  ddimCoefficients,
  ddpmCoefficients,
  forwardCoefficients,
  z0FormCoefficients,
  type StepCoefficients,
  type Variance,
  type Z0FormCoefficients,
} from './coefficients.js';
import { rangeFail, shapeText, typeFail } from '@mtd/errors';
import { gotShape, listNames, sameShape } from './errors.js';
import {
  checkModalities,
  checkModalityValues,
  checkNames,
  encodeModality,
  estimateInput,
  modalityInput,
  type DiffusionModel,
  type Modality,
  type ModelInput,
  type ModelOutput,
} from './model.js';
import { ExampleNoise } from './noise.js';
import { planMoves, planTimesteps, type Move, type TimestepPlan } from './plan.js';

/**
 * The joint sampler of MT-Diffusion (MATH.md 6, paper Algorithm 1), one entry point for every
 * method and mode.
 *
 * Every move goes through the shifted chain of MATH.md 2 form 1: given the aggregate
 * `A_t = sum_i lambda_{t,i} e_i` (known `x_i`, or the heads' estimates), `y_t = z_t - A_t` is an
 * ordinary DDPM chain, so the sampler steps `y` with the textbook DDPM or DDIM update (see
 * coefficients.ts) and adds `A` of the next state back. Written out, one move is
 *
 *     z_next = cY z_t + cEps eps + sigma noise + sum_i (lambda_{next,i} - cY lambda_{t,i}) e_i,
 *
 * the per-modality coefficient folded in float64, so that the large aggregates are never
 * subtracted from each other in float32, and a modality with zero weight adds nothing at all.
 * On respaced timesteps the lambdas are read at the ORIGINAL timesteps of the kept states, which
 * is all the identity needs: `y` has the DDPM marginals at every original timestep.
 */

export interface RestorationOptions {
  /** The image to restore, in the diffusion space, float32 `[B, ...shape]`; only its kept pixels are read. */
  image: tf.Tensor;
  /**
   * float32 (values 0 and 1) or bool, `[B, ...shape]`: 1 (true) where the pixel of `image` is
   * known and is kept bit for bit in the output, 0 where the sampler generates it.
   */
  keep: tf.Tensor;
  /** RePaint's jump length `j` (states noised back up per resampling). Default 10. */
  jumpLength?: number;
  /** RePaint's `r`: how many times each segment is generated; 1 (the default) means no resampling. */
  resampleCount?: number;
}

export interface GuidanceOptions {
  /**
   * Classifier-free guidance scale `s`: `eps = eps_uncond + s (eps_cond - eps_uncond)`.
   * `s = 1` is the conditional model, `s = 0` the unconditional one.
   */
  scale: number;
  /** The condition: the known modalities set to `undefined` in the unconditional pass. All known ones unless given. */
  modalities?: readonly string[];
}

export interface SampleProgress {
  /** Model evaluations done so far, 1-based (a guided step counts once). */
  step: number;
  /** Model evaluations of the whole run (more than the number of timesteps with resampling). */
  total: number;
  /** The original timestep the model has just been evaluated at. */
  t: number;
  /** The state after this step. Borrowed: valid during the callback only; clone it to keep it. */
  z: tf.Tensor;
}

export interface SampleOptions {
  model: DiffusionModel;
  /** The ORIGINAL (training) schedule; respacing is given by `steps` or `respace`. */
  schedule: Schedule;
  /** Every modality the model was trained with (its heads and weights), unknown ones included. */
  modalities: readonly Modality[];
  /** Shape of one example of `z`, without the batch, e.g. `[32, 32, 1]` or `[2]`. */
  shape: readonly number[];
  batchSize: number;
  /** `'ddpm'` (ancestral, the default) or `'ddim'`. */
  method?: 'ddpm' | 'ddim';
  /** Number of evenly spaced timesteps to visit (first and last included); all `T` unless given. */
  steps?: number;
  /** Or any respacing spec of @mtd/schedule (`"ddim50"`, `"10,15,20"`, a list of timesteps). */
  respace?: RespaceSpec;
  /** DDIM only: 0 (the default) is deterministic DDIM, 1 is DDPM with "fixed small" variance. */
  eta?: number;
  /** DDPM only: `'fixedSmall'` (`betaTilde_t`, the default) or `'fixedLarge'` (`beta_t`). */
  variance?: Variance;
  /**
   * Clip the estimate of `z_0` to `[min, max]` at every step (e.g. `[-1, 1]` for images), as
   * guided-diffusion's `clip_denoised`; the step then uses the z0 form (coefficients.ts), and the
   * output lies in the range. Unclipped unless given.
   */
  clipZ0?: readonly [number, number];
  /**
   * Known modalities by name (conditional generation): used instead of the head's estimate in
   * `A_t` and passed to the model. Gaussian: float32 data `[B, ...]`; categorical: int32 class
   * ids `[B]` or float32 probabilities `[B, K]`. Missing or `undefined` means generated.
   */
  known?: Readonly<Record<string, tf.Tensor | undefined>>;
  /**
   * A known `z_0`, float32 `[B, ...shape]` (e.g. photo -> segmentation): every state is a fresh
   * forward sample `q(z_t | z_0, x)` and the heads read out the other modalities.
   */
  z0Known?: tf.Tensor;
  /** Constrained restoration (inpainting); see RestorationOptions. */
  restoration?: RestorationOptions;
  guidance?: GuidanceOptions;
  /** Every random draw comes from this seed (a safe integer). */
  seed: number;
  /**
   * Index of this batch's first example in the whole run (default 0). Example `i` draws its
   * noise from its own stream, so sampling examples 2..3 with `firstExample: 2, batchSize: 2`
   * gives the same bits as examples 2..3 of one batch of 4.
   */
  firstExample?: number;
  onProgress?: (progress: SampleProgress) => void | Promise<void>;
  /** Receives the lambda_T warning (MATH.md 7); `console.warn` unless given. */
  onWarning?: (message: string) => void;
  /**
   * The largest `sum_i lambda_{T,i} rms(e_i)` over the unknown modalities that counts as
   * negligible against the unit noise at the start; above it the sampler warns. Default 0.05.
   */
  endpointTolerance?: number;
}

export interface GaussianResult {
  kind: 'gaussian';
  /** True when the value was given (`known`), false when it is the head's final estimate. */
  known: boolean;
  value: tf.Tensor;
}

export interface CategoricalResult {
  kind: 'categorical';
  known: boolean;
  /** float32 `[B, K]`: the head's final `softmax`, or the known probabilities (one-hot for ids). */
  probs: tf.Tensor2D;
  /** int32 `[B]`: `argmax` of `probs`. */
  labels: tf.Tensor1D;
}

export type ModalityResult = GaussianResult | CategoricalResult;

export interface SampleResult {
  /** The generated (or, with `z0Known`, the given) `z_0`, `[B, ...shape]`. */
  z0: tf.Tensor;
  /** Every modality by name: the head's estimate from the last model call, or the known value. */
  modalities: Record<string, ModalityResult>;
}

const where = 'sample';

interface Resolved {
  model: DiffusionModel;
  schedule: Schedule;
  modalities: readonly Modality[];
  zShape: number[];
  B: number;
  method: 'ddpm' | 'ddim';
  plan: TimestepPlan;
  coefficients: StepCoefficients[];
  /** The z0-form coefficients per step, when clipping. */
  clip: { min: number; max: number; coefficients: Z0FormCoefficients[] } | undefined;
  knownNames: Set<string>;
  dropped: Set<string>;
  guidanceScale: number | undefined;
  seed: number;
  firstExample: number;
  moves: Move[];
  endpointTolerance: number;
}

/**
 * Draws a batch from a trained MT-Diffusion model; see SampleOptions for the modes. The caller
 * owns every tensor of the result (`tf.dispose(result)` frees them all); nothing else is left
 * behind, also when it throws.
 */
export async function sample(options: SampleOptions): Promise<SampleResult> {
  const r = resolve(options);
  const { known } = options;
  for (const m of r.modalities) {
    const value = known?.[m.name];
    if (value !== undefined) await checkModalityValues(m, value, where);
  }
  if (options.restoration) await checkKeepValues(options.restoration.keep);

  const inputs: Record<string, tf.Tensor> = {};
  const knownEncodings: (tf.Tensor | undefined)[] = [];
  let keep: tf.Tensor | undefined;
  try {
    for (const m of r.modalities) {
      const value = known?.[m.name];
      if (value !== undefined) inputs[m.name] = modalityInput(m, value, r.B, where);
    }
    r.modalities.forEach((m, i) => {
      const input = inputs[m.name];
      knownEncodings[i] = input && tf.tidy(() => encodeModality(m, input, r.zShape, where));
    });
    if (options.restoration) keep = tf.tidy(() => tf.cast(options.restoration!.keep, 'bool'));
    const z0 = options.z0Known
      ? await runWithKnownZ0(r, options, inputs, knownEncodings)
      : await runChain(r, options, inputs, knownEncodings, keep);
    return { z0: z0.z, modalities: collectResults(r, inputs, z0.heads) };
  } catch (error) {
    tf.dispose(Object.values(inputs));
    throw error;
  } finally {
    tf.dispose(knownEncodings.filter((e): e is tf.Tensor => e !== undefined));
    if (keep) keep.dispose();
  }
}

interface Final {
  z: tf.Tensor;
  /** Clones of the last heads of the unknown modalities. */
  heads: Record<string, tf.Tensor>;
}

/** Joint, conditional and restoration modes: the reverse chain from `t = T` down to `z_0`. */
async function runChain(
  r: Resolved,
  options: SampleOptions,
  inputs: Record<string, tf.Tensor>,
  knownEncodings: readonly (tf.Tensor | undefined)[],
  keep: tf.Tensor | undefined,
): Promise<Final> {
  const lambda = lambdasWithZero(r.schedule, r.modalities.map((m) => m.weight));
  const lambdaAtState = (k: number) => {
    const t = k === 0 ? 0 : r.plan.timesteps[k - 1]!;
    return lambda.map((l) => l[t]!);
  };
  const K = r.plan.timesteps.length;
  const noise = new ExampleNoise(r.seed, r.firstExample, r.B, r.zShape.slice(1));
  const total = r.moves.filter((m) => m.kind === 'denoise').length;
  const restoration = options.restoration;
  const warn = options.onWarning ?? ((message: string) => console.warn(message));

  // MATH.md 6: z_T ~ N(A_T, I) when every modality is known, N(0, I) when none is. With some
  // known, their part of A_T is exact and is added; the unknown part is taken as zero, which is
  // what the lambda_T warning below checks.
  let z: tf.Tensor = tf.tidy(() => {
    const n = noise.next();
    const lambdaT = lambdaAtState(K);
    return addTerms([[1, n], ...knownEncodings.map((e, i): Term => [lambdaT[i]!, e])]);
  });
  let heads: Record<string, tf.Tensor> = {};
  /** Encodings of the unknown modalities from the latest heads (RePaint's renoising needs them). */
  let estimated: Record<string, tf.Tensor> = {};
  const encodingsNow = () => r.modalities.map((m, i) => knownEncodings[i] ?? estimated[m.name]);
  const modelKnown = Object.fromEntries(r.modalities.map((m) => [m.name, inputs[m.name]]));
  const unconditionalKnown = Object.fromEntries(
    r.modalities.map((m) => [m.name, r.dropped.has(m.name) ? undefined : inputs[m.name]]),
  );
  let step = 0;
  try {
    for (const move of r.moves) {
      if (move.kind === 'renoise') {
        const c = forwardCoefficients(r.plan.schedule, move.from, move.to);
        const n = noise.next();
        const next = disposingAfter([n], () =>
          tf.tidy(() => shiftedMove(z, undefined, n, c, encodingsNow(), lambdaAtState(move.from), lambdaAtState(move.to))),
        );
        z.dispose();
        z = next;
        continue;
      }
      const k = move.from;
      const t = r.plan.timesteps[k - 1]!;
      const stepNoise = k > 1 ? noise.next() : undefined;
      const restorationNoise = restoration && k > 1 ? noise.next() : undefined;
      const out = disposingAfter([stepNoise, restorationNoise], () =>
        tf.tidy(() => {
          const tTensor = tf.fill([r.B], t, 'int32') as tf.Tensor1D;
          const cond = callModel(r, { zt: z, t: tTensor, known: modelKnown });
          let eps = cond.eps;
          if (r.guidanceScale !== undefined) {
            const uncond = callModel(r, { zt: z, t: tTensor, known: unconditionalKnown });
            eps = tf.add(uncond.eps, tf.mul(r.guidanceScale, tf.sub(cond.eps, uncond.eps)));
          }
          const { newHeads, newEstimated } = readHeads(r, cond, knownEncodings);
          const encodings = r.modalities.map((m, i) => knownEncodings[i] ?? newEstimated[m.name]);
          const lambdaPrev = lambdaAtState(k - 1);
          let next = r.clip
            ? clippedMove(r, k, z, eps, stepNoise, encodings, lambdaAtState(k), lambdaPrev)
            : shiftedMove(z, eps, stepNoise, r.coefficients[k - 1]!, encodings, lambdaAtState(k), lambdaPrev);
          if (restoration && keep) {
            // RePaint's replacement: the kept pixels of the new state are a fresh forward sample
            // q(z_{t-1} | z_0 = image, x) of the same aggregate; at state 0 the image itself.
            const known =
              k === 1
                ? restoration.image
                : addTerms([
                    [Math.sqrt(alphaBarOfState(r.plan.schedule, k - 1)), restoration.image],
                    [Math.sqrt(1 - alphaBarOfState(r.plan.schedule, k - 1)), restorationNoise],
                    ...encodings.map((e, i): Term => [lambdaPrev[i]!, e]),
                  ]);
            next = tf.where(keep, known, next);
          }
          return { next, newHeads, newEstimated };
        }),
      );
      z.dispose();
      z = out.next;
      tf.dispose(Object.values(heads));
      heads = out.newHeads;
      tf.dispose(Object.values(estimated));
      estimated = out.newEstimated;
      step += 1;
      if (step === 1) await warnAboutEndpoint(r, estimated, lambdaAtState(K), t, warn);
      if (options.onProgress) await options.onProgress({ step, total, t, z });
    }
    return { z, heads };
  } catch (error) {
    z.dispose();
    tf.dispose(Object.values(heads));
    throw error;
  } finally {
    tf.dispose(Object.values(estimated));
  }
}

/**
 * MATH.md 6, conditioning on a known `z_0`: each state is a fresh forward sample
 * `z_t = sqrt(alphaBar_t) z_0 + A_t + sqrt(1 - alphaBar_t) noise`, with `A_t` from the known
 * modalities and the latest estimates of the others (none yet at the first step: zero), and the
 * heads read the other modalities out of it. The final estimates come from the last timestep.
 */
async function runWithKnownZ0(
  r: Resolved,
  options: SampleOptions,
  inputs: Record<string, tf.Tensor>,
  knownEncodings: readonly (tf.Tensor | undefined)[],
): Promise<Final> {
  const z0 = options.z0Known!;
  const lambda = lambdasWithZero(r.schedule, r.modalities.map((m) => m.weight));
  const noise = new ExampleNoise(r.seed, r.firstExample, r.B, r.zShape.slice(1));
  const K = r.plan.timesteps.length;
  const modelKnown = Object.fromEntries(r.modalities.map((m) => [m.name, inputs[m.name]]));
  let z: tf.Tensor | undefined;
  let heads: Record<string, tf.Tensor> = {};
  let estimated: Record<string, tf.Tensor> = {};
  let step = 0;
  try {
    for (let k = K; k >= 1; k--) {
      const t = r.plan.timesteps[k - 1]!;
      const alphaBar = alphaBarOfState(r.plan.schedule, k);
      const n = noise.next();
      const out = disposingAfter([n], () =>
        tf.tidy(() => {
          const zt = addTerms([
            [Math.sqrt(alphaBar), z0],
            [Math.sqrt(1 - alphaBar), n],
            ...r.modalities.map((m, i): Term => [lambda[i]![t]!, knownEncodings[i] ?? estimated[m.name]]),
          ]);
          const cond = callModel(r, { zt, t: tf.fill([r.B], t, 'int32') as tf.Tensor1D, known: modelKnown });
          return { zt, ...readHeads(r, cond, knownEncodings) };
        }),
      );
      z?.dispose();
      z = out.zt;
      tf.dispose(Object.values(heads));
      heads = out.newHeads;
      tf.dispose(Object.values(estimated));
      estimated = out.newEstimated;
      step += 1;
      if (options.onProgress) await options.onProgress({ step, total: K, t, z });
    }
    z?.dispose();
    return { z: tf.clone(z0), heads };
  } catch (error) {
    z?.dispose();
    tf.dispose(Object.values(heads));
    throw error;
  } finally {
    tf.dispose(Object.values(estimated));
  }
}

/**
 * The heads of the unknown modalities (cloned, to be kept past the step) and their encodings.
 * Heads of known modalities are not read: the known value stands in for them.
 */
function readHeads(
  r: Resolved,
  out: ModelOutput,
  knownEncodings: readonly (tf.Tensor | undefined)[],
): { newHeads: Record<string, tf.Tensor>; newEstimated: Record<string, tf.Tensor> } {
  const newHeads: Record<string, tf.Tensor> = {};
  const newEstimated: Record<string, tf.Tensor> = {};
  r.modalities.forEach((m, i) => {
    if (knownEncodings[i]) return;
    const head = out.heads[m.name]!;
    newHeads[m.name] = tf.clone(head);
    newEstimated[m.name] = encodeModality(m, estimateInput(m, head, r.B, where), r.zShape, where);
  });
  return { newHeads, newEstimated };
}

/** Runs `fn`, then disposes `tensors` (the step's noise) whether it returned or threw. */
function disposingAfter<T>(tensors: readonly (tf.Tensor | undefined)[], fn: () => T): T {
  try {
    return fn();
  } finally {
    tf.dispose(tensors.filter((x): x is tf.Tensor => x !== undefined));
  }
}

type Term = [number, tf.Tensor | undefined];

/** `sum_j c_j x_j`, skipping zero coefficients and absent tensors (exactly, not by adding 0). */
function addTerms(terms: readonly Term[]): tf.Tensor {
  const parts = terms
    .filter((term): term is [number, tf.Tensor] => term[1] !== undefined && term[0] !== 0)
    .map(([c, x]) => (c === 1 ? x : tf.mul(tf.scalar(c, 'float32'), x)));
  if (parts.length === 0) throw new Error('sample: internal error, a move with no terms');
  return parts.length === 1 ? tf.clone(parts[0]!) : tf.addN(parts);
}

/**
 * One move of the shifted chain (see the module comment): `y = z - A_now` moved by `c`, then
 * `A_next` added back, folded as `cY z + cEps eps + sigma noise + sum_i (lambda_next,i - cY lambda_now,i) e_i`.
 */
function shiftedMove(
  z: tf.Tensor,
  eps: tf.Tensor | undefined,
  noise: tf.Tensor | undefined,
  c: StepCoefficients,
  encodings: readonly (tf.Tensor | undefined)[],
  lambdaNow: readonly number[],
  lambdaNext: readonly number[],
): tf.Tensor {
  return addTerms([
    [c.cY, z],
    [c.cEps, eps],
    [c.sigma, noise],
    ...encodings.map((e, i): Term => [lambdaNext[i]! - c.cY * lambdaNow[i]!, e]),
  ]);
}

/**
 * A move in z0 form with the estimate clipped (see `clipZ0`): `y0Hat = (z - A_t - sqrt(1 - alphaBar) eps) / sqrt(alphaBar)`
 * clipped, then `cZ0 y0Hat + cY (z - A_t) + sigma noise + A_next`, with the A terms folded per modality.
 */
function clippedMove(
  r: Resolved,
  k: number,
  z: tf.Tensor,
  eps: tf.Tensor,
  noise: tf.Tensor | undefined,
  encodings: readonly (tf.Tensor | undefined)[],
  lambdaNow: readonly number[],
  lambdaNext: readonly number[],
): tf.Tensor {
  const clip = r.clip!;
  const c = clip.coefficients[k - 1]!;
  const alphaBar = alphaBarOfState(r.plan.schedule, k);
  const root = Math.sqrt(alphaBar);
  const y0 = tf.clipByValue(
    addTerms([[1 / root, z], [-Math.sqrt(1 - alphaBar) / root, eps], ...encodings.map((e, i): Term => [-lambdaNow[i]! / root, e])]),
    clip.min,
    clip.max,
  );
  return addTerms([
    [c.cZ0, y0],
    [c.cY, z],
    [c.sigma, noise],
    ...encodings.map((e, i): Term => [lambdaNext[i]! - c.cY * lambdaNow[i]!, e]),
  ]);
}

/** Calls the model and checks its output against the interface. */
function callModel(r: Resolved, input: ModelInput): ModelOutput {
  const out = r.model(input) as unknown;
  if (out instanceof Promise) typeFail(where, 'the model output', 'a synchronous { eps, heads } (not a Promise)', out);
  if (out === null || typeof out !== 'object') typeFail(where, 'the model output', 'an object { eps, heads }', out);
  const { eps, heads } = out as Partial<ModelOutput>;
  if (!(eps instanceof tf.Tensor) || eps.dtype !== 'float32') typeFail(where, 'the model output eps', 'a float32 tf.Tensor', eps);
  if (!sameShape(eps.shape, r.zShape)) {
    rangeFail(where, 'the model output eps.shape', `${shapeText(r.zShape)} (the shape of z)`, gotShape(eps.shape));
  }
  if (heads === null || typeof heads !== 'object') typeFail(where, 'the model output heads', 'an object (modality name -> tensor)', heads);
  // Extra heads (auxiliary outputs, or modalities left out of this run) are ignored; a missing
  // head of an unknown modality is an error below.
  for (const m of r.modalities) {
    if (input.known[m.name] === undefined && !(heads[m.name] instanceof tf.Tensor)) {
      typeFail(where, `the model output heads.${m.name}`, `a tf.Tensor (modality '${m.name}' is not known)`, heads[m.name]);
    }
  }
  return out as ModelOutput;
}

/** MATH.md 7: warns when the unknown modalities' share of `A_T` is not negligible. */
async function warnAboutEndpoint(
  r: Resolved,
  estimated: Readonly<Record<string, tf.Tensor>>,
  lambdaT: readonly number[],
  t: number,
  warn: (message: string) => void,
): Promise<void> {
  const parts: { name: string; weight: string; lambdaT: number; size: number }[] = [];
  for (let i = 0; i < r.modalities.length; i++) {
    const m = r.modalities[i]!;
    const e = estimated[m.name];
    if (!e || lambdaT[i] === 0) continue;
    const rms = tf.tidy(() => tf.sqrt(tf.mean(tf.square(e))));
    const value = (await rms.data())[0]!;
    rms.dispose();
    parts.push({ name: m.name, weight: m.weight.description, lambdaT: lambdaT[i]!, size: Math.abs(lambdaT[i]!) * value });
  }
  const total = parts.reduce((s, p) => s + p.size, 0);
  if (!(total <= r.endpointTolerance)) {
    const list = parts
      .map((p) => `lambda_T = ${p.lambdaT.toPrecision(4)} for '${p.name}' (${p.weight}; |lambda_T e| ~ ${p.size.toPrecision(3)} rms)`)
      .join(', ');
    warn(
      `sample: the forward chain ends at N(A_T, I) with A_T = sum_i lambda_T,i e_i, but the unknown modalities start from 0 ` +
        `at t = ${t}: ${list}; the offset ${total.toPrecision(3)} exceeds endpointTolerance = ${r.endpointTolerance}. ` +
        `Choose weights whose lambda_T * |e| is negligible, e.g. sqrtAlphaBarWeight (MATH.md 7).`,
    );
  }
}

function collectResults(r: Resolved, inputs: Record<string, tf.Tensor>, heads: Record<string, tf.Tensor>): Record<string, ModalityResult> {
  const results: Record<string, ModalityResult> = {};
  for (const m of r.modalities) {
    const input = inputs[m.name];
    const value = input ?? heads[m.name]!;
    if (m.kind === 'gaussian') {
      results[m.name] = { kind: 'gaussian', known: input !== undefined, value };
      continue;
    }
    const probs = (input ?? tf.tidy(() => tf.softmax(value))) as tf.Tensor2D;
    if (!input) value.dispose();
    results[m.name] = { kind: 'categorical', known: input !== undefined, probs, labels: tf.tidy(() => tf.argMax(probs, 1)) as tf.Tensor1D };
  }
  return results;
}

async function checkKeepValues(keep: tf.Tensor): Promise<void> {
  if (keep.dtype === 'bool') return;
  const data = await keep.data();
  for (let j = 0; j < data.length; j++) {
    const v = data[j];
    if (v !== 0 && v !== 1) rangeFail(where, `restoration.keep (flat index ${j})`, '0 or 1', v);
  }
}

function checkTensor(arg: string, x: unknown, shape: readonly number[], dtypes: readonly string[] = ['float32']): tf.Tensor {
  if (!(x instanceof tf.Tensor) || !dtypes.includes(x.dtype)) typeFail(where, arg, `a ${dtypes.join(' or ')} tf.Tensor`, x);
  if (!sameShape(x.shape, shape)) rangeFail(where, `${arg}.shape`, `${shapeText(shape)} ([batchSize, ...shape])`, gotShape(x.shape));
  return x;
}

function isSchedule(s: unknown): s is Schedule {
  const x = s as Partial<Schedule> | null;
  return (
    x !== null &&
    typeof x === 'object' &&
    Number.isInteger(x.T) &&
    (x.T as number) >= 1 &&
    x.alphaBars instanceof Float64Array &&
    x.alphaBars.length === x.T &&
    x.posteriorVariance instanceof Float64Array
  );
}

/** All synchronous checks, in the order a user would fix them. */
function resolve(o: SampleOptions): Resolved {
  if (o === null || typeof o !== 'object') typeFail(where, 'options', 'an object', o);
  if (typeof o.model !== 'function') typeFail(where, 'model', 'a function (input: ModelInput) => ModelOutput', o.model);
  if (!isSchedule(o.schedule)) typeFail(where, 'schedule', 'a Schedule from @mtd/schedule', o.schedule);
  const modalities = checkModalities(where, o.modalities);
  if (!Array.isArray(o.shape) || o.shape.length < 1 || o.shape.some((d) => !Number.isInteger(d) || d < 1)) {
    rangeFail(where, 'shape', 'a non-empty list of positive integers (one example, without the batch)', o.shape);
  }
  const B = o.batchSize;
  if (typeof B !== 'number' || !Number.isInteger(B) || B < 1) rangeFail(where, 'batchSize', 'an integer >= 1', B);
  const zShape = [B, ...o.shape];
  if (typeof o.seed !== 'number' || !Number.isSafeInteger(o.seed)) rangeFail(where, 'seed', 'a safe integer', o.seed);
  const firstExample = o.firstExample ?? 0;
  if (!Number.isSafeInteger(firstExample) || firstExample < 0) rangeFail(where, 'firstExample', 'an integer >= 0', o.firstExample);

  const method = o.method ?? 'ddpm';
  if (method !== 'ddpm' && method !== 'ddim') rangeFail(where, 'method', `'ddpm' or 'ddim'`, o.method);
  if (method === 'ddpm' && o.eta !== undefined) rangeFail(where, 'eta', `left out with method 'ddpm' (eta is DDIM's)`, o.eta);
  if (method === 'ddim' && o.variance !== undefined) {
    rangeFail(where, 'variance', `left out with method 'ddim' (use eta)`, o.variance);
  }
  const variance = o.variance ?? 'fixedSmall';
  if (variance !== 'fixedSmall' && variance !== 'fixedLarge') rangeFail(where, 'variance', `'fixedSmall' or 'fixedLarge'`, o.variance);
  const eta = o.eta ?? 0;
  if (typeof eta !== 'number' || !Number.isFinite(eta) || eta < 0) rangeFail(where, 'eta', 'a finite number >= 0', o.eta);

  const plan = planTimesteps(o.schedule, { steps: o.steps, respace: o.respace }, where);
  const K = plan.timesteps.length;
  const coefficients: StepCoefficients[] = [];
  for (let k = 1; k <= K; k++) {
    const c = method === 'ddpm' ? ddpmCoefficients(plan.schedule, k, variance) : ddimCoefficients(plan.schedule, k, eta);
    if (!c) rangeFail(where, 'eta', `small enough that 1 - alphaBar_prev - sigma^2 >= 0 at every step (fails at t = ${plan.timesteps[k - 1]})`, eta);
    coefficients.push(c);
  }

  let clip: Resolved['clip'];
  if (o.clipZ0 !== undefined) {
    const range = o.clipZ0 as unknown;
    const [min, max] = Array.isArray(range) ? (range as number[]) : [];
    if (!Array.isArray(range) || range.length !== 2 || !Number.isFinite(min) || !Number.isFinite(max) || !(min! < max!)) {
      rangeFail(where, 'clipZ0', '[min, max] with finite min < max', range);
    }
    const kind = method === 'ddpm' ? ({ kind: 'ddpm', variance } as const) : ({ kind: 'ddim', eta } as const);
    clip = { min: min!, max: max!, coefficients: Array.from({ length: K }, (_, k) => z0FormCoefficients(plan.schedule, k + 1, kind)!) };
  }

  const known = o.known ?? {};
  if (known === null || typeof known !== 'object') typeFail(where, 'known', 'an object (modality name -> tensor)', o.known);
  checkNames(where, 'each key of known', Object.keys(known), modalities);
  const knownNames = new Set(modalities.filter((m) => known[m.name] !== undefined).map((m) => m.name));
  for (const name of knownNames) {
    if (!(known[name] instanceof tf.Tensor)) typeFail(where, `known.${name}`, 'a tf.Tensor or undefined', known[name]);
  }

  if (o.z0Known !== undefined) {
    checkTensor('z0Known', o.z0Known, zShape);
    if (o.restoration) rangeFail(where, 'restoration', 'left out with z0Known (z_0 is then given in full)', 'both');
    if (o.guidance) rangeFail(where, 'guidance', 'left out with z0Known (no noise estimate is used)', 'both');
    if (o.clipZ0) rangeFail(where, 'clipZ0', 'left out with z0Known (z_0 is given)', o.clipZ0);
  }

  let moves = planMoves(K);
  if (o.restoration !== undefined) {
    const rest = o.restoration;
    if (rest === null || typeof rest !== 'object') typeFail(where, 'restoration', 'an object { image, keep }', rest);
    checkTensor('restoration.image', rest.image, zShape);
    checkTensor('restoration.keep', rest.keep, zShape, ['float32', 'bool']);
    const jumpLength = rest.jumpLength ?? 10;
    const resampleCount = rest.resampleCount ?? 1;
    if (!Number.isInteger(resampleCount) || resampleCount < 1) {
      rangeFail(where, 'restoration.resampleCount', 'an integer >= 1 (1: no resampling)', rest.resampleCount);
    }
    if (!Number.isInteger(jumpLength) || jumpLength < 1 || (resampleCount > 1 && jumpLength >= K)) {
      rangeFail(where, 'restoration.jumpLength', `an integer in 1..${Math.max(K - 1, 1)} (below the ${K} sampling steps)`, rest.jumpLength);
    }
    moves = planMoves(K, jumpLength, resampleCount);
  }

  let guidanceScale: number | undefined;
  const dropped = new Set<string>();
  if (o.guidance !== undefined) {
    const g = o.guidance;
    if (g === null || typeof g !== 'object') typeFail(where, 'guidance', 'an object { scale, modalities? }', g);
    if (typeof g.scale !== 'number' || !Number.isFinite(g.scale)) rangeFail(where, 'guidance.scale', 'a finite number', g.scale);
    const names = g.modalities ?? [...knownNames];
    if (!Array.isArray(names)) typeFail(where, 'guidance.modalities', 'an array of modality names', g.modalities);
    checkNames(where, 'each of guidance.modalities', names, modalities);
    for (const name of names) {
      if (!knownNames.has(name)) rangeFail(where, 'each of guidance.modalities', `a known modality (known: ${listNames([...knownNames])})`, name);
    }
    if (names.length === 0) rangeFail(where, 'guidance', 'used with at least one known modality (the condition)', 'none known');
    names.forEach((n) => dropped.add(n));
    guidanceScale = g.scale;
  }

  const endpointTolerance = o.endpointTolerance ?? 0.05;
  if (typeof endpointTolerance !== 'number' || !(endpointTolerance >= 0)) {
    rangeFail(where, 'endpointTolerance', 'a number >= 0', o.endpointTolerance);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') typeFail(where, 'onProgress', 'a function', o.onProgress);
  if (o.onWarning !== undefined && typeof o.onWarning !== 'function') typeFail(where, 'onWarning', 'a function', o.onWarning);

  return {
    model: o.model,
    schedule: o.schedule,
    modalities,
    zShape,
    B,
    method,
    plan,
    coefficients,
    clip,
    knownNames,
    dropped,
    guidanceScale,
    seed: o.seed,
    firstExample,
    moves,
    endpointTolerance,
  };
}
