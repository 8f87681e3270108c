import * as tf from '@tensorflow/tfjs';
import { rangeFail } from '@mtd/errors';
import { checkInt, checkNumber, gotShape } from './errors.js';
import { flatConcat, memberOf, packArrays, packVariables, resolveLayout, type Pack, type StateLayout } from './packing.js';
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
  layout?: StateLayout;
}

/**
 * A backend's one-kernel EMA step over a flat vector (implemented by `@mtd/backend` for webgpu),
 * used when registered: inputs `{ shadow, values }` (float32 `[N]`) and optionally `guard` (bool
 * scalar: where false the shadow stays), attrs `{ decay }`; output `[N]`,
 * `decay shadow + (1 - decay) values`, as the ops path computes it.
 */
export const EMA_UPDATE_KERNEL = 'MtdEmaUpdate';

/** Variables whose shadows are stored, and updated, together. */
interface Block extends Pack {
  readonly shadow: tf.Variable;
}

/**
 * Exponential moving average of the model weights ("EMA weights", used for sampling). The shadows
 * are explicit named tensors, saved in checkpoints; they start as copies of the variables.
 */
export class Ema {
  readonly decay: number;
  readonly warmup: boolean;
  readonly layout: StateLayout;
  private readonly variables: readonly NamedVariable[];
  private readonly blocks: readonly Block[];
  /** Variable index -> [block index, position within the block]. */
  private readonly home: readonly (readonly [number, number])[];
  private updates = 0;

  constructor(variables: readonly NamedVariable[], options: EmaOptions) {
    const where = 'Ema';
    this.variables = checkNamedVariables(where, 'variables', variables);
    if (options === null || typeof options !== 'object') rangeFail(where, 'options', 'an object { decay }', options);
    this.decay = checkNumber(where, 'options.decay', options.decay, { min: 0, max: 1 });
    this.warmup = options.warmup ?? true;
    this.layout = resolveLayout(where, options.layout);
    const { packs, home } = packVariables(this.variables, this.layout);
    // Shadows start as copies of the variables.
    this.blocks = packs.map((pack) => ({ ...pack, shadow: tf.tidy(() => tf.variable(this.flatValues(pack.members), false)) }));
    this.home = home;
  }

  get count(): number {
    return this.updates;
  }

  /** The decay update `k` (1-based) uses. */
  decayAt(k: number): number {
    return this.warmup ? Math.min(this.decay, (1 + k) / (10 + k)) : this.decay;
  }

  /**
   * The decay of the next update as a float32 `[1]` array: what `update`'s `options.coefficients`
   * takes as a tensor (for a recorded step, `StepGraph`).
   */
  nextCoefficients(): Float32Array {
    return Float32Array.of(this.decayAt(this.updates + 1));
  }

  /** Counts an update that was made without `update` (a replayed step graph). */
  advanceCount(): void {
    this.updates += 1;
  }

  /**
   * One update from the current variable values. `options.onlyIf`, a boolean scalar tensor: where
   * it is false the shadows keep their values; the count advances either way (`rewindCount()`
   * takes it back), as `Adam.apply`'s guard. `options.values`: those values already flat in this
   * EMA's order (flat layout), e.g. `Adam.apply`'s result with `returnValues` over the same list.
   * `options.coefficients`: `nextCoefficients()` as a tensor, used instead of the number.
   */
  update(options: { onlyIf?: tf.Tensor; values?: tf.Tensor; coefficients?: tf.Tensor } = {}): void {
    const guard = options.onlyIf;
    if (guard !== undefined && (!(guard instanceof tf.Tensor) || guard.rank !== 0 || guard.dtype !== 'bool')) {
      rangeFail('Ema.update', 'options.onlyIf', 'a bool scalar tensor', guard);
    }
    // The variables' values already flat (`Adam.apply`'s `returnValues` over the same variables):
    // not gathered again.
    const given = options.values;
    if (given !== undefined && (!(given instanceof tf.Tensor) || this.blocks.length !== 1 || given.rank !== 1 || given.size !== this.blocks[0]!.size)) {
      rangeFail('Ema.update', 'options.values', `the flat layout's ${this.blocks[0]!.size} current values`, given);
    }
    const coefficients = options.coefficients;
    if (coefficients !== undefined && (!(coefficients instanceof tf.Tensor) || coefficients.dtype !== 'float32' || coefficients.rank !== 1 || coefficients.size !== 1)) {
      rangeFail('Ema.update', 'options.coefficients', 'a float32 tensor [1] (nextCoefficients())', coefficients);
    }
    const k = this.updates + 1;
    const d = this.decayAt(k);
    for (const block of this.blocks) {
      tf.tidy(() => {
        const values = given ?? this.flatValues(block.members);
        if (tf.getKernel(EMA_UPDATE_KERNEL, tf.getBackend()) !== undefined && block.shadow.rank === 1 && values.rank === 1) {
          // The backend's one-program update (webgpu through @mtd/backend): the same formula.
          const inputs = { shadow: block.shadow, values, ...(guard === undefined ? {} : { guard }), ...(coefficients === undefined ? {} : { coefficients }) };
          block.shadow.assign(tf.engine().runKernel(EMA_UPDATE_KERNEL, inputs, { decay: d }) as tf.Tensor);
          return;
        }
        // From the given tensor: 1 - d in float32, where the number path rounds 1 - d from float64.
        const [keep, take] = coefficients !== undefined ? [tf.reshape(coefficients, []), tf.sub(1, tf.reshape(coefficients, []))] : [tf.scalar(d), tf.scalar(1 - d)];
        const next = tf.add(tf.mul(keep, block.shadow), tf.mul(take, values));
        block.shadow.assign(guard === undefined ? next : tf.where(guard, next, block.shadow));
      });
    }
    this.updates = k;
  }

  /** Takes back the count of the last update, whose `onlyIf` guard turned out false. */
  rewindCount(): void {
    if (this.updates === 0) throw new RangeError('Ema.rewindCount: no update to take back (the count is 0)');
    this.updates -= 1;
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
      const data = packArrays(block, this.variables, (name) => slots[name]!.data);
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
    return flatConcat(members.map((i) => this.variables[i]!.variable));
  }

  /** Variable `i`'s shadow, shaped like it (a new tensor). */
  private shadowOf(i: number): tf.Tensor {
    const [b, j] = this.home[i]!;
    const block = this.blocks[b]!;
    return memberOf(block.shadow, block, j, this.variables[i]!.variable);
  }
}
