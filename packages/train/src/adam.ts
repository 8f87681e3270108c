import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import { checkInt, checkNumber, gotShape } from './errors.js';
import { checkNamedVariables, type NamedVariable } from './variables.js';

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
export class Adam {
  readonly lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly warmupSteps: number;
  readonly decaySteps: number | undefined;
  readonly finalFraction: number;
  private readonly variables: readonly NamedVariable[];
  private readonly m = new Map<string, tf.Variable>();
  private readonly v = new Map<string, tf.Variable>();
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
    for (const { name, variable } of this.variables) {
      this.m.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
      this.v.set(name, tf.tidy(() => tf.variable(tf.zerosLike(variable), false)));
    }
  }

  /** Number of updates applied so far (the `k` of the last update). */
  get count(): number {
    return this.updates;
  }

  /** The learning rate the next update will use. */
  nextLearningRate(): number {
    return this.learningRate(this.updates + 1);
  }

  /** The learning rate of update `k` (1-based). */
  learningRate(k: number): number {
    return learningRateAt(k, this);
  }

  /**
   * One update from gradients by variable name, each multiplied by `gradScale` first (the
   * gradient-clipping factor). A variable without a gradient (not connected to the loss) is left
   * alone, moments included, as PyTorch skips parameters whose `grad` is None; the bias correction
   * uses the global update count. Leaves no tensors behind.
   */
  apply(grads: Readonly<Record<string, tf.Tensor>>, gradScale = 1): void {
    const where = 'Adam.apply';
    checkNumber(where, 'gradScale', gradScale, { min: 0 });
    for (const { name, variable } of this.variables) {
      const g = grads[name];
      if (g === undefined) continue;
      if (!(g instanceof tf.Tensor)) rangeFail(where, `grads["${name}"]`, 'a tensor or undefined', g);
      if (g.shape.length !== variable.shape.length || g.shape.some((d, i) => d !== variable.shape[i])) {
        rangeFail(where, `grads["${name}"]`, `shaped like the variable [${variable.shape.join(', ')}]`, g);
      }
    }
    const k = this.updates + 1;
    const lr = this.learningRate(k);
    const bc1 = 1 - this.beta1 ** k;
    const bc2 = 1 - this.beta2 ** k;
    const stepSize = lr / bc1;
    const invSqrtBc2 = 1 / Math.sqrt(bc2);
    const decay = 1 - lr * this.weightDecay;
    tf.tidy(() => {
      const b1 = tf.scalar(this.beta1);
      const oneMinusB1 = tf.scalar(1 - this.beta1);
      const b2 = tf.scalar(this.beta2);
      const oneMinusB2 = tf.scalar(1 - this.beta2);
      const scale = tf.scalar(gradScale);
      const eps = tf.scalar(this.epsilon);
      const step = tf.scalar(stepSize);
      const inv = tf.scalar(invSqrtBc2);
      const keep = tf.scalar(decay);
      for (const { name, variable } of this.variables) {
        if (grads[name] === undefined) continue;
        const g = gradScale === 1 ? grads[name] : tf.mul(grads[name], scale);
        const m = this.m.get(name)!;
        const v = this.v.get(name)!;
        const mNew = tf.add(tf.mul(b1, m), tf.mul(oneMinusB1, g));
        const vNew = tf.add(tf.mul(b2, v), tf.mul(oneMinusB2, tf.square(g)));
        const denom = tf.add(tf.mul(tf.sqrt(vNew), inv), eps);
        const decayed = this.weightDecay > 0 ? tf.mul(variable, keep) : variable;
        m.assign(mNew);
        v.assign(vNew);
        variable.assign(tf.sub(decayed, tf.mul(step, tf.div(mNew, denom))));
      }
    });
    this.updates = k;
  }

  /** The moments as named tensors (`m/<name>`, `v/<name>`), borrowed: do not dispose. */
  slots(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const { name } of this.variables) {
      out[`m/${name}`] = this.m.get(name)!;
      out[`v/${name}`] = this.v.get(name)!;
    }
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
    for (const { name, variable } of this.variables) {
      tf.tidy(() => {
        this.m.get(name)!.assign(tf.tensor(slots[`m/${name}`]!.data, variable.shape, 'float32'));
        this.v.get(name)!.assign(tf.tensor(slots[`v/${name}`]!.data, variable.shape, 'float32'));
      });
    }
    this.updates = count;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}
