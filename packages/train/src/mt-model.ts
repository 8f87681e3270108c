import * as tf from '@tensorflow/tfjs';
import { predictZ0FromEps } from '@mtd/aggregation';
import type { Head } from '@mtd/heads';
import { checkModalities, encodeModality, type Modality, type ModelOutput } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';
import type { UNet } from '@mtd/unet';
import { rangeFail, typeFail } from '@mtd/errors';
import type { TrainableModel, TrainInput } from './model.js';
import { prefixed, type NamedVariable } from './variables.js';

/**
 * How a modality reaches the U-Net besides `A_t` (its conditioning path):
 * - `'class'`: a categorical modality through the class embedding (`numClasses` of the U-Net
 *   must equal its `K`); known probabilities are reduced to their argmax class, an unknown or
 *   dropped one is the null class `numClasses`;
 * - `'extra'`: a gaussian image-shaped modality `[B, S, S, extraChannels]` as the U-Net's extra
 *   input channels (the "-X" variant; at most one modality); an unknown or dropped one is all
 *   zeros;
 * - `'context'`: a gaussian vector `[B, D]` (one context token) or sequence `[B, L, D]` that every
 *   attention block of the U-Net also attends to (cross-attention, GLIDE's `encoder_kv`; `D` =
 *   the U-Net's `contextDim`; at most one modality), e.g. an image representation (paper E.4);
 *   an unknown or dropped one is one all-zero token, so the null condition is the token whose
 *   keys and values are `encoder_kv`'s bias: one learned "no representation" token, the same
 *   for every example, and the same in training (dropped) and sampling (unknown);
 * - `'none'`: only through `A_t` inside `z_t` (the "-U" variant; not a conditional model of it).
 */
export type ConditioningPath = 'class' | 'extra' | 'context' | 'none';

export interface MtModelOptions {
  unet: UNet;
  /** One decoder head per modality that the model should generate, by modality name (@mtd/heads). */
  heads?: Readonly<Record<string, Head>>;
  /** Every modality of the model (the heads' and the conditioning paths'). */
  modalities: readonly Modality[];
  /**
   * By modality name. Default: the U-Net's class path for the first categorical modality whose
   * `K` equals the U-Net's `numClasses`; the extra channels for the first gaussian modality if the
   * U-Net has `extraChannels`; the context for the first other gaussian modality if the U-Net has
   * `contextDim`; `'none'` for the rest.
   */
  conditioning?: Readonly<Record<string, ConditioningPath>>;
  /**
   * The schedule, needed only when a head reads the `x0` tap (the "-E" classifier on the image
   * estimate `x0 = (z_t - A_t - sqrt(1 - alphaBar_t) eps) / sqrt(alphaBar_t)`, with `A_t` from the
   * modalities the model was given).
   */
  schedule?: Schedule;
  /** Whether the loss of an `x0`-reading head trains the U-Net through `x0` (default true). */
  x0Gradient?: boolean;
}

/**
 * The MT-Diffusion network of MATH.md 3 as a `TrainableModel`: the shared U-Net (noise head)
 * plus one decoder head per generated modality reading a tap (`middle`, `decoderFeatures`,
 * `eps`, `x0`), with each known modality fed through its conditioning path, so one model trained
 * with condition dropout does joint and conditional generation.
 *
 * Variables are named `unet.<PyTorch name>` and `heads.<modality>.<head parameter name>`. The
 * U-Net and the heads stay owned by the caller (`dispose()` frees them all, for convenience).
 */
export function mtModel(options: MtModelOptions): MtModel {
  return new MtModel(options);
}

export class MtModel implements TrainableModel {
  readonly unet: UNet;
  readonly heads: Readonly<Record<string, Head>>;
  readonly modalities: readonly Modality[];
  readonly conditioning: Readonly<Record<string, ConditioningPath>>;
  readonly variables: NamedVariable[];
  private readonly schedule: Schedule | undefined;
  private readonly x0Gradient: boolean;
  private readonly classModality: Modality | undefined;
  private readonly extraModality: Modality | undefined;
  private readonly contextModality: Modality | undefined;
  private readonly needsX0: boolean;

  constructor(options: MtModelOptions) {
    const where = 'mtModel';
    if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { unet, heads, modalities }', options);
    const { unet } = options;
    if (unet === null || typeof unet !== 'object' || typeof unet.forward !== 'function' || !Array.isArray(unet.variables)) {
      typeFail(where, 'options.unet', 'a UNet from @mtd/unet', unet);
    }
    this.unet = unet;
    this.modalities = checkModalities(where, options.modalities);
    const names = this.modalities.map((m) => m.name);
    const heads = options.heads ?? {};
    if (heads === null || typeof heads !== 'object') typeFail(where, 'options.heads', 'a record of heads by modality name', heads);
    for (const [name, head] of Object.entries(heads)) {
      if (!names.includes(name)) rangeFail(where, 'options.heads', `keyed by modality names (${names.join(', ')})`, name);
      if (head === null || typeof head !== 'object' || typeof head.forward !== 'function') typeFail(where, `options.heads.${name}`, 'a Head from @mtd/heads', head);
      const m = this.modalities.find((x) => x.name === name)!;
      if (head.kind !== m.kind) rangeFail(where, `options.heads.${name}.kind`, `"${m.kind}" (the modality's kind)`, head.kind);
    }
    this.heads = heads;
    const cfg = unet.config;
    const conditioning: Record<string, ConditioningPath> = {};
    let classTaken = false;
    for (const m of this.modalities) {
      const given = options.conditioning?.[m.name];
      let path: ConditioningPath;
      if (given !== undefined) {
        if (given !== 'class' && given !== 'extra' && given !== 'context' && given !== 'none') {
          rangeFail(where, `options.conditioning.${m.name}`, "'class', 'extra', 'context' or 'none'", given);
        }
        path = given;
      } else if (m.kind === 'categorical' && !classTaken && cfg.numClasses === m.classes) {
        path = 'class';
      } else if (m.kind === 'gaussian' && cfg.extraChannels > 0 && this.extraModality === undefined) {
        path = 'extra';
      } else if (m.kind === 'gaussian' && cfg.contextDim !== undefined && this.contextModality === undefined) {
        path = 'context';
      } else {
        path = 'none';
      }
      if (path === 'class') {
        if (m.kind !== 'categorical') rangeFail(where, `options.conditioning.${m.name}`, "'extra', 'context' or 'none' for a gaussian modality", path);
        if (cfg.numClasses !== m.classes) rangeFail(where, `options.conditioning.${m.name}`, `'class' only with a U-Net of numClasses ${m.classes}`, `numClasses ${String(cfg.numClasses)}`);
        if (classTaken) rangeFail(where, `options.conditioning.${m.name}`, "'class' for at most one modality (the U-Net has one class embedding)", path);
        classTaken = true;
        this.classModality = m;
      }
      if (path === 'extra') {
        if (m.kind !== 'gaussian') rangeFail(where, `options.conditioning.${m.name}`, "'class' or 'none' for a categorical modality", path);
        if (this.extraModality !== undefined) rangeFail(where, `options.conditioning.${m.name}`, "'extra' for at most one modality", path);
        this.extraModality = m;
      }
      if (path === 'context') {
        if (m.kind !== 'gaussian') rangeFail(where, `options.conditioning.${m.name}`, "'class' or 'none' for a categorical modality", path);
        if (cfg.contextDim === undefined) rangeFail(where, `options.conditioning.${m.name}`, "'context' only with a U-Net that has contextDim", 'contextDim undefined');
        if (this.contextModality !== undefined) rangeFail(where, `options.conditioning.${m.name}`, "'context' for at most one modality", path);
        this.contextModality = m;
      }
      conditioning[m.name] = path;
    }
    for (const [name] of Object.entries(options.conditioning ?? {})) {
      if (!names.includes(name)) rangeFail(where, 'options.conditioning', `keyed by modality names (${names.join(', ')})`, name);
    }
    if (this.extraModality === undefined && cfg.extraChannels > 0) {
      rangeFail(where, 'options.conditioning', `a modality on the 'extra' path (the U-Net has extraChannels ${cfg.extraChannels})`, 'none');
    }
    if (this.extraModality !== undefined && cfg.extraChannels === 0) {
      rangeFail(where, 'options.unet', "a U-Net with extraChannels > 0 (a modality is on the 'extra' path)", 'extraChannels 0');
    }
    this.conditioning = conditioning;
    this.needsX0 = Object.values(heads).some((h) => h.tap === 'x0');
    this.schedule = options.schedule;
    if (this.needsX0 && (this.schedule === undefined || typeof this.schedule !== 'object')) {
      typeFail(where, 'options.schedule', "a Schedule (a head reads the 'x0' tap)", this.schedule);
    }
    this.x0Gradient = options.x0Gradient ?? true;
    this.variables = [
      ...prefixed('unet.', unet.parameterNames, unet.variables),
      ...Object.entries(heads).flatMap(([name, h]) => prefixed(`heads.${name}.`, h.parameterNames, h.variables)),
    ];
  }

  forward(input: TrainInput): ModelOutput {
    const where = 'MtModel.forward';
    const { zt, t, known, present, training = false, seed } = input;
    const cfg = this.unet.config;
    return tf.tidy(() => {
      const batch = zt.shape[0]!;
      const mask = (name: string): tf.Tensor1D | undefined => present?.[name];
      let classLabels: tf.Tensor1D | undefined;
      const cls = this.classModality;
      if (cls !== undefined && known[cls.name] !== undefined) {
        const ids = tf.cast(tf.argMax(known[cls.name]!, 1), 'int32') as tf.Tensor1D;
        const p = mask(cls.name);
        classLabels = p === undefined ? ids : (tf.where(tf.greater(p, 0.5), ids, tf.fill([batch], cfg.numClasses!, 'int32')) as tf.Tensor1D);
      }
      let extra: tf.Tensor4D | undefined;
      const ex = this.extraModality;
      if (ex !== undefined) {
        const value = known[ex.name];
        const s = cfg.imageSize;
        if (value === undefined) {
          extra = tf.zeros([batch, s, s, cfg.extraChannels]);
        } else {
          if (value.rank !== 4 || value.shape[1] !== s || value.shape[2] !== s || value.shape[3] !== cfg.extraChannels) {
            rangeFail(where, `input.known.${ex.name}`, `an image [B, ${s}, ${s}, ${cfg.extraChannels}] (it is on the 'extra' path)`, value);
          }
          const p = mask(ex.name);
          extra = (p === undefined ? value : tf.mul(value, tf.reshape(p, [batch, 1, 1, 1]))) as tf.Tensor4D;
        }
      }
      let context: tf.Tensor3D | undefined;
      const cx = this.contextModality;
      if (cx !== undefined) {
        const value = known[cx.name];
        const D = cfg.contextDim!;
        if (value === undefined) {
          context = tf.zeros([batch, 1, D]);
        } else {
          const ok = value.shape[0] === batch && value.shape[value.rank - 1] === D && (value.rank === 2 || (value.rank === 3 && value.shape[1]! >= 1));
          if (!ok) rangeFail(where, `input.known.${cx.name}`, `a vector [${batch}, ${D}] or a sequence [${batch}, L, ${D}] (it is on the 'context' path)`, value);
          const tokens = (value.rank === 2 ? tf.expandDims(value, 1) : value) as tf.Tensor3D;
          const p = mask(cx.name);
          context = p === undefined ? tokens : (tf.mul(tokens, tf.reshape(p, [batch, 1, 1])) as tf.Tensor3D);
        }
      }
      const { eps, taps } = this.unet.forward({
        x: zt as tf.Tensor4D,
        t,
        ...(classLabels !== undefined ? { classLabels } : {}),
        ...(extra !== undefined ? { extra } : {}),
        ...(context !== undefined ? { context } : {}),
        ...(training ? { training: true, ...(seed !== undefined ? { dropoutSeed: seed } : {}) } : {}),
      });
      const tapRecord: Record<string, tf.Tensor> = { middle: taps.middle, decoderFeatures: taps.decoderFeatures, eps };
      if (this.needsX0) tapRecord['x0'] = this.x0(zt, t, eps, known, present);
      const heads: Record<string, tf.Tensor> = {};
      for (const [name, head] of Object.entries(this.heads)) heads[name] = head.forward(tapRecord, { training });
      return { eps, heads };
    });
  }

  /** `x0` from `eps` with `A_t` of the modalities the model was given (present examples only). */
  private x0(zt: tf.Tensor, t: tf.Tensor1D, eps: tf.Tensor, known: TrainInput['known'], present: TrainInput['present']): tf.Tensor {
    const given = this.modalities.filter((m) => known[m.name] !== undefined);
    const encodings = given.map((m) => {
      const e = encodeModality(m, known[m.name]!, zt.shape, 'MtModel.forward');
      const p = present?.[m.name];
      return p === undefined ? e : tf.mul(e, tf.reshape(p, [-1, ...zt.shape.slice(1).map(() => 1)]));
    });
    const x0 = predictZ0FromEps({ schedule: this.schedule!, weights: given.map((m) => m.weight), t, zt, eps, encodings });
    return this.x0Gradient ? x0 : stopGradient(x0);
  }

  parameterCount(): number {
    return this.variables.reduce((n, { variable }) => n + variable.size, 0);
  }

  /** Frees the U-Net and every head. */
  dispose(): void {
    this.unet.dispose();
    for (const h of Object.values(this.heads)) h.dispose();
  }
}

/** The identity forward with a zero gradient (tfjs has no stopGradient op). */
const stopGradient = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
}) as (x: tf.Tensor) => tf.Tensor;
