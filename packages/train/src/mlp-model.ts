import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { checkModalities, type Modality, type ModelOutput } from '@mtd/sampler';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkInt } from './errors.js';
import { applyDense, dense, silu, timestepEmbedding, type Dense } from './layers.js';
import type { TrainableModel, TrainInput } from './model.js';
import type { NamedVariable } from './variables.js';

export interface MlpModelOptions {
  /** Size of `z`: the model works on flat vectors `[B, dim]` (a 2-D toy has dim 2). */
  dim: number;
  /** Every modality of the model: each gets a head, and (see `conditioning`) a conditioning input. */
  modalities: readonly Modality[];
  /** Width of the hidden layers; default 128. */
  hidden?: number;
  /** Number of hidden layers (the first one reads the input); default 3. */
  depth?: number;
  /** Sinusoidal timestep features (even); default 32. */
  timeFeatures?: number;
  /**
   * Modalities read through the conditioning path (by name); default all. A modality left out
   * reaches the model only through `A_t` inside `z_t` (an unconditional model of it).
   */
  conditioning?: readonly string[];
  /** Flat size of each gaussian modality's data; default `dim`. */
  gaussianSizes?: Readonly<Record<string, number>>;
  /** Seed of the initial weights; default 0. */
  seed?: number;
}

/**
 * A small residual MLP diffusion model for vector data (toys, representations, tests): the
 * trainer's `TrainableModel` for `z` of shape `[B, dim]`. With `tau` the sinusoidal features of
 * `t` (guided-diffusion's embedding, no learned projection: on tfjs's cpu backend every matMul
 * counts),
 *
 *     u = [tau, c],   h_1 = silu(W_1 [z, u]),   h_l = h_{l-1} + silu(W_l h_{l-1} + U_l u),
 *     [eps, head_1, ..., head_N] = W_out h_depth.
 *
 * The time and the condition enter every layer, as the time and class embeddings enter every
 * block of a U-Net. (`U_l u` rather than `W_l [h, u]`: the gradient of a concat is a SplitV, the
 * slowest kernel of the cpu backend at these sizes.)
 *
 * The conditioning input `c` concatenates, per conditioned modality, its canonical value times
 * its presence (categorical: probabilities `[B, K]`; gaussian: the flattened data) and the
 * presence flag itself, so "unknown" (flag 0, zeros) is a value distinct from every known one.
 * Trained with condition dropout, one model is then both the joint model (all flags 0) and every
 * conditional one. Heads are linear: logits for categorical modalities, values for gaussian ones.
 */
export function mlpModel(options: MlpModelOptions): MlpModel {
  return new MlpModel(options);
}

export class MlpModel implements TrainableModel {
  readonly dim: number;
  readonly modalities: readonly Modality[];
  readonly conditioning: readonly string[];
  readonly variables: NamedVariable[] = [];
  private readonly timeFeatures: number;
  private readonly sizes: ReadonlyMap<string, number>;
  private readonly layers: Dense[] = [];
  private readonly contextProjections: tf.Variable[] = [];
  private readonly out: Dense;
  private disposed = false;

  constructor(options: MlpModelOptions) {
    const where = 'mlpModel';
    if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { dim, modalities, ... }', options);
    this.dim = checkInt(where, 'options.dim', options.dim, 1);
    this.modalities = checkModalities(where, options.modalities);
    const hidden = checkInt(where, 'options.hidden', options.hidden ?? 128, 1);
    const depth = checkInt(where, 'options.depth', options.depth ?? 3, 1);
    this.timeFeatures = checkInt(where, 'options.timeFeatures', options.timeFeatures ?? 32, 2);
    if (this.timeFeatures % 2 !== 0) rangeFail(where, 'options.timeFeatures', 'an even integer', this.timeFeatures);
    const seed = checkInt(where, 'options.seed', options.seed ?? 0, 0);
    const names = this.modalities.map((m) => m.name);
    this.conditioning = options.conditioning ?? names;
    if (!Array.isArray(this.conditioning)) typeFail(where, 'options.conditioning', 'an array of modality names', this.conditioning);
    for (const c of this.conditioning) {
      if (!names.includes(c)) rangeFail(where, 'options.conditioning', `modality names (${names.join(', ')})`, c);
    }
    const sizes = new Map<string, number>();
    for (const m of this.modalities) {
      const size = m.kind === 'categorical' ? m.classes : (options.gaussianSizes?.[m.name] ?? this.dim);
      sizes.set(m.name, checkInt(where, `options.gaussianSizes.${m.name}`, size, 1));
    }
    this.sizes = sizes;
    const condSize = this.conditioning.reduce((n, c) => n + sizes.get(c)! + 1, 0);
    const outSize = this.dim + this.modalities.reduce((n, m) => n + sizes.get(m.name)!, 0);

    const rng = createRng(seed).fork('init');
    const v = this.variables;
    this.layers.push(dense(rng, v, 'layers.0', this.dim + condSize + this.timeFeatures, hidden));
    for (let l = 1; l < depth; l++) {
      this.layers.push(dense(rng, v, `layers.${l}`, hidden, hidden));
      this.contextProjections.push(dense(rng, v, `context.${l}`, this.timeFeatures + condSize, hidden, { bias: false }).w);
    }
    this.out = dense(rng, v, 'out', hidden, outSize);
  }

  forward(input: TrainInput): ModelOutput {
    const where = 'MlpModel.forward';
    if (this.disposed) throw new Error(`${where}: this model was disposed`);
    const { zt, t, known, present } = input;
    if (!(zt instanceof tf.Tensor) || zt.rank !== 2 || zt.shape[1] !== this.dim) {
      typeFail(where, 'input.zt', `a float32 tensor [B, ${this.dim}]`, zt);
    }
    const batch = zt.shape[0]!;
    return tf.tidy(() => {
      const tau = timestepEmbedding(t, this.timeFeatures);
      const parts: tf.Tensor[] = [zt];
      for (const name of this.conditioning) {
        const size = this.sizes.get(name)!;
        const value = known[name];
        if (value === undefined) {
          parts.push(tf.zeros([batch, size + 1]));
          continue;
        }
        const flat = tf.reshape(value, [batch, -1]);
        if (flat.shape[1] !== size) rangeFail(where, `input.known.${name}`, `${size} values per example`, value);
        const mask = present?.[name] === undefined ? tf.ones([batch, 1]) : tf.reshape(present[name]!, [batch, 1]);
        parts.push(tf.mul(flat, mask), mask);
      }
      parts.push(tau);
      const context = tf.concat(parts.slice(1), 1);
      let h = silu(applyDense(tf.concat([zt, context], 1), this.layers[0]!));
      this.layers.slice(1).forEach((layer, l) => {
        h = tf.add(h, silu(tf.add(applyDense(h, layer), tf.matMul(context, this.contextProjections[l] as tf.Tensor2D))));
      });
      const out = applyDense(h, this.out);
      const eps = tf.slice(out, [0, 0], [batch, this.dim]);
      const heads: Record<string, tf.Tensor> = {};
      let offset = this.dim;
      for (const m of this.modalities) {
        const size = this.sizes.get(m.name)!;
        heads[m.name] = tf.slice(out, [0, offset], [batch, size]);
        offset += size;
      }
      return { eps, heads };
    });
  }

  parameterCount(): number {
    return this.variables.reduce((n, { variable }) => n + variable.size, 0);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const { variable } of this.variables) variable.dispose();
  }
}
