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
  /**
   * `'flat'`: every shadow in one vector, updated with a concat and three elementwise kernels;
   * `'per-variable'`: three kernels per variable, no copies. The same values bit for bit. Default:
   * `'flat'` on webgpu (per-kernel overhead), `'per-variable'` elsewhere (as `Adam`'s layout).
   */
  layout?: 'flat' | 'per-variable';
}

/** Variables whose shadows are stored, and updated, together. */
interface Block {
  readonly members: readonly number[];
  readonly offsets: readonly number[];
  readonly shadow: tf.Variable;
}

/**
 * Exponential moving average of the model weights ("EMA weights", used for sampling). The shadows
 * are explicit named tensors, saved in checkpoints; they start as copies of the variables.
 */
export class Ema {
  readonly decay: number;
  readonly warmup: boolean;
  readonly layout: 'flat' | 'per-variable';
  private readonly variables: readonly NamedVariable[];
  private readonly blocks: readonly Block[];
  private readonly home: readonly (readonly [Block, number])[];
  private updates = 0;

  constructor(variables: readonly NamedVariable[], options: EmaOptions) {
    const where = 'Ema';
    this.variables = checkNamedVariables(where, 'variables', variables);
    if (options === null || typeof options !== 'object') rangeFail(where, 'options', 'an object { decay }', options);
    this.decay = checkNumber(where, 'options.decay', options.decay, { min: 0, max: 1 });
    this.warmup = options.warmup ?? true;
    const layout = options.layout ?? (tf.getBackend() === 'webgpu' ? 'flat' : 'per-variable');
    if (layout !== 'flat' && layout !== 'per-variable') rangeFail(where, 'options.layout', "'flat' or 'per-variable'", layout);
    this.layout = layout;
    const groups = layout === 'flat' ? [this.variables.map((_, i) => i)] : this.variables.map((_, i) => [i]);
    const home: (readonly [Block, number])[] = [];
    this.blocks = groups.map((members) => {
      const offsets: number[] = [];
      let total = 0;
      for (const i of members) {
        offsets.push(total);
        total += this.variables[i]!.variable.size;
      }
      // Shadows start as copies of the variables.
      const block: Block = { members, offsets, shadow: tf.tidy(() => tf.variable(this.flatValues(members), false)) };
      members.forEach((i, j) => (home[i] = [block, j]));
      return block;
    });
    this.home = home;
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
    for (const block of this.blocks) {
      tf.tidy(() => block.shadow.assign(tf.add(tf.mul(tf.scalar(d), block.shadow), tf.mul(tf.scalar(1 - d), this.flatValues(block.members)))));
    }
    this.updates = k;
  }

  /** The shadows by variable name, shaped like the variables. New tensors: the caller disposes them. */
  slots(): Record<string, tf.Tensor> {
    return Object.fromEntries(this.variables.map(({ name }, i) => [name, this.shadowOf(i)]));
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
    for (const block of this.blocks) {
      const data = new Float32Array(block.shadow.size);
      block.members.forEach((i, j) => {
        const { name, variable } = this.variables[i]!;
        data.set(slots[name]!.data.subarray(0, variable.size), block.offsets[j]!);
      });
      tf.tidy(() => block.shadow.assign(tf.tensor1d(data, 'float32')));
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
      this.copyToModel();
      return await fn();
    } finally {
      this.variables.forEach(({ variable }, i) => variable.assign(saved[i]!));
      tf.dispose(saved);
    }
  }

  /** Copies the EMA weights into the model's variables for good. */
  copyToModel(): void {
    this.variables.forEach(({ variable }, i) => {
      const value = this.shadowOf(i);
      variable.assign(value);
      value.dispose();
    });
  }

  dispose(): void {
    for (const block of this.blocks) block.shadow.dispose();
  }

  /** The members' current values as one flat vector. */
  private flatValues(members: readonly number[]): tf.Tensor {
    const parts = members.map((i) => tf.reshape(this.variables[i]!.variable, [-1]));
    return parts.length === 1 ? parts[0]! : tf.concat(parts);
  }

  /** Variable `i`'s shadow, shaped like it (a new tensor). */
  private shadowOf(i: number): tf.Tensor {
    const [block, j] = this.home[i]!;
    const { variable } = this.variables[i]!;
    return tf.tidy(() => tf.reshape(block.members.length === 1 ? block.shadow : tf.slice(block.shadow, block.offsets[j]!, variable.size), variable.shape));
  }
}
