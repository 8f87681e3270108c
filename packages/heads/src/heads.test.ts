import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { decodeSafetensors, encodeSafetensors } from '@mtd/io';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifierHead, middleMlpHead, outputBlockHead, type Head } from './index.js';
import * as ref from './reference.testutil.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Overwrites every variable with seeded noise (GroupNorm scales near 1) so no path is trivially zero. */
function randomize(head: Head, seed: number): void {
  const rng = createRng(seed);
  head.variables.forEach((v, i) => {
    const data = rng.fillNormal(new Float32Array(v.size), 0, 0.5);
    if (/(^|\.)(0|norm|in_layers\.0|out_layers\.0)\.weight$/.test(head.parameterNames[i]!) && v.rank === 1) data.forEach((d, j) => (data[j] = 1 + d));
    v.assign(tf.tensor(data, v.shape));
  });
}

async function values(head: Head): Promise<Record<string, Float32Array>> {
  const out: Record<string, Float32Array> = {};
  for (let i = 0; i < head.variables.length; i++) out[head.parameterNames[i]!] = (await head.variables[i]!.data()) as Float32Array;
  return out;
}

const rng = createRng(5);
const B = 2;

describe('outputBlockHead', () => {
  it('is GroupNorm -> SiLU -> 3x3 conv on decoderFeatures (float64 reference)', async () => {
    const head = outputBlockHead({ name: 'masked', inChannels: 8, outChannels: 3, groups: 4, seed: 1 });
    expect([head.name, head.tap, head.kind]).toEqual(['masked', 'decoderFeatures', 'gaussian']);
    expect(head.parameterNames).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(head.parameterCount()).toBe(8 + 8 + 8 * 3 * 9 + 3);
    randomize(head, 2);
    const x = rng.fillNormal(new Float32Array(B * 5 * 4 * 8));
    const out = head.forward({ decoderFeatures: tf.tensor(x, [B, 5, 4, 8]) });
    expect(out.shape).toEqual([B, 5, 4, 3]);
    const w = await values(head);
    const want = ref.conv(ref.silu(ref.groupNorm(ref.img(B, 5, 4, 8, x), w['0.weight']!, w['0.bias']!, 4)), w['2.weight']!, w['2.bias']!, 3, 3);
    expectClose(await out.data(), want.data, { rtol: 1e-4, atol: 1e-5, label: 'outputBlockHead' });
    head.dispose();
  });

  it('starts at exactly zero (ADM zero_module) unless zeroInit is false', async () => {
    const taps = { decoderFeatures: tf.randomNormal([B, 4, 4, 8]) };
    const zero = outputBlockHead({ name: 'a', inChannels: 8, outChannels: 2, groups: 8 });
    expect(Math.max(...Array.from(await zero.forward(taps).data(), Math.abs))).toBe(0);
    const live = outputBlockHead({ name: 'a', inChannels: 8, outChannels: 2, groups: 8, zeroInit: false, kind: 'categorical' });
    expect(Math.max(...Array.from(await live.forward(taps).data(), Math.abs))).toBeGreaterThan(0);
    expect(live.kind).toBe('categorical');
  });
});

describe('middleMlpHead', () => {
  const feat = rng.fillNormal(new Float32Array(B * 2 * 2 * 6));

  it('pools the middle block and applies one Linear ("-M")', async () => {
    const head = middleMlpHead({ name: 'label', inChannels: 6, outDim: 4, kind: 'categorical', seed: 3 });
    expect([head.tap, head.kind]).toEqual(['middle', 'categorical']);
    expect(head.parameterNames).toEqual(['0.weight', '0.bias']);
    const out = head.forward({ middle: tf.tensor(feat, [B, 2, 2, 6]) });
    expect(out.shape).toEqual([B, 4]);
    const w = await values(head);
    const want = ref.dense(ref.meanPool(ref.img(B, 2, 2, 6, feat)), B, w['0.weight']!, w['0.bias']!, 6, 4);
    expectClose(await out.data(), want, { rtol: 1e-5, atol: 1e-6, label: 'linear' });
  });

  it('Linear -> ReLU -> Linear with a hidden width (representations)', async () => {
    const head = middleMlpHead({ name: 'rep', inChannels: 6, outDim: 5, hidden: 7, kind: 'gaussian', seed: 4 });
    expect(head.parameterNames).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
    expect(head.parameterCount()).toBe(6 * 7 + 7 + 7 * 5 + 5);
    const out = head.forward({ middle: tf.tensor(feat, [B, 2, 2, 6]) });
    const w = await values(head);
    const hidden = ref.dense(ref.meanPool(ref.img(B, 2, 2, 6, feat)), B, w['0.weight']!, w['0.bias']!, 6, 7).map((v) => Math.max(v, 0));
    expect(hidden.some((v) => v === 0) && hidden.some((v) => v > 0)).toBe(true);
    const want = ref.dense(hidden, B, w['2.weight']!, w['2.bias']!, 7, 5);
    expectClose(await out.data(), want, { rtol: 1e-5, atol: 1e-6, label: 'mlp' });
    // An already pooled [B, C] tap gives the same answer.
    const pooled = tf.tensor(Float32Array.from(ref.meanPool(ref.img(B, 2, 2, 6, feat))), [B, 6]);
    expectClose(await head.forward({ middle: pooled }).data(), want, { rtol: 1e-5, atol: 1e-6, label: 'pooled tap' });
  });
});

describe('classifierHead ("-E")', () => {
  it('classifies an image estimate read from the x0 tap (float64 reference of the whole net)', async () => {
    const head = classifierHead({ name: 'cls', inChannels: 1, numClasses: 3, width: 4, stages: 2, groups: 2, seed: 6 });
    expect([head.tap, head.kind]).toEqual(['x0', 'categorical']);
    expect(head.parameterNames).toEqual([
      'stem.weight', 'stem.bias',
      'blocks.0.in_layers.0.weight', 'blocks.0.in_layers.0.bias', 'blocks.0.in_layers.2.weight', 'blocks.0.in_layers.2.bias',
      'blocks.0.out_layers.0.weight', 'blocks.0.out_layers.0.bias', 'blocks.0.out_layers.3.weight', 'blocks.0.out_layers.3.bias',
      'downs.0.op.weight', 'downs.0.op.bias',
      'blocks.1.in_layers.0.weight', 'blocks.1.in_layers.0.bias', 'blocks.1.in_layers.2.weight', 'blocks.1.in_layers.2.bias',
      'blocks.1.out_layers.0.weight', 'blocks.1.out_layers.0.bias', 'blocks.1.out_layers.3.weight', 'blocks.1.out_layers.3.bias',
      'blocks.1.skip_connection.weight', 'blocks.1.skip_connection.bias',
      'norm.weight', 'norm.bias', 'fc.weight', 'fc.bias',
    ]);
    randomize(head, 7);
    const x = rng.fillNormal(new Float32Array(B * 6 * 6));
    const out = head.forward({ x0: tf.tensor(x, [B, 6, 6, 1]) });
    expect(out.shape).toEqual([B, 3]);
    const w = await values(head);
    let h = ref.conv(ref.img(B, 6, 6, 1, x), w['stem.weight']!, w['stem.bias']!, 3, 4);
    const block = (x: ref.Img, p: string, cout: number) => {
      const r = ref.conv(ref.silu(ref.groupNorm(x, w[`${p}.in_layers.0.weight`]!, w[`${p}.in_layers.0.bias`]!, 2)), w[`${p}.in_layers.2.weight`]!, w[`${p}.in_layers.2.bias`]!, 3, cout);
      const o = ref.conv(ref.silu(ref.groupNorm(r, w[`${p}.out_layers.0.weight`]!, w[`${p}.out_layers.0.bias`]!, 2)), w[`${p}.out_layers.3.weight`]!, w[`${p}.out_layers.3.bias`]!, 3, cout);
      const skip = w[`${p}.skip_connection.weight`] ? ref.conv(x, w[`${p}.skip_connection.weight`]!, w[`${p}.skip_connection.bias`]!, 1, cout) : x;
      return ref.add(skip, o);
    };
    h = block(h, 'blocks.0', 4);
    h = ref.conv(h, w['downs.0.op.weight']!, w['downs.0.op.bias']!, 3, 4, 2);
    expect([h.h, h.w]).toEqual([3, 3]);
    h = block(h, 'blocks.1', 8);
    const pooled = ref.meanPool(ref.silu(ref.groupNorm(h, w['norm.weight']!, w['norm.bias']!, 2)));
    expectClose(await out.data(), ref.dense(pooled, B, w['fc.weight']!, w['fc.bias']!, 8, 3), { rtol: 1e-4, atol: 1e-5, label: 'classifier' });
  });

  it('passes gradients to every variable and to its input (so x0 can train the U-Net)', async () => {
    const head = classifierHead({ name: 'cls', inChannels: 2, numClasses: 4, width: 4, stages: 2, groups: 2 });
    const x = tf.randomNormal([B, 8, 8, 2], 0, 1, 'float32', 3);
    // At init the residual branches' last convs are zero: train one step so the test sees real paths.
    const opt = tf.train.adam(1e-2);
    const loss = () => tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d([1, 3], 'int32'), 4), head.forward({ x0: x })) as tf.Scalar;
    opt.minimize(loss, false, head.variables);
    const { grads } = tf.variableGrads(loss, head.variables);
    for (const [i, v] of head.variables.entries()) {
      const g = grads[v.name]!;
      expect(Math.max(...Array.from(await g.abs().data())), head.parameterNames[i]).toBeGreaterThan(0);
    }
    const labels = tf.oneHot(tf.tensor1d([1, 3], 'int32'), 4);
    const dx = tf.grad((x0: tf.Tensor) => tf.losses.softmaxCrossEntropy(labels, head.forward({ x0 })))(x);
    expect(Math.max(...Array.from(await dx.abs().data()))).toBeGreaterThan(0);
    opt.dispose();
  });
});

describe('head safetensors', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'mtd-heads-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const makers: Array<[string, (seed: number) => Head]> = [
    ['outputBlockHead', (seed) => outputBlockHead({ name: 'o', inChannels: 4, outChannels: 2, groups: 2, zeroInit: false, seed })],
    ['middleMlpHead', (seed) => middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, hidden: 5, kind: 'gaussian', seed })],
    ['classifierHead', (seed) => classifierHead({ name: 'c', inChannels: 1, numClasses: 2, width: 2, groups: 1, seed })],
  ];
  for (const [label, make] of makers) {
    it(`${label}: round trip through bytes and files is bit-exact`, async () => {
      const a = make(1);
      randomize(a, 9);
      const b = make(2);
      b.fromSafetensors(await a.toSafetensors());
      const c = make(3);
      const path = join(dir, `${label}.safetensors`);
      await a.save(path);
      await c.load(path);
      const [va, vb, vc] = [await values(a), await values(b), await values(c)];
      for (const name of a.parameterNames) {
        expect(Buffer.from(vb[name]!.buffer).equals(Buffer.from(va[name]!.buffer)), name).toBe(true);
        expect(Buffer.from(vc[name]!.buffer).equals(Buffer.from(va[name]!.buffer)), name).toBe(true);
      }
      const meta = decodeSafetensors(await a.toSafetensors()).metadata;
      expect(meta['mtd.head.type']).toBe(label);
      [a, b, c].forEach((h) => h.dispose());
    });
  }

  it('stores PyTorch layouts: conv OIHW, linear [out, in]', async () => {
    const o = outputBlockHead({ name: 'o', inChannels: 4, outChannels: 2, groups: 2, zeroInit: false });
    const file = decodeSafetensors(await o.toSafetensors()).tensors;
    expect(file['2.weight']!.shape).toEqual([2, 4, 3, 3]);
    const hwio = (await o.variables[2]!.data()) as Float32Array;
    // file[o][i][y][x] == tfjs[y][x][i][o]
    expect(file['2.weight']!.data[((1 * 4 + 3) * 3 + 2) * 3 + 0]).toBe(hwio[((2 * 3 + 0) * 4 + 3) * 2 + 1]);
    const m = middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, kind: 'categorical' });
    const mf = decodeSafetensors(await m.toSafetensors()).tensors;
    expect(mf['0.weight']!.shape).toEqual([3, 4]);
    expect(mf['0.weight']!.data[2 * 4 + 1]).toBe(((await m.variables[0]!.data()) as Float32Array)[1 * 3 + 2]);
  });

  it('rejects a wrong name or shape naming both, and changes nothing', async () => {
    const head = middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, kind: 'categorical' });
    const before = await values(head);
    const { tensors } = decodeSafetensors(await head.toSafetensors());
    const renamed = { ...tensors, 'fc.weight': tensors['0.weight']! };
    delete (renamed as Record<string, unknown>)['0.weight'];
    expect(() => head.fromSafetensors(encodeSafetensors(renamed))).toThrow(
      /middleMlpHead\(m\)\.fromSafetensors: tensor names do not match this model: expected "0\.weight" \(missing from the file\), found "fc\.weight" \(not in the model\)/,
    );
    const reshaped = { ...tensors, '0.bias': { dtype: 'F32' as const, shape: [4], data: new Float32Array(4) }, '0.weight': { dtype: 'F32' as const, shape: [3, 4], data: new Float32Array(12).fill(7) } };
    expect(() => head.fromSafetensors(encodeSafetensors(reshaped))).toThrow(/tensor "0\.bias" must have shape \[3\] \(PyTorch layout\), found \[4\]/);
    expect(await values(head)).toEqual(before);
  });
});

describe('head input checks and memory', () => {
  it('names the tap and what was expected', () => {
    const o = outputBlockHead({ name: 'seg', inChannels: 4, outChannels: 2, groups: 2 });
    expect(() => o.forward({ middle: tf.zeros([1, 2, 2, 4]) })).toThrow(
      /outputBlockHead\(seg\)\.forward: taps\.decoderFeatures must be a float32 tensor \[B, \?, \?, 4\], got undefined/,
    );
    expect(() => o.forward({ decoderFeatures: tf.zeros([1, 2, 2, 3]) })).toThrow(/taps\.decoderFeatures must be .* got a float32 tensor of shape \[1, 2, 2, 3\]/);
    const m = middleMlpHead({ name: 'y', inChannels: 4, outDim: 2, kind: 'categorical', tap: 'deep' });
    expect(m.tap).toBe('deep');
    expect(() => m.forward({ middle: tf.zeros([1, 2, 2, 4]) })).toThrow(/taps\.deep must be/);
    o.dispose();
    expect(() => o.forward({ decoderFeatures: tf.zeros([1, 2, 2, 4]) })).toThrow(/outputBlockHead\(seg\)\.forward: this head was disposed/);
  });

  it('rejects bad options', () => {
    expect(() => outputBlockHead({ name: '', inChannels: 4, outChannels: 2 })).toThrow(/outputBlockHead: options\.name must be a non-empty string, got ""/);
    expect(() => outputBlockHead({ name: 'a', inChannels: 6, outChannels: 2, groups: 4 })).toThrow(/outputBlockHead: options\.groups must be a divisor of inChannels 6, got 4/);
    expect(() => middleMlpHead({ name: 'a', inChannels: 4, outDim: 0, kind: 'gaussian' })).toThrow(/middleMlpHead: options\.outDim must be an integer >= 1, got 0/);
    expect(() => middleMlpHead({ name: 'a', inChannels: 4, outDim: 2, kind: 'poisson' as never })).toThrow(/options\.kind must be "gaussian" or "categorical", got "poisson"/);
    expect(() => middleMlpHead({ name: 'a', inChannels: 4, outDim: 2, kind: 'gaussian', hidden: 1.5 })).toThrow(/options\.hidden must be an integer >= 1, got 1.5/);
    expect(() => classifierHead({ name: 'a', inChannels: 1, numClasses: 1 })).toThrow(/classifierHead: options\.numClasses must be an integer >= 2, got 1/);
    expect(() => classifierHead({ name: 'a', inChannels: 1, numClasses: 3, seed: -1 })).toThrow(/classifierHead: options\.seed must be an integer >= 0, got -1/);
  });

  it('forward leaks nothing and dispose frees every variable', async () => {
    const before = tf.memory().numTensors;
    const heads: Head[] = [
      outputBlockHead({ name: 'o', inChannels: 4, outChannels: 2, groups: 2 }),
      middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, hidden: 5, kind: 'gaussian' }),
      classifierHead({ name: 'c', inChannels: 4, numClasses: 2, width: 2, groups: 1 }),
    ];
    const x = tf.randomNormal([2, 4, 4, 4]);
    const taps = { decoderFeatures: x, middle: x, x0: x };
    for (const h of heads) await expectNoLeak(() => h.forward(taps), h.name);
    x.dispose();
    heads.forEach((h) => h.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('same seed, same weights; another seed, other weights', async () => {
    const a = await values(middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, kind: 'gaussian', seed: 8 }));
    const b = await values(middleMlpHead({ name: 'other', inChannels: 4, outDim: 3, kind: 'gaussian', seed: 8 }));
    const c = await values(middleMlpHead({ name: 'm', inChannels: 4, outDim: 3, kind: 'gaussian', seed: 9 }));
    expect(a).toEqual(b);
    expect(a['0.weight']).not.toEqual(c['0.weight']);
  });
});
