import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import { checkInt, checkNumber, gotShape } from './errors.js';
import { checkNamedVariables, type NamedVariable } from './variables.js';

export interface EmaOptions {
  /** `d` in `shadow <- d shadow + (1 - d) p`; e.g. 0.999 or 0.9999. */
  decay: number;
  /**
   * Warm-up of the decay, as TensorFlow's `ExponentialMovingAverage(num_updates)`: update `k`
   * (1-based) uses `min(d, (1 + k) / (10 + k))`, so a short run is not dominated by the initial
   * weights (with d = 0.999 and no warm-up, 0.999^2000 = 13.5% of the average is still the
   * initialisation after 2000 steps). Default true.
   */
  warmup?: boolean;
}

/**
 * Exponential moving average of the model weights ("EMA weights", used for sampling). The shadows
 * are explicit named tensors, saved in checkpoints; they start as copies of the variables.
 */
export class Ema {
  readonly decay: number;
  readonly warmup: boolean;
  private readonly variables: readonly NamedVariable[];
  private readonly shadows = new Map<string, tf.Variable>();
  private updates = 0;

  constructor(variables: readonly NamedVariable[], options: EmaOptions) {
    const where = 'Ema';
    this.variables = checkNamedVariables(where, 'variables', variables);
    if (options === null || typeof options !== 'object') rangeFail(where, 'options', 'an object { decay }', options);
    this.decay = checkNumber(where, 'options.decay', options.decay, { min: 0, max: 1 });
    this.warmup = options.warmup ?? true;
    for (const { name, variable } of this.variables) this.shadows.set(name, tf.tidy(() => tf.variable(tf.clone(variable), false)));
  }

  get count(): number {
    return this.updates;
  }

  /** The decay update `k` (1-based) uses. */
  decayAt(k: number): number {
    return this.warmup ? Math.min(this.decay, (1 + k) / (10 + k)) : this.decay;
  }

  /** One update from the current variable values. */
  update(): void {
    const k = this.updates + 1;
    const d = this.decayAt(k);
    tf.tidy(() => {
      const keep = tf.scalar(d);
      const take = tf.scalar(1 - d);
      for (const { name, variable } of this.variables) {
        const s = this.shadows.get(name)!;
        s.assign(tf.add(tf.mul(keep, s), tf.mul(take, variable)));
      }
    });
    this.updates = k;
  }

  /** The shadows by variable name, borrowed: do not dispose. */
  slots(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.variables.map(({ name }) => [name, this.shadows.get(name)!]));
  }

  /** Restores the shadows and the update count (from a checkpoint); checks everything first. */
  restore(count: number, slots: Readonly<Record<string, { shape: readonly number[]; data: Float32Array }>>): void {
    const where = 'Ema.restore';
    checkInt(where, 'count', count, 0);
    for (const { name, variable } of this.variables) {
      const s = slots[name];
      if (s === undefined) rangeFail(where, `slots["${name}"]`, 'present (a shadow of every variable)', s);
      if (s.shape.length !== variable.shape.length || s.shape.some((d, i) => d !== variable.shape[i])) {
        rangeFail(where, `slots["${name}"].shape`, `[${variable.shape.join(', ')}]`, gotShape(s.shape));
      }
    }
    for (const { name, variable } of this.variables) {
      tf.tidy(() => this.shadows.get(name)!.assign(tf.tensor(slots[name]!.data, variable.shape, 'float32')));
    }
    this.updates = count;
  }

  /**
   * Runs `fn` with the EMA weights in the model's variables, then puts the trained weights back
   * (also when `fn` throws). Use it to sample or evaluate with the EMA weights.
   */
  async withWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    const saved = this.variables.map(({ variable }) => tf.clone(variable));
    try {
      this.variables.forEach(({ name, variable }) => variable.assign(this.shadows.get(name)!));
      return await fn();
    } finally {
      this.variables.forEach(({ variable }, i) => variable.assign(saved[i]!));
      tf.dispose(saved);
    }
  }

  /** Copies the EMA weights into the model's variables for good. */
  copyToModel(): void {
    this.variables.forEach(({ name, variable }) => variable.assign(this.shadows.get(name)!));
  }

  dispose(): void {
    for (const s of this.shadows.values()) s.dispose();
    this.shadows.clear();
  }
}
