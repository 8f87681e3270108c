import * as tf from '@tensorflow/tfjs';
import { checkInt, conv2d, fail, groupNorm, linear, silu, type Conv, type Dense, type Norm } from '@mtd/nn';
import { BaseHead, checkTap, type HeadContext, type TapName } from './head.js';

export interface ClassifierHeadOptions {
  name: string;
  /** Channels of the image estimate (the modality the U-Net denoises). */
  inChannels: number;
  numClasses: number;
  /** Width of the first stage; stage `s` has `width * 2^s` channels. Default 32. */
  width?: number;
  /** Residual stages; each after the first halves the resolution. Default 2. */
  stages?: number;
  /** GroupNorm groups; must divide `width`. Default 8. */
  groups?: number;
  /** Default 'x0'. */
  tap?: TapName;
  seed?: number;
}

interface Block {
  inNorm: Norm;
  inConv: Conv;
  outNorm: Norm;
  outConv: Conv;
  skip?: Conv;
}

/**
 * A small residual classifier on the U-Net's image estimate ("-E", MATH.md 3), categorical.
 *
 * It reads the tap `x0` (by default), which the caller computes: `x0 = predictZ0FromEps(zt, eps, t)`
 * with @mtd/aggregation's inversion of the marginal `z_t = sqrt(alphaBar_t) z_0 + A_t +
 * sqrt(1 - alphaBar_t) eps`. Taking `x0` as an input keeps the head free of the schedule and of
 * the aggregation, and lets the same head classify clean images. Let gradients flow through `x0`
 * into the U-Net, or `tf.stopGradient` it, as the experiment wants.
 *
 * Layout (PyTorch names): `stem` 3x3 conv; per stage `blocks.s` an ADM residual block without
 * time embedding (`in_layers.0/2`, `out_layers.0/3` zero-initialised, `skip_connection` when the
 * width changes), `downs.s.op` a stride-2 conv between stages; then `norm` (GroupNorm), SiLU,
 * global average pool, `fc` Linear to the logits.
 */
export function classifierHead(options: ClassifierHeadOptions): ClassifierHead {
  return new ClassifierHead(options);
}

export class ClassifierHead extends BaseHead {
  readonly tap: TapName;
  readonly kind = 'categorical' as const;
  readonly inChannels: number;
  readonly numClasses: number;
  private readonly groups: number;
  private readonly stem: Conv;
  private readonly blocks: Block[] = [];
  private readonly downs: Conv[] = [];
  private readonly norm: Norm;
  private readonly fc: Dense;

  constructor(options: ClassifierHeadOptions) {
    const where = 'classifierHead';
    if (options === null || typeof options !== 'object') fail(where, 'options', 'an options object', options);
    super(where, options.name, options.seed, options);
    this.inChannels = checkInt(where, 'options.inChannels', options.inChannels, 1);
    this.numClasses = checkInt(where, 'options.numClasses', options.numClasses, 2);
    const width = checkInt(where, 'options.width', options.width ?? 32, 1);
    const stages = checkInt(where, 'options.stages', options.stages ?? 2, 1);
    this.groups = checkInt(where, 'options.groups', options.groups ?? 8, 1);
    if (width % this.groups !== 0) fail(where, 'options.groups', `a divisor of width ${width}`, this.groups);
    this.tap = checkTap(where, options.tap ?? 'x0');
    const s = this.store;
    this.stem = s.conv2d('stem', 3, this.inChannels, width);
    let ch = width;
    for (let i = 0; i < stages; i++) {
      const cout = width * 2 ** i;
      const name = `blocks.${i}`;
      this.blocks.push({
        inNorm: s.groupNorm(`${name}.in_layers.0`, ch),
        inConv: s.conv2d(`${name}.in_layers.2`, 3, ch, cout),
        outNorm: s.groupNorm(`${name}.out_layers.0`, cout),
        outConv: s.conv2d(`${name}.out_layers.3`, 3, cout, cout, true),
        ...(ch !== cout ? { skip: s.conv2d(`${name}.skip_connection`, 1, ch, cout) } : {}),
      });
      ch = cout;
      if (i < stages - 1) this.downs.push(s.conv2d(`downs.${i}.op`, 3, ch, ch));
    }
    this.norm = s.groupNorm('norm', ch);
    this.fc = s.linear('fc', ch, this.numClasses);
  }

  /** `[B, H, W, inChannels]` -> logits `[B, numClasses]`. */
  forward(taps: Readonly<Record<string, tf.Tensor>>, _ctx?: HeadContext): tf.Tensor2D {
    const x = this.readTap(taps, [-1, -1, this.inChannels]) as tf.Tensor4D;
    return tf.tidy(() => {
      const g = this.groups;
      let h = conv2d(x, this.stem);
      this.blocks.forEach((b, i) => {
        const r = conv2d(silu(groupNorm(h, b.inNorm, g)) as tf.Tensor4D, b.inConv);
        const out = conv2d(silu(groupNorm(r, b.outNorm, g)) as tf.Tensor4D, b.outConv);
        h = tf.add(b.skip ? conv2d(h, b.skip) : h, out);
        const down = this.downs[i];
        if (down) h = conv2d(h, down, 2);
      });
      const pooled = tf.mean(silu(groupNorm(h, this.norm, g)), [1, 2]);
      return linear(pooled, this.fc) as tf.Tensor2D;
    });
  }
}
