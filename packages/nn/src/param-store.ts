import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@mtd/random';
import { checkInt, fail } from './checks.js';
import type { Layout } from './layout.js';

/** A named variable and the layout its file tensor has (see `Layout`). */
export interface Param {
  readonly name: string;
  readonly variable: tf.Variable;
  readonly layout: Layout;
}

/** A 2-D convolution: HWIO `weight` `[k, k, in, out]` and `bias` `[out]`. */
export interface Conv {
  weight: tf.Variable;
  bias: tf.Variable;
}

/** An affine map over the last axis: `weight` `[in, out]` and `bias` `[out]`. */
export interface Dense {
  weight: tf.Variable;
  bias: tf.Variable;
}

/** GroupNorm's per-channel affine: scale `gamma` and shift `beta`, both `[channels]`. */
export interface Norm {
  gamma: tf.Variable;
  beta: tf.Variable;
}

type Fill = (out: Float32Array, rng: Rng) => void;

const zeros: Fill = () => {};

/** PyTorch's default for conv and linear layers (kaiming_uniform with a = sqrt(5)). */
function uniform(bound: number): Fill {
  return (out, rng) => void rng.fillUniform(out, -bound, bound);
}

/**
 * Creates named, seeded variables. Each variable draws from `rng.fork(name)`, so its initial
 * value depends only on the seed and its name: adding a layer never changes the others.
 *
 * Initialisation follows PyTorch's defaults, which ADM keeps: conv and linear weights and biases
 * uniform in `+-1/sqrt(fan_in)` (kaiming_uniform with a = sqrt(5)), GroupNorm scale 1 and shift
 * 0, embeddings N(0, 1); `zero` layers (ADM's `zero_module`) start at exactly 0.
 *
 * Names are the PyTorch `state_dict()` keys (`<name>.weight`, `<name>.bias`), which
 * `paramsToSafeTensors` writes as they are. The store owns nothing: whoever holds it disposes
 * the variables in `params`.
 */
export class ParamStore {
  /** Every variable made so far, in creation order. */
  readonly params: Param[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly rng: Rng) {
    if (rng === null || typeof rng !== 'object' || typeof (rng as Partial<Rng>).fork !== 'function') {
      fail('ParamStore', 'rng', 'an Rng from @mtd/random', rng);
    }
  }

  private add(where: string, name: string, layout: Layout, shape: number[], fill: Fill): tf.Variable {
    if (this.names.has(name)) throw new RangeError(`${where}: parameter names must be unique in a store, got ${JSON.stringify(name)} twice`);
    this.names.add(name);
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    fill(data, this.rng.fork(name));
    const variable = tf.tidy(() => tf.variable(tf.tensor(data, shape, 'float32'), true));
    this.params.push({ name, variable, layout });
    return variable;
  }

  /** A `k x k` convolution `cin -> cout`, fan-in `cin * k * k`; `zero` starts it at 0. */
  conv2d(name: string, k: number, cin: number, cout: number, zero = false): Conv {
    const where = 'ParamStore.conv2d';
    checkName(where, name);
    checkInt(where, 'k', k, 1);
    checkInt(where, 'cin', cin, 1);
    checkInt(where, 'cout', cout, 1);
    const fill = zero ? zeros : uniform(1 / Math.sqrt(cin * k * k));
    return {
      weight: this.add(where, `${name}.weight`, 'conv2d', [k, k, cin, cout], fill),
      bias: this.add(where, `${name}.bias`, 'plain', [cout], fill),
    };
  }

  /** A 1x1 Conv1d in the file, a matMul weight here (ADM's attention projections). */
  conv1d(name: string, cin: number, cout: number, zero = false): Dense {
    return this.dense('ParamStore.conv1d', 'conv1d', name, cin, cout, zero);
  }

  /** A Linear layer `cin -> cout`. */
  linear(name: string, cin: number, cout: number, zero = false): Dense {
    return this.dense('ParamStore.linear', 'linear', name, cin, cout, zero);
  }

  /** Conv1d(k = 1) and Linear are the same map; only the file layout differs. */
  private dense(where: string, layout: 'conv1d' | 'linear', name: string, cin: number, cout: number, zero: boolean): Dense {
    checkName(where, name);
    checkInt(where, 'cin', cin, 1);
    checkInt(where, 'cout', cout, 1);
    const fill = zero ? zeros : uniform(1 / Math.sqrt(cin));
    return {
      weight: this.add(where, `${name}.weight`, layout, [cin, cout], fill),
      bias: this.add(where, `${name}.bias`, 'plain', [cout], fill),
    };
  }

  /** GroupNorm's affine, named `weight` (scale, starts at 1) and `bias` (shift, starts at 0) as in PyTorch. */
  groupNorm(name: string, channels: number): Norm {
    const where = 'ParamStore.groupNorm';
    checkName(where, name);
    checkInt(where, 'channels', channels, 1);
    return {
      gamma: this.add(where, `${name}.weight`, 'plain', [channels], (out) => void out.fill(1)),
      beta: this.add(where, `${name}.bias`, 'plain', [channels], zeros),
    };
  }

  /** An embedding table `[rows, dim]`, N(0, 1) like PyTorch's `nn.Embedding`. */
  embedding(name: string, rows: number, dim: number): tf.Variable {
    const where = 'ParamStore.embedding';
    checkName(where, name);
    checkInt(where, 'rows', rows, 1);
    checkInt(where, 'dim', dim, 1);
    return this.add(where, `${name}.weight`, 'plain', [rows, dim], (out, rng) => void rng.fillNormal(out));
  }
}

function checkName(where: string, name: unknown): void {
  if (typeof name !== 'string' || name === '') fail(where, 'name', 'a non-empty string', name);
}
