import * as tf from '@tensorflow/tfjs';
import { checkInt, conv2d, fail, groupNorm, silu, type Conv, type Norm } from '@mtd/nn';
import { BaseHead, checkKind, checkTap, type HeadContext, type HeadKind, type TapName } from './head.js';

export interface OutputBlockHeadOptions {
  name: string;
  /** Channels of the tap (the U-Net's `baseChannels * channelMults[0]` for `decoderFeatures`). */
  inChannels: number;
  /** Channels of the modality (values for gaussian, class logits per pixel for categorical). */
  outChannels: number;
  /** GroupNorm groups; must divide `inChannels`. Default 32, as ADM. */
  groups?: number;
  /** Default 'gaussian' (an image); 'categorical' for a segmentation map. */
  kind?: HeadKind;
  /** Default 'decoderFeatures'. */
  tap?: TapName;
  /**
   * Start the conv at exactly 0, like the U-Net's own output conv (ADM's `zero_module`); default
   * true. The head then predicts 0 (or uniform logits) at first and its loss does not disturb
   * the backbone until the conv has learnt something.
   */
  zeroInit?: boolean;
  /** Seed of the initial weights; default 0. */
  seed?: number;
}

/**
 * A replica of the U-Net's output block, GroupNorm -> SiLU -> 3x3 conv, on the last decoder
 * features (MATH.md 3): for image-like modalities (masked image, segmentation map, day image).
 * Weights are named as `nn.Sequential(GroupNorm, SiLU, Conv2d)`: `0.weight`, `0.bias`,
 * `2.weight` (OIHW), `2.bias`.
 */
export function outputBlockHead(options: OutputBlockHeadOptions): OutputBlockHead {
  return new OutputBlockHead(options);
}

export class OutputBlockHead extends BaseHead {
  readonly tap: TapName;
  readonly kind: HeadKind;
  readonly inChannels: number;
  readonly outChannels: number;
  private readonly groups: number;
  private readonly norm: Norm;
  private readonly conv: Conv;

  constructor(options: OutputBlockHeadOptions) {
    const where = 'outputBlockHead';
    if (options === null || typeof options !== 'object') fail(where, 'options', 'an options object', options);
    super(where, options.name, options.seed, options);
    this.inChannels = checkInt(where, 'options.inChannels', options.inChannels, 1);
    this.outChannels = checkInt(where, 'options.outChannels', options.outChannels, 1);
    this.groups = checkInt(where, 'options.groups', options.groups ?? 32, 1);
    if (this.inChannels % this.groups !== 0) fail(where, 'options.groups', `a divisor of inChannels ${this.inChannels}`, this.groups);
    this.kind = checkKind(where, options.kind ?? 'gaussian');
    this.tap = checkTap(where, options.tap ?? 'decoderFeatures');
    this.norm = this.store.groupNorm('0', this.inChannels);
    this.conv = this.store.conv2d('2', 3, this.inChannels, this.outChannels, options.zeroInit ?? true);
  }

  /** `[B, H, W, inChannels]` -> `[B, H, W, outChannels]`. */
  forward(taps: Readonly<Record<string, tf.Tensor>>, _ctx?: HeadContext): tf.Tensor4D {
    const x = this.readTap(taps, [-1, -1, this.inChannels]) as tf.Tensor4D;
    return tf.tidy(() => conv2d(silu(groupNorm(x, this.norm, this.groups)) as tf.Tensor4D, this.conv));
  }
}
