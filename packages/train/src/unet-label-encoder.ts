import * as tf from '@tensorflow/tfjs';
import { frozenEncoder, type Encoder } from '@mtd/aggregation';
import type { UNet } from '@mtd/unet';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkInt } from './errors.js';

export interface UnetLabelEncoderOptions {
  /** The shared U-Net, class-conditional (`numClasses`), with `outChannels === inChannels`. */
  unet: UNet;
  /** `K`; must equal the U-Net's `numClasses`. */
  classes: number;
  /**
   * Whether the training loss sends gradients into the U-Net through the encodings. Default
   * false: MATH.md 2 defines the forward process with fixed encoders, and with gradients the
   * network could lower the loss by moving the encodings themselves (e.g. spreading them apart
   * so labels become trivially readable from `z_t`, which also grows `lambda_T |e|`, the
   * mismatch at the end of the chain). The encodings still change as the U-Net trains.
   */
  gradient?: boolean;
}

/**
 * MATH.md 5.3: the shared U-Net as the label encoder, `E(x) = unet(zeros, t = 0, c = x)` through
 * the class-embedding path. Categorical encoders receive probabilities `[B, K]` (the sampler's
 * canonical form); the encoder computes the table `e_k = unet(0, 0, k)` for every class with one
 * U-Net call at batch `K` and returns `p @ table`. For a one-hot `p` that is exactly
 * `unet(0, 0, k)`; for a head's soft estimate it is the posterior expectation `sum_k p_k e_k`,
 * the form that makes the sampler's mean the exact mixture of the per-class means.
 *
 * Note that the U-Net's output block starts at zero (ADM's zero init), so every encoding is zero
 * until the U-Net has trained a little: the label enters the chain gradually.
 */
export function unetLabelEncoder(options: UnetLabelEncoderOptions): Encoder {
  const where = 'unetLabelEncoder';
  if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { unet, classes }', options);
  const { unet } = options;
  if (unet === null || typeof unet !== 'object' || typeof unet.forward !== 'function') typeFail(where, 'options.unet', 'a UNet from @mtd/unet', unet);
  const K = checkInt(where, 'options.classes', options.classes, 1);
  const cfg = unet.config;
  if (cfg.numClasses !== K) rangeFail(where, 'options.unet', `a class-conditional U-Net with numClasses ${K}`, `numClasses ${String(cfg.numClasses)}`);
  if (cfg.outChannels !== cfg.inChannels) rangeFail(where, 'options.unet', 'a U-Net with outChannels === inChannels (encodings live in z space)', `${cfg.outChannels} vs ${cfg.inChannels}`);
  const gradient = options.gradient ?? false;
  if (typeof gradient !== 'boolean') typeFail(where, 'options.gradient', 'a boolean', gradient);
  const s = cfg.imageSize;
  const c = cfg.inChannels;
  const encode = (p: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      if (p.rank !== 2 || p.shape[1] !== K) rangeFail(`${where}.encode`, 'x', `probabilities [B, ${K}]`, p);
      const { eps, taps } = unet.forward({
        x: tf.zeros([K, s, s, c]),
        t: tf.zeros([K]),
        classLabels: tf.range(0, K, 1, 'int32') as tf.Tensor1D,
        ...(cfg.extraChannels > 0 ? { extra: tf.zeros([K, s, s, cfg.extraChannels]) } : {}),
      });
      tf.dispose(taps);
      const table = tf.reshape(eps, [K, s * s * c]);
      return tf.reshape(tf.matMul(p as tf.Tensor2D, table), [p.shape[0]!, s, s, c]);
    });
  return gradient ? Object.freeze({ name: 'unet(zeros, t=0, c)', encode }) : frozenEncoder(encode, 'unet(zeros, t=0, c), frozen');
}
