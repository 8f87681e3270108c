import * as tf from '@tensorflow/tfjs';
import { frozenEncoder, type Encoder } from '@mtd/aggregation';
import type { UNet } from '@mtd/unet';
import { rangeFail, typeFail } from '@mtd/errors';

export interface UnetContextEncoderOptions {
  /** The shared U-Net, with cross-attention (`contextDim`) and `outChannels === inChannels`. */
  unet: UNet;
  /**
   * Whether the training loss sends gradients into the U-Net through the encodings. Default
   * false, for the reason `unetLabelEncoder` gives (MATH.md 2 defines the forward process with
   * fixed encoders; with gradients the network could lower the loss by moving the encodings
   * themselves). The encodings still change as the U-Net trains.
   */
  gradient?: boolean;
}

/**
 * MATH.md 5.3 for a vector modality: the shared U-Net as the encoder, `E(r) = unet(zeros, t = 0,
 * context = r)`, with `r` reaching the network through the cross-attention path (paper E.4: the
 * image representation enters the U-Net by cross-attention). Input: a vector `[B, D]` (one
 * context token per example) or a sequence `[B, L, D]`, `D` = the U-Net's `contextDim`; output
 * `[B, S, S, C]`, the shape of `z`. A class-conditional U-Net gets the null class and a U-Net
 * with extra channels all-zero extra channels, so `r` is the only thing the encoding depends on.
 *
 * The context reaches the output only through the attention blocks (the middle block always has
 * one), and the U-Net's output block starts at zero (ADM's zero init), so every encoding is zero
 * until the U-Net has trained a little: the representation enters the chain gradually. One
 * encoding costs one U-Net forward pass at the batch size of `r`.
 */
export function unetContextEncoder(options: UnetContextEncoderOptions): Encoder {
  const where = 'unetContextEncoder';
  if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { unet }', options);
  const { unet } = options;
  if (unet === null || typeof unet !== 'object' || typeof unet.forward !== 'function' || typeof unet.config !== 'object') {
    typeFail(where, 'options.unet', 'a UNet from @mtd/unet', unet);
  }
  const cfg = unet.config;
  const D = cfg.contextDim;
  if (D === undefined) rangeFail(where, 'options.unet', 'a U-Net with cross-attention (contextDim set)', 'contextDim undefined');
  if (cfg.outChannels !== cfg.inChannels) rangeFail(where, 'options.unet', 'a U-Net with outChannels === inChannels (encodings live in z space)', `${cfg.outChannels} vs ${cfg.inChannels}`);
  const gradient = options.gradient ?? false;
  if (typeof gradient !== 'boolean') typeFail(where, 'options.gradient', 'a boolean', gradient);
  const s = cfg.imageSize;
  const c = cfg.inChannels;
  const encode = (r: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      const ok = (r.rank === 2 || r.rank === 3) && r.shape[0]! >= 1 && r.shape[r.rank - 1] === D && r.dtype === 'float32';
      if (!ok) rangeFail(`${where}.encode`, 'r', `a float32 vector [B, ${D}] or sequence [B, L, ${D}]`, r);
      const B = r.shape[0]!;
      const { eps, taps } = unet.forward({
        x: tf.zeros([B, s, s, c]),
        t: tf.zeros([B]),
        context: (r.rank === 2 ? tf.expandDims(r, 1) : r) as tf.Tensor3D,
        ...(cfg.extraChannels > 0 ? { extra: tf.zeros([B, s, s, cfg.extraChannels]) } : {}),
      });
      tf.dispose(taps);
      return eps;
    });
  return gradient ? Object.freeze({ name: 'unet(zeros, t=0, context=r)', encode }) : frozenEncoder(encode, 'unet(zeros, t=0, context=r), frozen');
}
