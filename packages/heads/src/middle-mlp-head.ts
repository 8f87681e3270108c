import * as tf from '@tensorflow/tfjs';
import { checkInt, fail, linear, type Dense } from '@mtd/nn';
import { BaseHead, checkKind, checkTap, type HeadContext, type HeadKind, type TapName } from './head.js';

export interface MiddleMlpHeadOptions {
  name: string;
  /** Channels of the tap (the U-Net's middle width, `baseChannels * channelMults[last]`). */
  inChannels: number;
  /** Output width: classes for a label, the vector size for a representation. */
  outDim: number;
  /** 'categorical' for labels ("-M"), 'gaussian' for representations. */
  kind: HeadKind;
  /** Hidden width: set it for Linear -> ReLU -> Linear (the paper uses 1024 for representations); omit for one Linear. */
  hidden?: number;
  /** Default 'middle'. */
  tap?: TapName;
  seed?: number;
}

/**
 * Global average pool of the middle block, then an MLP (MATH.md 3): one Linear for labels
 * ("-M"), Linear -> ReLU -> Linear for representations. Named like `nn.Sequential`: `0.*` and,
 * with a hidden layer, `2.*` (PyTorch `[out, in]` weights).
 */
export function middleMlpHead(options: MiddleMlpHeadOptions): MiddleMlpHead {
  return new MiddleMlpHead(options);
}

export class MiddleMlpHead extends BaseHead {
  readonly tap: TapName;
  readonly kind: HeadKind;
  readonly inChannels: number;
  readonly outDim: number;
  private readonly layers: Dense[];

  constructor(options: MiddleMlpHeadOptions) {
    const where = 'middleMlpHead';
    if (options === null || typeof options !== 'object') fail(where, 'options', 'an options object', options);
    super(where, options.name, options.seed, options);
    this.inChannels = checkInt(where, 'options.inChannels', options.inChannels, 1);
    this.outDim = checkInt(where, 'options.outDim', options.outDim, 1);
    this.kind = checkKind(where, options.kind);
    this.tap = checkTap(where, options.tap ?? 'middle');
    if (options.hidden === undefined) {
      this.layers = [this.store.linear('0', this.inChannels, this.outDim)];
    } else {
      const hidden = checkInt(where, 'options.hidden', options.hidden, 1);
      this.layers = [this.store.linear('0', this.inChannels, hidden), this.store.linear('2', hidden, this.outDim)];
    }
  }

  /** `[B, h, w, inChannels]` (or already pooled `[B, inChannels]`) -> `[B, outDim]`. */
  forward(taps: Readonly<Record<string, tf.Tensor>>, _ctx?: HeadContext): tf.Tensor2D {
    const raw = taps?.[this.tap];
    const x = this.readTap(taps, raw instanceof tf.Tensor && raw.rank === 2 ? [this.inChannels] : [-1, -1, this.inChannels]);
    return tf.tidy(() => {
      let h = x.rank === 4 ? tf.mean(x, [1, 2]) : x;
      this.layers.forEach((layer, i) => {
        if (i > 0) h = tf.relu(h);
        h = linear(h, layer);
      });
      return h as tf.Tensor2D;
    });
  }
}
