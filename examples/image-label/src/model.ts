import * as tf from '@tensorflow/tfjs';
import { sqrtAlphaBarWeight } from '@mtd/aggregation';
import { classifierHead, middleMlpHead, type Head } from '@mtd/heads';
import type { Modality } from '@mtd/sampler';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { mtModel, unetLabelEncoder, type MtModel, type NamedVariable } from '@mtd/train';
import { createUNet, type UNet } from '@mtd/unet';
import type { RunConfig } from './config.js';

/** The three diffusion models of the experiment. */
export type VariantKind = 'mtM' | 'mtE' | 'ddpm';
/** The two supervised classifiers: each the classification path of one MT variant, trained alone. */
export type ClassifierKind = 'supM' | 'supE';

export const VARIANT_NAMES: Record<VariantKind, string> = { mtM: 'MT-Diffusion-M', mtE: 'MT-Diffusion-E', ddpm: 'single-task DDPM' };
export const CLASSIFIER_NAMES: Record<ClassifierKind, string> = {
  supM: 'supervised, -M size (U-Net encoder + middle block + linear)',
  supE: 'supervised, -E size (the -E classifier head alone)',
};
/** Which MT variant's classification path each supervised classifier copies. */
export const CLASSIFIER_OF: Record<ClassifierKind, 'mtM' | 'mtE'> = { supM: 'mtM', supE: 'mtE' };

export function buildSchedule(config: RunConfig): Schedule {
  return config.schedule.kind === 'cosine' ? cosineSchedule({ T: config.schedule.T }) : linearSchedule({ T: config.schedule.T });
}

// Every model starts from the same U-Net weights (the class embedding, when there is one, does not
// move the other parameters' initial values) and each head from the same seed as its supervised twin.
const unetSeed = (config: RunConfig) => config.seed * 7 + 1;
const headSeed = (config: RunConfig, kind: 'mtM' | 'mtE') => config.seed * 7 + (kind === 'mtM' ? 2 : 3);

function buildUNet(config: RunConfig, classConditional: boolean): UNet {
  return createUNet(
    { imageSize: config.imageSize, inChannels: 1, ...config.unet, ...(classConditional ? { numClasses: config.classes } : {}) },
    { seed: unetSeed(config) },
  );
}

/** "-M": one Linear on the pooled middle block (MATH.md 3). */
function middleHead(config: RunConfig): Head {
  const mults = config.unet.channelMults;
  return middleMlpHead({ name: 'label', inChannels: config.unet.baseChannels * mults[mults.length - 1]!, outDim: config.classes, kind: 'categorical', seed: headSeed(config, 'mtM') });
}

/** "-E": a small residual classifier on the U-Net's image estimate `x0` (its default tap). */
function outputClassifier(config: RunConfig): Head {
  const { width, stages, groups } = config.classifier;
  return classifierHead({ name: 'label', inChannels: 1, numClasses: config.classes, width, stages, groups, seed: headSeed(config, 'mtE') });
}

/**
 * One diffusion model of the experiment. The MT variants use a class-conditional U-Net: its class
 * path is both the label's conditioning path and, run at `(zeros, t = 0, k)`, the label encoder of
 * MATH.md 5.3 (`unetLabelEncoder`, frozen in the loss); the label enters `z_t` with
 * `w_t = c sqrt(alphaBar_t)`. The DDPM is the same U-Net without the class embedding.
 */
export function buildVariant(kind: VariantKind, config: RunConfig, schedule: Schedule): { model: MtModel; modalities: Modality[] } {
  if (kind === 'ddpm') return { model: mtModel({ unet: buildUNet(config, false), modalities: [] }), modalities: [] };
  const unet = buildUNet(config, true);
  const label: Modality = {
    name: 'label',
    kind: 'categorical',
    classes: config.classes,
    encoder: unetLabelEncoder({ unet, classes: config.classes }),
    weight: sqrtAlphaBarWeight(config.label.weightC),
  };
  const head = kind === 'mtM' ? middleHead(config) : outputClassifier(config);
  return {
    model: mtModel({ unet, heads: { label: head }, modalities: [label], conditioning: { label: 'class' }, schedule }),
    modalities: [label],
  };
}

/** A supervised classifier: logits of clean images, with its trainable variables. */
export interface Classifier {
  readonly kind: ClassifierKind;
  /** Every variable of the model (for `supM` the U-Net's decoder too, which gets no gradient). */
  readonly variables: NamedVariable[];
  /** Parameters on the path from the image to the logits (what "the same size" compares). */
  readonly pathParameters: number;
  /** `[B, S, S, 1]` in [-1, 1] -> logits `[B, K]`; a new tensor owned by the caller. */
  logits(images: tf.Tensor4D): tf.Tensor2D;
  dispose(): void;
}

/** U-Net parameter groups (PyTorch names) that the middle block depends on. */
const ENCODER_PREFIXES = ['time_embed.', 'input_blocks.', 'middle_block.'];

/**
 * The classification path of an MT variant, trained alone on clean images (the baseline "of the
 * same size"): `supM` = the U-Net run at `t = 0` up to its middle block, then the -M Linear;
 * `supE` = the -E classifier head on the image itself (at `t = 0` the -E model's image estimate
 * `x0` IS its input, whatever the U-Net outputs, so the U-Net adds nothing there).
 */
export function buildClassifier(kind: ClassifierKind, config: RunConfig): Classifier {
  if (kind === 'supM') {
    const unet = buildUNet(config, false);
    const head = middleHead(config);
    const variables = [
      ...unet.parameterNames.map((n, i) => ({ name: `unet.${n}`, variable: unet.variables[i]! })),
      ...head.parameterNames.map((n, i) => ({ name: `heads.label.${n}`, variable: head.variables[i]! })),
    ];
    const pathParameters =
      unet.parameterNames.reduce((s, n, i) => s + (ENCODER_PREFIXES.some((p) => n.startsWith(p)) ? unet.variables[i]!.size : 0), 0) + head.parameterCount();
    return {
      kind,
      variables,
      pathParameters,
      logits: (images) =>
        tf.tidy(() => {
          const { taps } = unet.forward({ x: images, t: tf.zeros([images.shape[0]], 'int32') as tf.Tensor1D });
          return head.forward({ middle: taps.middle }) as tf.Tensor2D;
        }),
      dispose: () => {
        unet.dispose();
        head.dispose();
      },
    };
  }
  const head = outputClassifier(config);
  return {
    kind,
    variables: head.parameterNames.map((n, i) => ({ name: `heads.label.${n}`, variable: head.variables[i]! })),
    pathParameters: head.parameterCount(),
    logits: (images) => head.forward({ x0: images }) as tf.Tensor2D,
    dispose: () => head.dispose(),
  };
}

/**
 * The label head's one-step reading of `z_t` at timestep `t`, with the label unknown (the null
 * class and no `A_t`: the label is what is asked for), as the known-z0 sampler's last step does.
 * Give it `z_t = sqrt(alphaBar_t) x + sqrt(1 - alphaBar_t) eps` of clean images `x` (`noisyImages`).
 * Returns the head's logits `[B, K]`, a new tensor owned by the caller.
 */
export function headLogits(model: MtModel, zt: tf.Tensor4D, t: number): tf.Tensor2D {
  if (!model.heads['label']) throw new RangeError('headLogits: model must have a "label" head');
  if (!Number.isInteger(t) || t < 1) throw new RangeError(`headLogits: t must be a timestep >= 1, got ${String(t)}`);
  return tf.tidy(() => model.forward({ zt, t: tf.fill([zt.shape[0]], t, 'int32') as tf.Tensor1D, known: {} }).heads['label'] as tf.Tensor2D);
}
