import { checkInt, fail } from '@mtd/nn';

/**
 * Architecture of an ADM-style U-Net (Dhariwal & Nichol 2021, guided-diffusion's `UNetModel`),
 * with GLIDE's cross-attention to a context. Tensors are NHWC, as tfjs convolutions want.
 */
export interface UNetConfig {
  /** Height = width of the input image, in pixels. */
  imageSize: number;
  /** Channels of the image `z_t`; the noise prediction has as many unless `outChannels` is set. */
  inChannels: number;
  /** Channels of the noise prediction; default `inChannels`. */
  outChannels?: number;
  /**
   * Channels concatenated to `z_t` before the first convolution (the "-X" variant feeds the
   * masked image this way); default 0.
   */
  extraChannels?: number;
  /** Width of the first level (guided-diffusion's `model_channels`). */
  baseChannels: number;
  /** Width of level `l` is `baseChannels * channelMults[l]`; each level after the first halves the resolution. */
  channelMults: number[];
  /** Residual blocks per level in the encoder (the decoder has one more, as in ADM). */
  numResBlocks: number;
  /**
   * Feature-map sizes in pixels that get self-attention after each residual block (e.g. `[8]`
   * for the 8x8 maps of a 32x32 model). Each must be one of the levels' sizes. The middle block
   * always has attention.
   */
  attentionResolutions: number[];
  /** Attention heads (default 1); ignored when `numHeadChannels` is set. */
  numHeads?: number;
  /** Channels per head; when set, heads = channels / numHeadChannels at each block. */
  numHeadChannels?: number;
  /** Dropout rate inside residual blocks while training; default 0. */
  dropout?: number;
  /** GroupNorm groups (ADM uses 32); every level width must be divisible by it. */
  groups?: number;
  /** FiLM the second GroupNorm of every residual block with `(1 + scale, shift)` from the time embedding (ADM's `use_scale_shift_norm`). */
  useScaleShiftNorm?: boolean;
  /** Width of the time embedding MLP; default `4 * baseChannels`. */
  timeEmbedDim?: number;
  /**
   * Class-conditional: the embedding of the label is added to the time embedding. Labels run
   * `0..numClasses-1`; the extra index `numClasses` is the null class used for classifier-free
   * guidance (and when no label is given).
   */
  numClasses?: number;
  /** Width D of a context `[B, L, D]` every attention block also attends to (GLIDE's `encoder_kv`). */
  contextDim?: number;
}

/** A config with every default filled in. */
export type ResolvedUNetConfig = Required<Omit<UNetConfig, 'numHeadChannels' | 'numClasses' | 'contextDim'>> &
  Pick<UNetConfig, 'numHeadChannels' | 'numClasses' | 'contextDim'>;

/**
 * The benchmark model: 32x32x1, base 64, mults [1, 2, 2], 2 residual blocks, attention at 8x8,
 * GroupNorm(8), time embedding 256 (the twin of `shared/bench/torch_unet.py`).
 */
export const refUNet: Readonly<UNetConfig> = Object.freeze({
  imageSize: 32,
  inChannels: 1,
  baseChannels: 64,
  channelMults: [1, 2, 2],
  numResBlocks: 2,
  attentionResolutions: [8],
  numHeads: 1,
  dropout: 0,
  groups: 8,
  useScaleShiftNorm: false,
  timeEmbedDim: 256,
});

const KNOWN_KEYS = new Set([
  'imageSize', 'inChannels', 'outChannels', 'extraChannels', 'baseChannels', 'channelMults', 'numResBlocks',
  'attentionResolutions', 'numHeads', 'numHeadChannels', 'dropout', 'groups', 'useScaleShiftNorm', 'timeEmbedDim',
  'numClasses', 'contextDim',
]);

/** Fills defaults and checks every field, so a bad config fails here and not deep inside a conv. */
export function resolveConfig(config: UNetConfig, where = 'createUNet'): ResolvedUNetConfig {
  if (config === null || typeof config !== 'object') fail(where, 'config', 'a UNetConfig object', config);
  for (const key of Object.keys(config)) {
    if (!KNOWN_KEYS.has(key)) fail(where, 'config', `free of unknown keys (known: ${[...KNOWN_KEYS].join(', ')})`, key);
  }
  const imageSize = checkInt(where, 'config.imageSize', config.imageSize, 1);
  const inChannels = checkInt(where, 'config.inChannels', config.inChannels, 1);
  const outChannels = checkInt(where, 'config.outChannels', config.outChannels ?? inChannels, 1);
  const extraChannels = checkInt(where, 'config.extraChannels', config.extraChannels ?? 0, 0);
  const baseChannels = checkInt(where, 'config.baseChannels', config.baseChannels, 1);
  const mults = config.channelMults;
  if (!Array.isArray(mults) || mults.length === 0 || !mults.every((m) => Number.isInteger(m) && m >= 1)) {
    fail(where, 'config.channelMults', 'a non-empty array of integers >= 1', mults);
  }
  const numResBlocks = checkInt(where, 'config.numResBlocks', config.numResBlocks, 1);
  const levels = mults.length;
  if (imageSize % 2 ** (levels - 1) !== 0) {
    fail(where, 'config.imageSize', `divisible by 2^(levels - 1) = ${2 ** (levels - 1)} for ${levels} levels`, imageSize);
  }
  const sizes = mults.map((_, l) => imageSize / 2 ** l);
  const attn = config.attentionResolutions;
  if (!Array.isArray(attn) || !attn.every((r) => sizes.includes(r))) {
    fail(where, 'config.attentionResolutions', `an array of level sizes from [${sizes.join(', ')}]`, attn);
  }
  const groups = checkInt(where, 'config.groups', config.groups ?? 32, 1);
  for (const m of mults) {
    if ((baseChannels * m) % groups !== 0) {
      fail(where, 'config.groups', `a divisor of every level width (${baseChannels} * ${m} = ${baseChannels * m})`, groups);
    }
  }
  const numHeads = checkInt(where, 'config.numHeads', config.numHeads ?? 1, 1);
  const numHeadChannels =
    config.numHeadChannels === undefined ? undefined : checkInt(where, 'config.numHeadChannels', config.numHeadChannels, 1);
  // Attention runs at the attention levels and in the middle block (the last level's width).
  const attnWidths = new Set<number>([baseChannels * mults[levels - 1]!]);
  sizes.forEach((s, l) => attn.includes(s) && attnWidths.add(baseChannels * mults[l]!));
  for (const c of attnWidths) {
    if (numHeadChannels !== undefined ? c % numHeadChannels !== 0 : c % numHeads !== 0) {
      const arg = numHeadChannels !== undefined ? 'config.numHeadChannels' : 'config.numHeads';
      fail(where, arg, `a divisor of the attention width ${c}`, numHeadChannels ?? numHeads);
    }
  }
  const dropout = config.dropout ?? 0;
  if (typeof dropout !== 'number' || !(dropout >= 0 && dropout < 1)) fail(where, 'config.dropout', 'a number in [0, 1)', dropout);
  const useScaleShiftNorm = config.useScaleShiftNorm ?? false;
  if (typeof useScaleShiftNorm !== 'boolean') fail(where, 'config.useScaleShiftNorm', 'a boolean', useScaleShiftNorm);
  const timeEmbedDim = checkInt(where, 'config.timeEmbedDim', config.timeEmbedDim ?? 4 * baseChannels, 1);
  const numClasses = config.numClasses === undefined ? undefined : checkInt(where, 'config.numClasses', config.numClasses, 1);
  const contextDim = config.contextDim === undefined ? undefined : checkInt(where, 'config.contextDim', config.contextDim, 1);
  const out: ResolvedUNetConfig = {
    imageSize, inChannels, outChannels, extraChannels, baseChannels, channelMults: [...mults], numResBlocks,
    attentionResolutions: [...attn], numHeads, dropout, groups, useScaleShiftNorm, timeEmbedDim,
  };
  if (numHeadChannels !== undefined) out.numHeadChannels = numHeadChannels;
  if (numClasses !== undefined) out.numClasses = numClasses;
  if (contextDim !== undefined) out.contextDim = contextDim;
  return out;
}
