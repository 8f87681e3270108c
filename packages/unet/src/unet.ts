import * as tf from '@tensorflow/tfjs';
import { createRng, type Rng } from '@mtd/random';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type SafeTensor } from '@mtd/io';
import {
  assignFromSafeTensors, attention, checkInt, conv2d, fail, groupNorm, groupNormSilu, linear, paramsToSafeTensors, ParamStore, silu,
  type AttentionParams, type Conv, type Dense, type Norm, type Param,
} from '@mtd/nn';
import { checkpoint, variablesOf } from './checkpoint.js';
import { resolveConfig, type ResolvedUNetConfig, type UNetConfig } from './config.js';
import { timestepEmbedding, upsample2x } from './layers.js';

/** Metadata key holding the config JSON in a saved file. */
export const CONFIG_METADATA_KEY = 'mtd.unet.config';

export interface UNetForwardInput {
  /** The noisy image `z_t`, float32 `[B, S, S, inChannels]`. */
  x: tf.Tensor4D;
  /** Timesteps `[B]`, float32 or int32; `t = 0` is valid (the label encoder of MATH.md 5 uses it). */
  t: tf.Tensor1D;
  /** int32 `[B]` in `0..numClasses` (`numClasses` = the null class); omitted = all null. Class-conditional models only. */
  classLabels?: tf.Tensor1D;
  /** float32 `[B, L, contextDim]`; omitted = attention to the image only. Models with `contextDim` only. */
  context?: tf.Tensor3D;
  /** float32 `[B, S, S, extraChannels]`, concatenated to `x`; required when `extraChannels > 0`. */
  extra?: tf.Tensor4D;
  /** Enables dropout. */
  training?: boolean;
  /** Seed of this call's dropout masks; default: the next number of the model's dropout stream. */
  dropoutSeed?: number;
  /**
   * Gradient checkpointing per residual and attention block: the backward pass recomputes each
   * block instead of keeping its internals. ~1.3x the compute of a step for a fraction of the
   * memory (refUNet at batch 32 fits the 4 GB wasm heap only this way). Same values and
   * gradients either way; default false.
   */
  checkpoint?: boolean;
}

/** A type alias, not an interface, so it passes as the `Record<string, tf.Tensor>` heads take. */
export type UNetTaps = {
  /** Output of the middle block, `[B, S / 2^(levels-1), S / 2^(levels-1), base * mults[last]]`. */
  middle: tf.Tensor4D;
  /** Features entering the output block (GroupNorm, SiLU, conv), `[B, S, S, base * mults[0]]`. */
  decoderFeatures: tf.Tensor4D;
};

export interface UNetOutput {
  /** The noise prediction `epsilon_theta(z_t, t)`, `[B, S, S, outChannels]`. */
  eps: tf.Tensor4D;
  taps: UNetTaps;
}

interface ResParams {
  inNorm: Norm;
  inConv: Conv;
  emb: Dense;
  outNorm: Norm;
  outConv: Conv;
  skip?: Conv;
}

type Layer =
  | { kind: 'res'; p: ResParams }
  | { kind: 'attn'; p: AttentionParams; heads: number }
  | { kind: 'conv'; conv: Conv }
  | { kind: 'down'; conv: Conv }
  | { kind: 'up'; conv: Conv };

export interface CreateUNetOptions {
  /** Seed of the initial weights and of the dropout stream; default 0. */
  seed?: number;
}

/**
 * Builds an ADM U-Net. Parameter names are guided-diffusion's `UNetModel.state_dict()` keys
 * (see the README), so a file saved here loads into that PyTorch model and back.
 */
export function createUNet(config: UNetConfig, options: CreateUNetOptions = {}): UNet {
  return new UNet(config, options);
}

export class UNet {
  readonly config: Readonly<ResolvedUNetConfig>;
  private readonly params: Param[];
  private readonly timeEmbed: [Dense, Dense];
  private readonly labelEmb?: tf.Variable;
  private readonly inputBlocks: Layer[][] = [];
  private readonly middleBlock: Layer[] = [];
  private readonly outputBlocks: Layer[][] = [];
  private readonly outNorm: Norm;
  private readonly outConv: Conv;
  private readonly dropoutRng: Rng;
  private disposed = false;

  constructor(config: UNetConfig, options: CreateUNetOptions = {}) {
    const cfg = resolveConfig(config);
    this.config = Object.freeze(cfg);
    const seed = options.seed ?? 0;
    checkInt('createUNet', 'options.seed', seed, 0);
    const rng = createRng(seed);
    this.dropoutRng = rng.fork('dropout');
    const store = new ParamStore(rng.fork('init'));
    const { baseChannels: base, timeEmbedDim: ted } = cfg;

    this.timeEmbed = [store.linear('time_embed.0', base, ted), store.linear('time_embed.2', ted, ted)];
    if (cfg.numClasses !== undefined) this.labelEmb = store.embedding('label_emb', cfg.numClasses + 1, ted);

    const res = (name: string, cin: number, cout: number): Layer => ({
      kind: 'res',
      p: {
        inNorm: store.groupNorm(`${name}.in_layers.0`, cin),
        inConv: store.conv2d(`${name}.in_layers.2`, 3, cin, cout),
        emb: store.linear(`${name}.emb_layers.1`, ted, cfg.useScaleShiftNorm ? 2 * cout : cout),
        outNorm: store.groupNorm(`${name}.out_layers.0`, cout),
        outConv: store.conv2d(`${name}.out_layers.3`, 3, cout, cout, true),
        ...(cin !== cout ? { skip: store.conv2d(`${name}.skip_connection`, 1, cin, cout) } : {}),
      },
    });
    const attn = (name: string, c: number): Layer => ({
      kind: 'attn',
      heads: cfg.numHeadChannels !== undefined ? c / cfg.numHeadChannels : cfg.numHeads,
      p: {
        norm: store.groupNorm(`${name}.norm`, c),
        qkv: store.conv1d(`${name}.qkv`, c, 3 * c),
        projOut: store.conv1d(`${name}.proj_out`, c, c, true),
        ...(cfg.contextDim !== undefined ? { encoderKv: store.conv1d(`${name}.encoder_kv`, cfg.contextDim, 2 * c) } : {}),
      },
    });

    // The same walk as guided-diffusion's UNetModel.__init__, so the block indices match its keys.
    const levels = cfg.channelMults.length;
    const skipChannels: number[] = [base];
    this.inputBlocks.push([{ kind: 'conv', conv: store.conv2d('input_blocks.0.0', 3, cfg.inChannels + cfg.extraChannels, base) }]);
    let ch = base;
    let size = cfg.imageSize;
    for (let level = 0; level < levels; level++) {
      const cout = base * cfg.channelMults[level]!;
      for (let r = 0; r < cfg.numResBlocks; r++) {
        const name = `input_blocks.${this.inputBlocks.length}`;
        const block = [res(`${name}.0`, ch, cout)];
        ch = cout;
        if (cfg.attentionResolutions.includes(size)) block.push(attn(`${name}.1`, ch));
        this.inputBlocks.push(block);
        skipChannels.push(ch);
      }
      if (level !== levels - 1) {
        this.inputBlocks.push([{ kind: 'down', conv: store.conv2d(`input_blocks.${this.inputBlocks.length}.0.op`, 3, ch, ch) }]);
        skipChannels.push(ch);
        size /= 2;
      }
    }
    this.middleBlock.push(res('middle_block.0', ch, ch), attn('middle_block.1', ch), res('middle_block.2', ch, ch));
    for (let level = levels - 1; level >= 0; level--) {
      const cout = base * cfg.channelMults[level]!;
      for (let i = 0; i <= cfg.numResBlocks; i++) {
        const name = `output_blocks.${this.outputBlocks.length}`;
        const block = [res(`${name}.0`, ch + skipChannels.pop()!, cout)];
        ch = cout;
        if (cfg.attentionResolutions.includes(size)) block.push(attn(`${name}.1`, ch));
        if (level !== 0 && i === cfg.numResBlocks) {
          block.push({ kind: 'up', conv: store.conv2d(`${name}.${block.length}.conv`, 3, ch, ch) });
          size *= 2;
        }
        this.outputBlocks.push(block);
      }
    }
    this.outNorm = store.groupNorm('out.0', ch);
    this.outConv = store.conv2d('out.2', 3, ch, cfg.outChannels, true);
    this.params = store.params;
  }

  /** Trainable variables in a stable order (the order of `parameterNames`). */
  get variables(): tf.Variable[] {
    return this.params.map((p) => p.variable);
  }

  /** PyTorch-style names of `variables`, e.g. `input_blocks.1.0.in_layers.2.weight`. */
  get parameterNames(): string[] {
    return this.params.map((p) => p.name);
  }

  /** Variables by name. */
  get namedVariables(): ReadonlyMap<string, tf.Variable> {
    return new Map(this.params.map((p) => [p.name, p.variable]));
  }

  /** Number of scalar parameters. */
  parameterCount(): number {
    return this.params.reduce((n, p) => n + p.variable.size, 0);
  }

  /**
   * Runs the network. All returned tensors are new and owned by the caller (`eps` and both
   * taps); inside `tf.tidy` or `optimizer.minimize` they are cleaned up as usual.
   */
  forward(input: UNetForwardInput): UNetOutput {
    const where = 'UNet.forward';
    this.checkAlive(where);
    const batch = this.checkInput(where, input);
    const cfg = this.config;
    const training = input.training === true && cfg.dropout > 0;
    const firstSeed = training ? (input.dropoutSeed ?? this.dropoutRng.nextUint32()) : 0;
    if (training) checkInt(where, 'input.dropoutSeed', firstSeed, 0);
    // One seed per residual block, fixed before the block runs, so a checkpointed block draws the
    // same mask when the backward pass recomputes it.
    let nextSeed = firstSeed;
    const useCheckpoint = input.checkpoint === true;

    const result = tf.tidy(() => {
      let emb = linear(silu(linear(timestepEmbedding(input.t, cfg.baseChannels), this.timeEmbed[0])), this.timeEmbed[1]);
      if (this.labelEmb !== undefined) {
        const labels = input.classLabels ?? tf.fill([batch], cfg.numClasses!, 'int32');
        // A one-hot matMul instead of gather: its gradient is a matMul on every backend.
        const onehot = tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, cfg.numClasses! + 1);
        emb = tf.add(emb, tf.matMul(tf.cast(onehot, 'float32'), this.labelEmb));
      }
      const context = input.context;
      // One tidy per layer frees its intermediates as soon as it ends (a kernel's saved tensors
      // for the gradient are kept by the engine): without it every intermediate of the whole
      // network lives until the forward pass returns (332 MB instead of ~50 at refUNet, B = 4).
      const run = (layer: Layer, h: tf.Tensor4D): tf.Tensor4D => tf.tidy(() => runLayer(layer, h));
      const runLayer = (layer: Layer, h: tf.Tensor4D): tf.Tensor4D => {
        switch (layer.kind) {
          case 'res': {
            const seed = training ? nextSeed++ : undefined;
            const block = ([x, e]: tf.Tensor[]) => this.resBlock(x as tf.Tensor4D, e!, layer.p, seed);
            return (useCheckpoint ? checkpoint(block, [h, emb], variablesOf(layer.p)) : block([h, emb])) as tf.Tensor4D;
          }
          case 'attn': {
            const block = ([x, c]: tf.Tensor[]) => attention(x as tf.Tensor4D, layer.p, layer.heads, cfg.groups, c as tf.Tensor3D | undefined);
            const inputs = context ? [h, context] : [h];
            return (useCheckpoint ? checkpoint(block, inputs, variablesOf(layer.p)) : block(inputs)) as tf.Tensor4D;
          }
          case 'conv':
            return conv2d(h, layer.conv);
          case 'down':
            return conv2d(h, layer.conv, 2);
          case 'up':
            return conv2d(upsample2x(h), layer.conv);
        }
      };
      let h: tf.Tensor4D = cfg.extraChannels > 0 ? tf.concat([input.x, input.extra!], 3) : input.x;
      const skips: tf.Tensor4D[] = [];
      for (const block of this.inputBlocks) {
        for (const layer of block) h = run(layer, h);
        skips.push(h);
      }
      for (const layer of this.middleBlock) h = run(layer, h);
      const middle = h;
      for (const block of this.outputBlocks) {
        const skip = skips.pop()!;
        h = tf.tidy(() => tf.concat([h, skip], 3));
        for (const layer of block) h = run(layer, h);
      }
      const decoderFeatures = h;
      const eps = tf.tidy(() => conv2d(groupNormSilu(decoderFeatures, this.outNorm, cfg.groups) as tf.Tensor4D, this.outConv));
      return { eps, middle, decoderFeatures };
    });
    return { eps: result.eps, taps: { middle: result.middle, decoderFeatures: result.decoderFeatures } };
  }

  private resBlock(x: tf.Tensor4D, emb: tf.Tensor, p: ResParams, dropoutSeed: number | undefined): tf.Tensor4D {
    const groups = this.config.groups;
    let h = conv2d(groupNormSilu(x, p.inNorm, groups) as tf.Tensor4D, p.inConv);
    const cout = h.shape[3];
    const e = tf.reshape(linear(silu(emb), p.emb), [x.shape[0], 1, 1, -1]);
    let act: tf.Tensor;
    if (this.config.useScaleShiftNorm) {
      const [scale, shift] = tf.split(e, [cout, cout], 3) as [tf.Tensor, tf.Tensor];
      act = silu(tf.add(tf.mul(groupNorm(h, p.outNorm, groups), tf.add(scale, 1)), shift));
    } else {
      act = groupNormSilu(tf.add(h, e), p.outNorm, groups);
    }
    const dropped = dropoutSeed === undefined ? act : tf.dropout(act, this.config.dropout, undefined, dropoutSeed);
    h = conv2d(dropped as tf.Tensor4D, p.outConv);
    return tf.add(p.skip ? conv2d(x, p.skip) : x, h);
  }

  private checkInput(where: string, input: UNetForwardInput): number {
    if (input === null || typeof input !== 'object') fail(where, 'input', 'an object { x, t, ... }', input);
    const cfg = this.config;
    const { x, t } = input;
    const s = cfg.imageSize;
    const img = (c: number) => `a float32 tensor [B, ${s}, ${s}, ${c}]`;
    if (!(x instanceof tf.Tensor) || x.dtype !== 'float32' || x.rank !== 4 || x.shape[1] !== s || x.shape[2] !== s || x.shape[3] !== cfg.inChannels || x.shape[0] < 1) {
      fail(where, 'input.x', img(cfg.inChannels), x);
    }
    const b = x.shape[0];
    if (!(t instanceof tf.Tensor) || (t.dtype !== 'float32' && t.dtype !== 'int32') || t.rank !== 1 || t.shape[0] !== b) {
      fail(where, 'input.t', `a float32 or int32 tensor of shape [${b}]`, t);
    }
    if (input.classLabels !== undefined) {
      if (cfg.numClasses === undefined) fail(where, 'input.classLabels', 'undefined for a model without numClasses', input.classLabels);
      const y = input.classLabels;
      if (!(y instanceof tf.Tensor) || y.dtype !== 'int32' || y.rank !== 1 || y.shape[0] !== b) {
        fail(where, 'input.classLabels', `an int32 tensor of shape [${b}] with ids in 0..${cfg.numClasses}`, y);
      }
    }
    if (input.context !== undefined) {
      if (cfg.contextDim === undefined) fail(where, 'input.context', 'undefined for a model without contextDim', input.context);
      const c = input.context;
      if (!(c instanceof tf.Tensor) || c.dtype !== 'float32' || c.rank !== 3 || c.shape[0] !== b || c.shape[2] !== cfg.contextDim || c.shape[1] < 1) {
        fail(where, 'input.context', `a float32 tensor [${b}, L, ${cfg.contextDim}]`, c);
      }
    }
    if (cfg.extraChannels > 0) {
      const e = input.extra;
      if (!(e instanceof tf.Tensor) || e.dtype !== 'float32' || e.rank !== 4 || !shapeEq(e.shape, [b, s, s, cfg.extraChannels])) {
        fail(where, 'input.extra', img(cfg.extraChannels).replace('[B', `[${b}`), e);
      }
    } else if (input.extra !== undefined) {
      fail(where, 'input.extra', 'undefined for a model without extraChannels', input.extra);
    }
    for (const [name, v] of [['x', x], ['t', t], ['classLabels', input.classLabels], ['context', input.context], ['extra', input.extra]] as const) {
      if (v?.isDisposed) fail(where, `input.${name}`, 'a live tensor', 'a disposed tensor');
    }
    return b;
  }

  /** The weights as safetensors bytes: PyTorch names and layout (OIHW convs), config in the metadata. */
  async toSafetensors(): Promise<Uint8Array> {
    this.checkAlive('UNet.toSafetensors');
    return encodeSafetensors(await paramsToSafeTensors(this.params), this.metadata());
  }

  /** Loads weights from safetensors bytes; rejects any name, shape or dtype mismatch before changing anything. */
  fromSafetensors(bytes: Uint8Array): void {
    this.checkAlive('UNet.fromSafetensors');
    assignFromSafeTensors('UNet.fromSafetensors', this.params, decodeSafetensors(bytes).tensors);
  }

  /** Loads weights from decoded safetensors (`{ name: SafeTensor }` in PyTorch layout), with the same checks. */
  fromSafeTensorRecord(tensors: Record<string, SafeTensor>, where = 'UNet.fromSafeTensorRecord'): void {
    this.checkAlive(where);
    assignFromSafeTensors(where, this.params, tensors);
  }

  /** Writes the weights to a safetensors file (atomically). */
  async save(path: string): Promise<void> {
    this.checkAlive('UNet.save');
    await saveSafetensors(path, await paramsToSafeTensors(this.params), this.metadata());
  }

  /** Loads weights from a safetensors file, with the checks of `fromSafetensors`. */
  async load(path: string): Promise<void> {
    this.checkAlive('UNet.load');
    const file = await loadSafetensors(path);
    this.fromSafeTensorRecord(file.tensors, `UNet.load(${path})`);
  }

  /** Frees every variable; the model cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.params) p.variable.dispose();
  }

  private metadata(): Record<string, string> {
    return { format: 'pt', [CONFIG_METADATA_KEY]: JSON.stringify(this.config) };
  }

  private checkAlive(where: string): void {
    if (this.disposed) throw new Error(`${where}: this UNet was disposed`);
  }
}

/** Rebuilds a U-Net from safetensors bytes written by `toSafetensors`/`save` (config from the metadata). */
export function unetFromSafetensors(bytes: Uint8Array): UNet {
  const where = 'unetFromSafetensors';
  const file = decodeSafetensors(bytes);
  const json = file.metadata[CONFIG_METADATA_KEY];
  if (json === undefined) fail(where, 'bytes', `a file with "${CONFIG_METADATA_KEY}" metadata (written by UNet.save)`, 'a file without it');
  const unet = new UNet(JSON.parse(json) as UNetConfig);
  try {
    unet.fromSafeTensorRecord(file.tensors, where);
  } catch (e) {
    unet.dispose();
    throw e;
  }
  return unet;
}

function shapeEq(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}
