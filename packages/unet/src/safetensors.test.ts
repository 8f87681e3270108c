import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '@mtd/io';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUNet, torchShape, unetFromSafetensors, type UNet, type UNetConfig } from './index.js';

const config: UNetConfig = {
  imageSize: 8, inChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], groups: 4,
  numClasses: 3, contextDim: 5, useScaleShiftNorm: true,
};
let dir: string;

beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = await mkdtemp(join(tmpdir(), 'mtd-unet-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function randomized(seed: number): UNet {
  const u = createUNet(config, { seed });
  tf.tidy(() => u.variables.forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', seed * 1000 + i))));
  return u;
}

async function bytesOf(u: UNet): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  for (const [name, v] of u.namedVariables) out.set(name, Buffer.from(((await v.data()) as Float32Array).buffer));
  return out;
}

describe('UNet safetensors', () => {
  it('round trips bit-exactly through bytes, files, and a model rebuilt from the metadata', async () => {
    const a = randomized(1);
    const b = createUNet(config, { seed: 2 });
    b.fromSafetensors(await a.toSafetensors());
    const path = join(dir, 'unet.safetensors');
    await a.save(path);
    const c = createUNet(config, { seed: 3 });
    await c.load(path);
    const d = unetFromSafetensors(await a.toSafetensors());
    expect(d.config).toEqual(a.config);
    const want = await bytesOf(a);
    for (const other of [b, c, d]) {
      const got = await bytesOf(other);
      for (const [name, buf] of want) expect(got.get(name)!.equals(buf), name).toBe(true);
    }
    // And the forward pass agrees exactly.
    const x = tf.randomNormal([1, 8, 8, 1], 0, 1, 'float32', 4) as tf.Tensor4D;
    const t = tf.tensor1d([3]);
    expect(await d.forward({ x, t }).eps.data()).toEqual(await a.forward({ x, t }).eps.data());
    [a, b, c, d].forEach((u) => u.dispose());
  });

  it('writes PyTorch names and layouts: OIHW convs, [out, in, 1] attention projections, [out, in] linears', async () => {
    const u = randomized(5);
    const { tensors, metadata } = decodeSafetensors(await u.toSafetensors());
    expect(metadata.format).toBe('pt');
    expect(JSON.parse(metadata['mtd.unet.config']!)).toEqual(u.config);
    expect(Object.keys(tensors).sort()).toEqual([...u.parameterNames].sort());
    expect(tensors['input_blocks.0.0.weight']!.shape).toEqual([8, 1, 3, 3]);
    expect(tensors['input_blocks.1.0.emb_layers.1.weight']!.shape).toEqual([16, 32]); // scale-shift: 2 * out
    expect(tensors['input_blocks.3.1.qkv.weight']!.shape).toEqual([48, 16, 1]);
    expect(tensors['input_blocks.3.1.encoder_kv.weight']!.shape).toEqual([32, 5, 1]);
    expect(tensors['time_embed.0.weight']!.shape).toEqual([32, 8]);
    expect(tensors['label_emb.weight']!.shape).toEqual([4, 32]);
    expect(tensors['out.2.weight']!.shape).toEqual([1, 8, 3, 3]);
    // One element checked by index arithmetic: file[o][i][y][x] == tfjs[y][x][i][o].
    const conv = (await u.namedVariables.get('input_blocks.1.0.in_layers.2.weight')!.data()) as Float32Array; // [3, 3, 8, 8]
    const [o, i, y, x] = [5, 2, 0, 1];
    expect(tensors['input_blocks.1.0.in_layers.2.weight']!.data[((o * 8 + i) * 3 + y) * 3 + x]).toBe(conv[((y * 3 + x) * 8 + i) * 8 + o]);
    const lin = (await u.namedVariables.get('time_embed.2.weight')!.data()) as Float32Array; // [in 32, out 32]
    expect(tensors['time_embed.2.weight']!.data[7 * 32 + 3]).toBe(lin[3 * 32 + 7]);
    u.dispose();
  });

  it('rejects a PyTorch-style name or shape mismatch, naming expected and found, and changes nothing', async () => {
    const u = randomized(6);
    const before = await bytesOf(u);
    const { tensors } = decodeSafetensors(await u.toSafetensors());
    const renamed: Record<string, SafeTensor> = { ...tensors, 'out.2.kernel': tensors['out.2.weight']! };
    delete renamed['out.2.weight'];
    expect(() => u.fromSafetensors(encodeSafetensors(renamed))).toThrow(
      'UNet.fromSafetensors: tensor names do not match this model: expected "out.2.weight" (missing from the file), found "out.2.kernel" (not in the model)',
    );
    // A tfjs-layout (HWIO) kernel where PyTorch's OIHW is expected.
    const hwio: Record<string, SafeTensor> = { ...tensors, 'input_blocks.1.0.in_layers.2.weight': { ...tensors['input_blocks.1.0.in_layers.2.weight']!, shape: [3, 3, 8, 8] } };
    expect(() => u.fromSafetensors(encodeSafetensors(hwio))).toThrow(
      'UNet.fromSafetensors: tensor "input_blocks.1.0.in_layers.2.weight" must have shape [8, 8, 3, 3] (PyTorch layout), found [3, 3, 8, 8]',
    );
    const extra = { ...tensors, 'extra.weight': tensors['out.2.bias']! };
    expect(() => u.fromSafetensors(encodeSafetensors(extra))).toThrow(/expected none \(missing from the file\), found "extra\.weight" \(not in the model\)/);
    const ints = { ...tensors, 'out.2.bias': { dtype: 'I32' as const, shape: [1], data: new Int32Array(1) } };
    expect(() => u.fromSafetensors(encodeSafetensors(ints))).toThrow(/tensor "out\.2\.bias" must have dtype F32 \(or F64\), found I32/);
    const path = join(dir, 'bad.safetensors');
    const other = createUNet({ ...config, baseChannels: 12 });
    await other.save(path);
    await expect(u.load(path)).rejects.toThrow(/UNet\.load\(.*bad\.safetensors\): tensor "time_embed\.0\.weight" must have shape \[32, 8\] \(PyTorch layout\), found \[48, 12\]/);
    const after = await bytesOf(u);
    for (const [name, buf] of before) expect(after.get(name)!.equals(buf), name).toBe(true);
    expect(() => unetFromSafetensors(encodeSafetensors(tensors))).toThrow(/unetFromSafetensors: bytes must be a file with "mtd\.unet\.config" metadata/);
    [u, other].forEach((m) => m.dispose());
  });

  it('accepts F64 tensors (rounded to float32)', async () => {
    const u = randomized(7);
    const { tensors } = decodeSafetensors(await u.toSafetensors());
    const f64 = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [k, { dtype: 'F64' as const, shape: v.shape, data: Float64Array.from(v.data as Float32Array) }]));
    const v = createUNet(config);
    v.fromSafetensors(encodeSafetensors(f64));
    const [a, b] = [await bytesOf(u), await bytesOf(v)];
    for (const [name, buf] of a) expect(b.get(name)!.equals(buf), name).toBe(true);
    [u, v].forEach((m) => m.dispose());
  });
});

describe('torchShape (re-exported from @mtd/nn)', () => {
  it('gives the file shape of each variable from its tfjs shape', async () => {
    const u = createUNet(config, { seed: 8 });
    const { tensors } = decodeSafetensors(await u.toSafetensors());
    const shapeOf = (name: string) => u.namedVariables.get(name)!.shape;
    expect(tensors['input_blocks.0.0.weight']!.shape).toEqual(torchShape('conv2d', shapeOf('input_blocks.0.0.weight')));
    expect(tensors['input_blocks.3.1.qkv.weight']!.shape).toEqual(torchShape('conv1d', shapeOf('input_blocks.3.1.qkv.weight')));
    expect(tensors['time_embed.0.weight']!.shape).toEqual(torchShape('linear', shapeOf('time_embed.0.weight')));
    expect(tensors['label_emb.weight']!.shape).toEqual(torchShape('plain', shapeOf('label_emb.weight')));
    u.dispose();
  });
});
