import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import { checkInt, checkNumber, gotShape } from './errors.js';
import { flatConcat, flatSplit, memberOf, packArrays, packVariables, resolveLayout, type Pack, type StateLayout } from './packing.js';
import { checkNamedVariables, type NamedVariable } from './variables.js';

/**
 * A backend's one-kernel Adam step over a flat vector (implemented by `@mtd/backend` for webgpu),
 * used by the flat layout when registered: inputs `{ p, m, v, g }` (float32 `[N]`), `scale`
 * (float32 scalar, times `g`) and optionally `guard` (bool scalar: where false nothing changes);
 * attrs `{ beta1, beta2, epsilon, stepSize, invSqrtBc2, decay }`; output `[3N]`: the new values,
 * first and second moments, computed as `updateBlock`'s ops do.
 */
export const ADAM_UPDATE_KERNEL = 'MtdAdamUpdate';

export interface AdamOptions {
  /** Peak learning rate (after warm-up). The paper uses 7e-5 to 1e-4 (MATH.md 8). */
  lr: number;
  /** Default 0.9. */
  beta1?: number;
  /** Default 0.999. */
  beta2?: number;
  /** Added to `sqrt(vHat)`; default 1e-8. */
  epsilon?: number;
  /**
   * Decoupled weight decay (AdamW, Loshchilov & Hutter): `p <- p - lr_k * weightDecay * p` before
   * the Adam step, so it does not pass through the moment estimates. Default 0.
   */
  weightDecay?: number;
  /** Linear warm-up: update `k` (1-based) uses `lr * min(1, k / warmupSteps)`. Default 0 (none). */
  warmupSteps?: number;
  /**
   * Cosine decay after the warm-up, ending at update `decaySteps` (total, warm-up included) at
   * `lr * finalFraction`, and staying there; default none (constant after the warm-up).
   */
  decaySteps?: number;
  /** Default 0. */
  finalFraction?: number;
  /**
   * How the update is batched into kernels; the result is the same bit for bit either way.
   * `'flat'`: all parameters in one vector (a dozen elementwise kernels per update, plus a concat
   * and one slice per variable): for GPU backends, where each kernel launch costs more than the
   * copies (issue 7). `'per-variable'`: a dozen kernels per variable, no copies: measured ~6%
   * faster per U-Net step on wasm. Default: `'flat'` when the active backend is webgpu, else
   * `'per-variable'`.
   */
  layout?: StateLayout;
}

/**
 * The learning rate of update `k` (1-based): linear warm-up over `warmupSteps` updates, then
 * constant, or a cosine from `lr` down to `lr * finalFraction` at update `decaySteps`.
 */
export function learningRateAt(
  k: number,
  options: { lr: number; warmupSteps?: number; decaySteps?: number; finalFraction?: number },
): number {
  const { lr, warmupSteps = 0, decaySteps, finalFraction = 0 } = options;
  if (warmupSteps > 0 && k < warmupSteps) return (lr * k) / warmupSteps;
  if (decaySteps === undefined || decaySteps <= warmupSteps) return lr;
  const progress = Math.min(1, (k - warmupSteps) / (decaySteps - warmupSteps));
  return lr * (finalFraction + (1 - finalFraction) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/**
 * Adam (Kingma & Ba 2015) with bias correction, as PyTorch's `torch.optim.Adam`/`AdamW` step:
 *
 *     m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,
 *     p <- p - lr_k wd p - (lr_k / (1 - b1^k)) m / (sqrt(v) / sqrt(1 - b2^k) + eps).
 *
 * Written here, not taken from `tf.train.adam`, because the moments must be explicit tensors with
 * names: a checkpoint stores them and a resumed run continues bit for bit. The scalar
 * coefficients are computed in float64 and rounded to float32 once per update.
 */
/** Variables whose moments are stored, and updated, together. */
interface Block extends Pack {
  readonly m: tf.Variable;
  readonly v: tf.Variable;
}

export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly decaySteps: number | undefined;
  readonly finalFraction: number;
  readonly layout: StateLayout;
  private readonly variables: readonly NamedVariable[];
  private readonly blocks: readonly Block[];
  /** Variable index -> [block index, position within the block]. */
  private readonly home: readonly (readonly [number, number])[];
  private updates = 0;

  constructor(variables: readonly NamedVariable[], options: AdamOptions) {
    const where = 'Adam';
    this.variables = checkNamedVariables(where, 'variables', variables);
    if (options === null || typeof options !== 'object') rangeFail(where, 'options', 'an object { lr, ... }', options);
    this.lr = checkNumber(where, 'options.lr', options.lr, { min: 0, minOpen: true });
    this.beta1 = checkNumber(where, 'options.beta1', options.beta1 ?? 0.9, { min: 0, max: 1, maxOpen: true });
    this.beta2 = checkNumber(where, 'options.beta2', options.beta2 ?? 0.999, { min: 0, max: 1, maxOpen: true });
    this.epsilon = checkNumber(where, 'options.epsilon', options.epsilon ?? 1e-8, { min: 0, minOpen: true });
    this.weightDecay = checkNumber(where, 'options.weightDecay', options.weightDecay ?? 0, { min: 0 });
    this.warmupSteps = checkInt(where, 'options.warmupSteps', options.warmupSteps ?? 0, 0);
    this.decaySteps = options.decaySteps === undefined ? undefined : checkInt(where, 'options.decaySteps', options.decaySteps, 1);
    this.finalFraction = checkNumber(where, 'options.finalFraction', options.finalFraction ?? 0, { min: 0, max: 1 });
    this.layout = resolveLayout(where, options.layout);
    const { packs, home } = packVariables(this.variables, this.layout);
    this.blocks = packs.map((pack) => ({ ...pack, m: tf.tidy(() => tf.variable(tf.zeros([pack.size]), false)), v: tf.tidy(() => tf.variable(tf.zeros([pack.size]), false)) }));
    this.home = home;
  }

  /** Number of updates applied so far (the `k` of the last update). */
  get count(): number {
    return this.updates;
  }

  /** The learning rate the next update will use. */
  nextLearningRate(): number {
    return this.learningRate(this.updates + 1);
  }

  /**
   * With the flat layout and a gradient for every variable: the gradients concatenated in the
   * layout's order (a new tensor), for `apply`'s `options.flatGradients`, so a caller that also
   * needs them flat (the trainer's gradient norm) gathers them once. Otherwise undefined.
   */
  flatGradients(grads: Readonly<Record<string, tf.Tensor>>): tf.Tensor1D | undefined {
    if (this.layout !== 'flat' || this.blocks.length !== 1) return undefined;
    const ordered = this.variables.map(({ name }) => grads[name]);
    if (ordered.some((g) => g === undefined)) return undefined;
    return flatConcat(ordered as tf.Tensor[]);
  }

  /** The learning rate of update `k` (1-based). */
  learningRate(k: number): number {
    return learningRateAt(k, this);
  }

  /**
   * The per-update scalars of the next update, `[stepSize, invSqrtBc2, decay]` (float32): what
   * `apply`'s `options.coefficients` takes as a tensor, so that a recorded step (`StepGraph`)
   * gets them as an input instead of uploading numbers of its own.
   */
  nextCoefficients(): Float32Array {
    const c = this.coefficientsAt(this.updates + 1);
    return Float32Array.of(c.stepSize, c.invSqrtBc2, c.decay);
  }

  /** Counts an update that was made without `apply` (a replayed step graph). */
  advanceCount(): void {
    this.updates += 1;
  }

  private coefficientsAt(k: number): { stepSize: number; invSqrtBc2: number; decay: number } {
    const lr = this.learningRate(k);
    return { stepSize: lr / (1 - this.beta1 ** k), invSqrtBc2: 1 / Math.sqrt(1 - this.beta2 ** k), decay: 1 - lr * this.weightDecay };
  }

  /**
   * One update from gradients by variable name, each multiplied by `gradScale` first (the
   * gradient-clipping factor, a number or a scalar tensor). A variable without a gradient (not
   * connected to the loss) is left alone, moments included, as PyTorch skips parameters whose
   * `grad` is None; the bias correction uses the global update count. Leaves no tensors behind.
   * Every element goes through the same float32 operations whatever the `layout`.
   *
   * `options.onlyIf`, a boolean scalar tensor: where it is false, the variables and moments keep
   * their values (a step that cannot read its loss back before updating guards the update with
   * "the loss and gradient norm are finite"). The count advances either way: `rewindCount()` takes
   * it back once the guard is known to have been false.
   *
   * `options.coefficients`: `nextCoefficients()` as a float32 `[3]` tensor, used instead of
   * numbers the update would upload itself (the values are the same).
   */
  apply(
    grads: Readonly<Record<string, tf.Tensor>>,
    gradScale: number | tf.Scalar = 1,
    options: { onlyIf?: tf.Tensor; flatGradients?: tf.Tensor; returnValues?: boolean; coefficients?: tf.Tensor } = {},
  ): tf.Tensor1D | undefined {
    const where = 'Adam.apply';
    if (gradScale instanceof tf.Tensor) {
      if (gradScale.rank !== 0 || gradScale.dtype !== 'float32') rangeFail(where, 'gradScale', 'a number or a float32 scalar tensor', gradScale);
    } else {
      checkNumber(where, 'gradScale', gradScale, { min: 0 });
    }
    const guard = options.onlyIf;
    if (guard !== undefined && (!(guard instanceof tf.Tensor) || guard.rank !== 0 || guard.dtype !== 'bool')) {
      rangeFail(where, 'options.onlyIf', 'a bool scalar tensor', guard);
    }
    for (const { name, variable } of this.variables) {
      const g = grads[name];
      if (g === undefined) continue;
      if (!(g instanceof tf.Tensor)) rangeFail(where, `grads["${name}"]`, 'a tensor or undefined', g);
      if (g.shape.length !== variable.shape.length || g.shape.some((d, i) => d !== variable.shape[i])) {
        rangeFail(where, `grads["${name}"]`, `shaped like the variable [${variable.shape.join(', ')}]`, g);
      }
    }
    // `flatGradients(grads)`'s result: the same values, already gathered.
    const flat = options.flatGradients;
    if (flat !== undefined && (!(flat instanceof tf.Tensor) || this.layout !== 'flat' || this.blocks.length !== 1 || flat.rank !== 1 || flat.size !== this.blocks[0]!.size)) {
      rangeFail(where, 'options.flatGradients', `flatGradients(grads)'s result (the flat layout's ${this.blocks[0]!.size} gradients)`, flat);
    }
    const given = options.coefficients;
    if (given !== undefined && (!(given instanceof tf.Tensor) || given.dtype !== 'float32' || given.rank !== 1 || given.size !== 3)) {
      rangeFail(where, 'options.coefficients', 'a float32 tensor [3] (nextCoefficients())', given);
    }
    const k = this.updates + 1;
    const c = { ...this.coefficientsAt(k), gradScale, guard, flat, given };
    let values: tf.Tensor1D | undefined;
    for (const block of this.blocks) {
      const updated = tf.tidy(() => this.updateBlock(block, grads, c));
      // The updated values, flat, when asked for and they are the whole layout's (for `Ema.update`'s `values`).
      if (options.returnValues === true && this.blocks.length === 1 && updated?.size === block.size) values = updated as tf.Tensor1D;
      else updated?.dispose();
    }
    this.updates = k;
    return values;
  }

  /** Takes back the count of the last update, whose `onlyIf` guard turned out false. */
  rewindCount(): void {
    if (this.updates === 0) throw new RangeError('Adam.rewindCount: no update to take back (the count is 0)');
    this.updates -= 1;
  }

  private updateBlock(
    block: Block,
    grads: Readonly<Record<string, tf.Tensor>>,
    c: { stepSize: number; invSqrtBc2: number; decay: number; gradScale: number | tf.Scalar; guard: tf.Tensor | undefined; flat: tf.Tensor | undefined; given: tf.Tensor | undefined },
  ): tf.Tensor | undefined {
    const present = block.members.map((i) => grads[this.variables[i]!.name] !== undefined);
    if (!present.some(Boolean)) return undefined;
    const all = present.every(Boolean);
    const size = (j: number) => this.variables[block.members[j]!]!.variable.size;
    const picked = block.members.filter((_, j) => present[j]).map((i) => this.variables[i]!);
    // The moments of the members that have gradients (all of them, nearly always).
    const pieces = (whole: tf.Tensor) => block.members.flatMap((_, j) => (present[j] ? [tf.slice(whole, block.offsets[j]!, size(j))] : []));
    const m = all ? block.m : flatConcat(pieces(block.m));
    const v = all ? block.v : flatConcat(pieces(block.v));
    const g0 = c.flat !== undefined && all ? c.flat : flatConcat(picked.map(({ name }) => grads[name]!));
    const p = flatConcat(picked.map(({ variable }) => variable));
    if (all && tf.getKernel(ADAM_UPDATE_KERNEL, tf.getBackend()) !== undefined) {
      // The backend's one-program update (webgpu through @mtd/backend): the same formulas.
      const scale = typeof c.gradScale === 'number' ? tf.scalar(c.gradScale) : c.gradScale;
      const attrs = { beta1: this.beta1, beta2: this.beta2, epsilon: this.epsilon, stepSize: c.stepSize, invSqrtBc2: c.invSqrtBc2, decay: c.decay };
      const inputs = { p, m, v, g: g0, scale, ...(c.guard === undefined ? {} : { guard: c.guard }), ...(c.given === undefined ? {} : { coefficients: c.given }) };
      const out = tf.engine().runKernel(ADAM_UPDATE_KERNEL, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor1D;
      const [pOut, mOut, vOut] = flatSplit(out, [[block.size], [block.size], [block.size]]);
      block.m.assign(mOut!);
      block.v.assign(vOut!);
      const values = flatSplit(pOut!, picked.map(({ variable }) => variable.shape));
      picked.forEach(({ variable }, j) => variable.assign(values[j]!));
      return pOut;
    }
    // The per-update scalars: from the given tensor (the same float32 values) or as numbers.
    const [stepSize, invSqrtBc2, decay] = c.given !== undefined ? tf.unstack(c.given) : [tf.scalar(c.stepSize), tf.scalar(c.invSqrtBc2), tf.scalar(c.decay)];
    const g = c.gradScale === 1 ? g0 : tf.mul(g0, typeof c.gradScale === 'number' ? tf.scalar(c.gradScale) : c.gradScale);
    const mNew = tf.add(tf.mul(tf.scalar(this.beta1), m), tf.mul(tf.scalar(1 - this.beta1), g));
    const vNew = tf.add(tf.mul(tf.scalar(this.beta2), v), tf.mul(tf.scalar(1 - this.beta2), tf.square(g)));
    const denom = tf.add(tf.mul(tf.sqrt(vNew), invSqrtBc2!), tf.scalar(this.epsilon));
    const decayed = this.weightDecay > 0 ? tf.mul(p, decay!) : p;
    const stepped = tf.sub(decayed, tf.mul(stepSize!, tf.div(mNew, denom)));
    // The guard selects, not multiplies: a NaN update times 0 is still NaN.
    const kept = (updated: tf.Tensor, old: tf.Tensor) => (c.guard === undefined ? updated : tf.where(c.guard, updated, old));
    const pNew = kept(stepped, p);
    // Write back: the new moments into their places (the others keep theirs), the new values
    // into each variable.
    const merge = (whole: tf.Tensor, updated: tf.Tensor) => {
      if (all) return updated;
      let at = 0;
      return tf.concat(
        block.members.map((_, j) => {
          if (!present[j]) return tf.slice(whole, block.offsets[j]!, size(j));
          const part = tf.slice(updated, at, size(j));
          at += size(j);
          return part;
        }),
      );
    };
    block.m.assign(merge(block.m, kept(mNew, m)));
    block.v.assign(merge(block.v, kept(vNew, v)));
    const parts = flatSplit(pNew, picked.map(({ variable }) => variable.shape));
    picked.forEach(({ variable }, j) => variable.assign(parts[j]!));
    return pNew;
  }

  /**
   * The moments as named tensors (`m/<name>`, `v/<name>`), shaped like their variables. New
   * tensors: the caller disposes them.
   */
  slots(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    this.variables.forEach(({ name, variable }, i) => {
      const [b, j] = this.home[i]!;
      const block = this.blocks[b]!;
      out[`m/${name}`] = memberOf(block.m, block, j, variable);
      out[`v/${name}`] = memberOf(block.v, block, j, variable);
    });
    return out;
  }

  /**
   * Restores the moments and the update count (from a checkpoint). Every slot must be given with
   * the variable's shape; nothing changes unless all are valid.
   */
  restore(count: number, slots: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>): void {
    const where = 'Adam.restore';
    checkInt(where, 'count', count, 0);
    for (const { name, variable } of this.variables) {
      for (const key of [`m/${name}`, `v/${name}`]) {
        const s = slots[key];
        if (s === undefined) rangeFail(where, `slots["${key}"]`, 'present (a moment of every variable)', s);
        if (s.shape.length !== variable.shape.length || s.shape.some((d, i) => d !== variable.shape[i])) {
          rangeFail(where, `slots["${key}"].shape`, `[${variable.shape.join(', ')}]`, gotShape(s.shape));
        }
      }
    }
    for (const block of this.blocks) {
      for (const [moment, prefix] of [[block.m, 'm/'], [block.v, 'v/']] as const) {
        const data = packArrays(block, this.variables, (name) => slots[`${prefix}${name}`]!.data);
        tf.tidy(() => moment.assign(tf.tensor1d(data, 'float32')));
      }
    }
    this.updates = count;
  }

  dispose(): void {
    for (const block of this.blocks) {
      block.m.dispose();
      block.v.dispose();
    }
  }
}
