import * as tf from '@tensorflow/tfjs';
import { expectNoLeak, maxAbsDiff } from '@mtd/testkit';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createUNet, refUNet, type UNet, type UNetConfig, type UNetForwardInput } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const tiny: UNetConfig = { imageSize: 8, inChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], groups: 4 };
const made: UNet[] = [];
function make(config: UNetConfig, seed = 0): UNet {
  const u = createUNet(config, { seed });
  made.push(u);
  return u;
}
afterEach(() => {
  made.splice(0).forEach((u) => u.dispose());
});

async function read(t: tf.Tensor): Promise<Float32Array> {
  const d = (await t.data()) as Float32Array;
  return d;
}

/** Sets every variable to seeded noise so the zero-initialised convs do not hide any path. */
function perturb(u: UNet, seed: number): void {
  tf.tidy(() => u.variables.forEach((v, i) => v.assign(tf.add(v, tf.randomNormal(v.shape, 0, 0.1, 'float32', seed + i)))));
}

describe('refUNet', () => {
  it('has 6,469,889 parameters: the PyTorch twin plus the 4 attention blocks the twin shares', () => {
    const u = make(refUNet);
    // torch_unet.py, counted layer by layer (C = 64, T = 256).
    const C = 64;
    const T = 256;
    const res = (ci: number, co: number) => 2 * ci + ci * co * 9 + co + T * co + co + 2 * co + co * co * 9 + co + (ci !== co ? ci * co + co : 0);
    const attn = (c: number) => 2 * c + 4 * (c * c + c);
    const down = (c: number) => c * c * 9 + c;
    const twin =
      C * T + T + T * T + T + 9 * C + C +
      2 * res(C, C) + down(C) + res(C, 2 * C) + res(2 * C, 2 * C) + down(2 * C) + 2 * res(2 * C, 2 * C) + attn(2 * C) +
      2 * res(2 * C, 2 * C) + attn(2 * C) +
      3 * res(4 * C, 2 * C) + down(2 * C) + 2 * res(4 * C, 2 * C) + res(3 * C, 2 * C) + down(2 * C) + res(3 * C, C) + 2 * res(2 * C, C) +
      2 * C + C * 9 + 1;
    expect(twin).toBe(6_204_673);
    // The twin reuses one module `a3` for all five 8x8 attentions; ADM (and this U-Net) has one
    // per block. Same FLOPs, so the timings compare; 4 * attn(128) more parameters here.
    expect(u.parameterCount()).toBe(twin + 4 * attn(2 * C));
    expect(u.parameterCount()).toBe(6_469_889);
    expect(u.config).toMatchObject({ timeEmbedDim: 256, groups: 8, dropout: 0, useScaleShiftNorm: false });
  });

  it('is frozen', () => {
    expect(Object.isFrozen(refUNet)).toBe(true);
  });
});

describe('UNet.forward: shapes and taps', () => {
  const B = 2;
  const cases: Array<[string, UNetConfig, (b: number) => Partial<UNetForwardInput>, [number, number, number], number]> = [
    ['plain', tiny, () => ({}), [4, 4, 16], 8],
    ['class-conditional', { ...tiny, numClasses: 5 }, (b) => ({ classLabels: tf.tensor1d([0, 5].slice(0, b), 'int32') }), [4, 4, 16], 8],
    ['cross-attention', { ...tiny, contextDim: 6, numHeads: 2 }, (b) => ({ context: tf.randomNormal([b, 3, 6]) as tf.Tensor3D }), [4, 4, 16], 8],
    ['extra channels ("-X")', { ...tiny, inChannels: 3, extraChannels: 2 }, (b) => ({ extra: tf.randomNormal([b, 8, 8, 2]) as tf.Tensor4D }), [4, 4, 16], 8],
    [
      'attention at two resolutions, three levels, scale-shift, head channels',
      { ...tiny, imageSize: 16, channelMults: [1, 2, 3], attentionResolutions: [8, 4], numHeadChannels: 8, useScaleShiftNorm: true, outChannels: 2 },
      () => ({}),
      [4, 4, 24],
      8,
    ],
  ];
  for (const [label, config, extra, middle, decoderChannels] of cases) {
    it(label, async () => {
      const u = make(config);
      const s = config.imageSize;
      const x = tf.randomNormal([B, s, s, config.inChannels]) as tf.Tensor4D;
      const out = u.forward({ x, t: tf.tensor1d([0, 500]), ...extra(B) });
      expect(out.eps.shape).toEqual([B, s, s, config.outChannels ?? config.inChannels]);
      expect(out.taps.middle.shape).toEqual([B, ...middle]);
      expect(out.taps.decoderFeatures.shape).toEqual([B, s, s, decoderChannels]);
      // ADM initialisation: the output conv is zero, so eps is exactly 0 at first.
      expect(Math.max(...Array.from(await read(out.eps), Math.abs))).toBe(0);
      expect(Math.max(...Array.from(await read(out.taps.decoderFeatures), Math.abs))).toBeGreaterThan(0);
    });
  }
});

describe('UNet.forward: conditioning', () => {
  const B = 2;
  const x = tf.randomNormal([B, 8, 8, 1], 0, 1, 'float32', 1) as tf.Tensor4D;

  it('takes t as int32 or float32, including t = 0 (MATH.md 5 label encoder)', async () => {
    const u = make(tiny);
    perturb(u, 1);
    const a = u.forward({ x, t: tf.tensor1d([0, 7], 'int32') });
    const b = u.forward({ x, t: tf.tensor1d([0, 7], 'float32') });
    const c = u.forward({ x, t: tf.tensor1d([1, 7], 'float32') });
    expect(await read(a.eps)).toEqual(await read(b.eps));
    const [ea, ec] = [await read(a.eps), await read(c.eps)];
    expect(maxAbsDiff(ea.subarray(0, 64), ec.subarray(0, 64))).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(ea.subarray(64), ec.subarray(64))).toBe(0);
    const zero = u.forward({ x: tf.zeros([B, 8, 8, 1]) as tf.Tensor4D, t: tf.zeros([B], 'int32') as tf.Tensor1D });
    expect((await read(zero.eps)).every(Number.isFinite)).toBe(true);
  });

  it('embeds class labels; no labels means the null class numClasses', async () => {
    const u = make({ ...tiny, numClasses: 3 });
    perturb(u, 2);
    const t = tf.tensor1d([10, 10]);
    const none = await read(u.forward({ x, t }).eps);
    const nullClass = await read(u.forward({ x, t, classLabels: tf.tensor1d([3, 3], 'int32') }).eps);
    const labelled = await read(u.forward({ x, t, classLabels: tf.tensor1d([0, 3], 'int32') }).eps);
    expect(none).toEqual(nullClass);
    expect(maxAbsDiff(labelled.subarray(0, 64), none.subarray(0, 64))).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(labelled.subarray(64), none.subarray(64))).toBe(0);
    expect(u.parameterNames).toContain('label_emb.weight');
    expect(u.namedVariables.get('label_emb.weight')!.shape).toEqual([4, 32]);
  });

  it('attends to a context; without one it attends to the image only', async () => {
    const u = make({ ...tiny, contextDim: 4 });
    perturb(u, 3);
    const t = tf.tensor1d([10, 10]);
    const c1 = tf.randomNormal([B, 2, 4], 0, 1, 'float32', 5) as tf.Tensor3D;
    const c2 = tf.randomNormal([B, 5, 4], 0, 1, 'float32', 6) as tf.Tensor3D;
    const [a, b, none] = [await read(u.forward({ x, t, context: c1 }).eps), await read(u.forward({ x, t, context: c2 }).eps), await read(u.forward({ x, t }).eps)];
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(a, none)).toBeGreaterThan(1e-4);
    // Attention is over a set: permuting the context changes nothing.
    const perm = tf.gather(c2, [4, 2, 0, 3, 1], 1) as tf.Tensor3D;
    expect(maxAbsDiff(await read(u.forward({ x, t, context: perm }).eps), b)).toBeLessThan(1e-5);
  });

  it('sees extra channels', async () => {
    const u = make({ ...tiny, extraChannels: 1 });
    perturb(u, 4);
    const t = tf.tensor1d([10, 10]);
    const a = await read(u.forward({ x, t, extra: tf.zeros([B, 8, 8, 1]) as tf.Tensor4D }).eps);
    const b = await read(u.forward({ x, t, extra: tf.ones([B, 8, 8, 1]) as tf.Tensor4D }).eps);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-4);
    expect(u.namedVariables.get('input_blocks.0.0.weight')!.shape).toEqual([3, 3, 2, 8]);
  });

  it('applies seeded dropout only while training', async () => {
    const u = make({ ...tiny, dropout: 0.5 });
    perturb(u, 5);
    const t = tf.tensor1d([10, 10]);
    const evalA = await read(u.forward({ x, t }).eps);
    const evalB = await read(u.forward({ x, t, training: false }).eps);
    const s1 = await read(u.forward({ x, t, training: true, dropoutSeed: 1 }).eps);
    const s1again = await read(u.forward({ x, t, training: true, dropoutSeed: 1 }).eps);
    const s2 = await read(u.forward({ x, t, training: true, dropoutSeed: 2 }).eps);
    const stream1 = await read(u.forward({ x, t, training: true }).eps);
    const stream2 = await read(u.forward({ x, t, training: true }).eps);
    expect(evalA).toEqual(evalB);
    expect(s1).toEqual(s1again);
    expect(maxAbsDiff(s1, s2)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(s1, evalA)).toBeGreaterThan(1e-4);
    expect(maxAbsDiff(stream1, stream2)).toBeGreaterThan(1e-4);
    // The dropout stream is seeded by the model seed: a twin model draws the same masks.
    const twin = make({ ...tiny, dropout: 0.5 });
    twin.variables.forEach((v, i) => v.assign(u.variables[i]!));
    const twin1 = await read(twin.forward({ x, t, training: true }).eps);
    const fresh = make({ ...tiny, dropout: 0.5 });
    fresh.variables.forEach((v, i) => v.assign(u.variables[i]!));
    expect(twin1).toEqual(await read(fresh.forward({ x, t, training: true }).eps));
  });
});

describe('UNet initialisation', () => {
  it('is seeded: the same seed gives the same weights, another seed others', async () => {
    const [a, b, c] = [make(tiny, 3), make(tiny, 3), make(tiny, 4)];
    for (let i = 0; i < a.variables.length; i++) {
      expect(await read(a.variables[i]!)).toEqual(await read(b.variables[i]!));
    }
    const name = a.parameterNames.indexOf('input_blocks.1.0.in_layers.2.weight');
    expect(maxAbsDiff(await read(a.variables[name]!), await read(c.variables[name]!))).toBeGreaterThan(0);
  });

  it('zero-initialises the last conv of every residual block, attention proj_out and the output conv (ADM)', async () => {
    const u = make({ ...tiny, numClasses: 2, contextDim: 3 });
    const zeroName = /(out_layers\.3|proj_out|^out\.2)\.(weight|bias)$/;
    let zeros = 0;
    for (const [name, v] of u.namedVariables) {
      const d = await read(v);
      const maxAbs = Math.max(...Array.from(d, Math.abs));
      if (zeroName.test(name)) {
        zeros++;
        expect(maxAbs, name).toBe(0);
      } else if (name.endsWith('.weight') && !/(in_layers\.0|out_layers\.0|norm|out\.0)\.weight$/.test(name)) {
        expect(maxAbs, name).toBeGreaterThan(0);
        // PyTorch's default bound 1 / sqrt(fan_in) (embeddings are N(0, 1)).
        if (v.rank >= 2 && name !== 'label_emb.weight') {
          const fanIn = v.rank === 4 ? v.shape[0]! * v.shape[1]! * v.shape[2]! : v.shape[0]!;
          expect(maxAbs, name).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
        }
      }
    }
    // Weight and bias of: every residual block's last conv, every attention's proj_out, and out.2.
    const resBlocks = u.parameterNames.filter((n) => n.endsWith('out_layers.3.weight')).length;
    const attns = u.parameterNames.filter((n) => n.endsWith('proj_out.weight')).length;
    expect(zeros).toBe(2 * (resBlocks + attns + 1));
  });
});

describe('UNet input checks', () => {
  it('validates the config with errors naming the field', () => {
    const bad = (patch: Partial<UNetConfig> & Record<string, unknown>) => () => createUNet({ ...tiny, ...patch } as UNetConfig);
    expect(bad({ imageSize: 6, channelMults: [1, 2, 2] })).toThrow(/createUNet: config\.imageSize must be divisible by 2\^\(levels - 1\) = 4 for 3 levels, got 6/);
    expect(bad({ attentionResolutions: [3] })).toThrow(/createUNet: config\.attentionResolutions must be an array of level sizes from \[8, 4\], got \[3\]/);
    expect(bad({ groups: 3 })).toThrow(/createUNet: config\.groups must be a divisor of every level width \(8 \* 1 = 8\), got 3/);
    expect(bad({ numHeads: 3 })).toThrow(/createUNet: config\.numHeads must be a divisor of the attention width 16, got 3/);
    expect(bad({ numHeadChannels: 5 })).toThrow(/config\.numHeadChannels must be a divisor of the attention width 16, got 5/);
    expect(bad({ channelMults: [] })).toThrow(/config\.channelMults must be a non-empty array of integers >= 1, got \[\]/);
    expect(bad({ dropout: 1 })).toThrow(/config\.dropout must be a number in \[0, 1\), got 1/);
    expect(bad({ numResBlocks: 0 })).toThrow(/config\.numResBlocks must be an integer >= 1, got 0/);
    expect(bad({ numClasses: 0 })).toThrow(/config\.numClasses must be an integer >= 1, got 0/);
    expect(bad({ baseChannel: 8 })).toThrow(/createUNet: config must be free of unknown keys .* got "baseChannel"/);
    expect(() => createUNet(tiny, { seed: -1 })).toThrow(/createUNet: options\.seed must be an integer >= 0, got -1/);
  });

  it('validates forward inputs with errors naming the input and the expected shape', () => {
    const u = make({ ...tiny, numClasses: 3 });
    const x = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    const t = tf.zeros([2]) as tf.Tensor1D;
    expect(() => u.forward({ x: tf.zeros([2, 8, 8, 2]) as tf.Tensor4D, t })).toThrow(
      /UNet\.forward: input\.x must be a float32 tensor \[B, 8, 8, 1\], got a float32 tensor of shape \[2, 8, 8, 2\]/,
    );
    expect(() => u.forward({ x, t: tf.zeros([3]) as tf.Tensor1D })).toThrow(/input\.t must be a float32 or int32 tensor of shape \[2\], got a float32 tensor of shape \[3\]/);
    expect(() => u.forward({ x, t, classLabels: tf.zeros([2]) as tf.Tensor1D })).toThrow(/input\.classLabels must be an int32 tensor of shape \[2\] with ids in 0\.\.3/);
    expect(() => u.forward({ x, t, context: tf.zeros([2, 1, 4]) as tf.Tensor3D })).toThrow(/input\.context must be undefined for a model without contextDim/);
    expect(() => u.forward({ x, t, extra: x })).toThrow(/input\.extra must be undefined for a model without extraChannels/);
    const withExtra = make({ ...tiny, extraChannels: 2 });
    expect(() => withExtra.forward({ x, t })).toThrow(/input\.extra must be a float32 tensor \[2, 8, 8, 2\], got undefined/);
    const gone = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    gone.dispose();
    expect(() => u.forward({ x: gone, t })).toThrow(/input\.x must be a live tensor/);
    u.dispose();
    expect(() => u.forward({ x, t })).toThrow(/UNet\.forward: this UNet was disposed/);
  });
});

describe('UNet memory', () => {
  it('forward leaks nothing, and dispose frees every variable', async () => {
    const before = tf.memory().numTensors;
    const u = createUNet({ ...tiny, numClasses: 2, contextDim: 3, extraChannels: 1, dropout: 0.1 });
    expect(tf.memory().numTensors - before).toBe(u.variables.length);
    const input = {
      x: tf.randomNormal([2, 8, 8, 1]) as tf.Tensor4D,
      t: tf.tensor1d([1, 2], 'int32'),
      classLabels: tf.tensor1d([0, 2], 'int32'),
      context: tf.randomNormal([2, 2, 3]) as tf.Tensor3D,
      extra: tf.randomNormal([2, 8, 8, 1]) as tf.Tensor4D,
    };
    await expectNoLeak(() => u.forward(input), 'forward');
    await expectNoLeak(() => u.forward({ ...input, training: true }), 'forward (training)');
    tf.dispose(Object.values(input));
    u.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
