import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors, type SafeTensor } from '@mtd/io';
import { createRng } from '@mtd/random';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { ParamStore } from './param-store.js';
import { assignFromSafeTensors, paramsToSafeTensors } from './safetensors.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A small model with every layout, its values randomised so nothing is zero or one by chance. */
function model(seed: number): ParamStore {
  const s = new ParamStore(createRng(seed));
  s.conv2d('conv', 3, 2, 4);
  s.conv1d('qkv', 4, 12);
  s.linear('fc', 4, 3);
  s.groupNorm('norm', 4);
  s.embedding('emb', 3, 4);
  const rng = createRng(seed + 100);
  tf.tidy(() => s.params.forEach((p) => p.variable.assign(tf.tensor(rng.fillNormal(new Float32Array(p.variable.size)), p.variable.shape))));
  return s;
}

async function snapshot(s: ParamStore): Promise<Float32Array[]> {
  return Promise.all(s.params.map(async (p) => (await p.variable.data()) as Float32Array));
}

function dispose(...stores: ParamStore[]): void {
  for (const s of stores) for (const p of s.params) p.variable.dispose();
}

describe('paramsToSafeTensors', () => {
  it('writes every parameter under its name in PyTorch layout (checked against tf.transpose)', async () => {
    const s = model(1);
    const file = await paramsToSafeTensors(s.params);
    expect(Object.keys(file)).toEqual(s.params.map((p) => p.name));
    const [convW, , qkvW, , fcW] = s.params.map((p) => p.variable);
    const expectTensor = async (name: string, shape: number[], want: tf.Tensor) => {
      expect(file[name]!.dtype).toBe('F32');
      expect(file[name]!.shape).toEqual(shape);
      expect(Array.from(file[name]!.data as Float32Array)).toEqual(Array.from(await want.data()));
      want.dispose();
    };
    await expectTensor('conv.weight', [4, 2, 3, 3], tf.transpose(convW!, [3, 2, 0, 1]));
    await expectTensor('qkv.weight', [12, 4, 1], tf.transpose(qkvW!));
    await expectTensor('fc.weight', [3, 4], tf.transpose(fcW!));
    await expectTensor('emb.weight', [3, 4], s.params[8]!.variable.clone());
    await expectTensor('norm.weight', [4], s.params[6]!.variable.clone());
    dispose(s);
  });
});

describe('assignFromSafeTensors', () => {
  it('round trips bit-exactly through encoded bytes; neither direction leaks a tensor', async () => {
    const a = model(1);
    const b = model(2);
    let bytes: Uint8Array = new Uint8Array();
    await expectNoLeak(async () => {
      bytes = encodeSafetensors(await paramsToSafeTensors(a.params));
    });
    await expectNoLeak(async () => {
      assignFromSafeTensors('test', b.params, decodeSafetensors(bytes).tensors);
    });
    const [wa, wb] = [await snapshot(a), await snapshot(b)];
    wa.forEach((w, i) => expect(wb[i], a.params[i]!.name).toEqual(w));
    dispose(a, b);
  });

  it('accepts F64 tensors, rounded to float32', async () => {
    const a = model(3);
    const b = model(4);
    const f64 = Object.fromEntries(
      Object.entries(await paramsToSafeTensors(a.params)).map(([k, v]) => [k, { dtype: 'F64' as const, shape: v.shape, data: Float64Array.from(v.data as Float32Array) }]),
    );
    assignFromSafeTensors('test', b.params, f64);
    const [wa, wb] = [await snapshot(a), await snapshot(b)];
    wa.forEach((w, i) => expect(wb[i]).toEqual(w));
    dispose(a, b);
  });

  it('rejects missing or unexpected names, shapes, dtypes and short data, and changes nothing', async () => {
    const s = model(5);
    const before = await snapshot(s);
    const good = await paramsToSafeTensors(s.params);
    const without = (name: string) => Object.fromEntries(Object.entries(good).filter(([k]) => k !== name));
    expect(() => assignFromSafeTensors('M.load(x)', s.params, { ...without('fc.weight'), 'fc.kernel': good['fc.weight']! })).toThrow(
      new RangeError('M.load(x): tensor names do not match this model: expected "fc.weight" (missing from the file), found "fc.kernel" (not in the model)'),
    );
    expect(() => assignFromSafeTensors('M', s.params, { ...good, extra: good['fc.bias']! })).toThrow(
      'M: tensor names do not match this model: expected none (missing from the file), found "extra" (not in the model)',
    );
    const manyMissing = Object.fromEntries(Object.entries(good).slice(0, 2));
    expect(() => assignFromSafeTensors('M', s.params, manyMissing)).toThrow(
      'M: tensor names do not match this model: expected "qkv.weight", "qkv.bias", "fc.weight", "fc.bias", "norm.weight" and 2 more (missing from the file), found none (not in the model)',
    );
    // A tfjs-layout (HWIO) kernel where PyTorch's OIHW is expected.
    const hwio: SafeTensor = { ...good['conv.weight']!, shape: [3, 3, 2, 4] };
    expect(() => assignFromSafeTensors('M', s.params, { ...good, 'conv.weight': hwio })).toThrow(
      'M: tensor "conv.weight" must have shape [4, 2, 3, 3] (PyTorch layout), found [3, 3, 2, 4]',
    );
    const ints: SafeTensor = { dtype: 'I32', shape: [3], data: new Int32Array(3) };
    expect(() => assignFromSafeTensors('M', s.params, { ...good, 'fc.bias': ints })).toThrow('M: tensor "fc.bias" must have dtype F32 (or F64), found I32');
    const short: SafeTensor = { dtype: 'F32', shape: [3], data: new Float32Array(2) };
    expect(() => assignFromSafeTensors('M', s.params, { ...good, 'fc.bias': short })).toThrow('M: tensor "fc.bias" must have 3 values for shape [3], found 2');
    const after = await snapshot(s);
    before.forEach((w, i) => expect(after[i]).toEqual(w));
    dispose(s);
  });
});
