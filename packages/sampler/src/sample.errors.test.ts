import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { constantWeight, frozenEncoder, identityEncoder } from '@mtd/aggregation';
import { linearSchedule } from '@mtd/schedule';
import { expectNoLeak } from '@mtd/testkit';
import type { DiffusionModel, Modality } from './model.js';
import { sample, type SampleOptions } from './sample.js';

/* Bad input gets an error that names the argument and what was expected, and leaks nothing. */

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const schedule = linearSchedule({ T: 20, betaStart: 1e-3, betaEnd: 0.2 });
const shape = [2, 2];
const model: DiffusionModel = ({ zt }) => ({
  eps: tf.mul(0.5, zt),
  heads: { x: tf.tanh(zt), c: tf.reshape(tf.slice(tf.reshape(zt, [-1, 4]), [0, 0], [-1, 3]), [-1, 3]) },
});
const table = tf.ones([3, 4]);
afterAll(() => table.dispose());
const modalities: Modality[] = [
  { name: 'x', kind: 'gaussian', encoder: identityEncoder, weight: constantWeight(0.01) },
  {
    name: 'c',
    kind: 'categorical',
    classes: 3,
    encoder: frozenEncoder((p) => tf.reshape(tf.matMul(p as tf.Tensor2D, table), [-1, 2, 2])),
    weight: constantWeight(0.01),
  },
];
const base: SampleOptions = { model, schedule, modalities, shape, batchSize: 2, seed: 0, onWarning: () => {} };

/** Expects `sample(options)` to reject with `message`, leaking nothing. */
async function expectRejects(options: Partial<SampleOptions> | Record<string, unknown>, message: RegExp, kind: typeof RangeError | typeof TypeError = RangeError) {
  await expectNoLeak(async () => {
    const error = await sample({ ...base, ...options } as SampleOptions).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
  });
}

describe('options', () => {
  test.each([
    ['no model', { model: undefined }, /sample: model must be a function/, TypeError],
    ['a bad schedule', { schedule: { T: 20 } }, /sample: schedule must be a Schedule/, TypeError],
    ['an empty shape', { shape: [] }, /sample: shape must be a non-empty list of positive integers/, RangeError],
    ['a zero dimension', { shape: [2, 0] }, /sample: shape must be/, RangeError],
    ['batch size 0', { batchSize: 0 }, /sample: batchSize must be an integer >= 1, got 0/, RangeError],
    ['a fractional seed', { seed: 1.5 }, /sample: seed must be a safe integer, got 1\.5/, RangeError],
    ['a negative firstExample', { firstExample: -1 }, /sample: firstExample must be an integer >= 0, got -1/, RangeError],
    ['an unknown method', { method: 'euler' }, /sample: method must be 'ddpm' or 'ddim', got "euler"/, RangeError],
    ['eta < 0', { method: 'ddim', eta: -0.1 }, /sample: eta must be a finite number >= 0, got -0\.1/, RangeError],
    ['eta with DDPM', { eta: 0.5 }, /sample: eta must be left out with method 'ddpm'/, RangeError],
    ['an eta too large', { method: 'ddim', eta: 50 }, /sample: eta must be small enough that 1 - alphaBar_prev - sigma\^2 >= 0/, RangeError],
    ['variance with DDIM', { method: 'ddim', variance: 'fixedLarge' }, /sample: variance must be left out with method 'ddim'/, RangeError],
    ['an unknown variance', { variance: 'learned' }, /sample: variance must be 'fixedSmall' or 'fixedLarge', got "learned"/, RangeError],
    ['steps above T', { steps: 21 }, /sample: steps must be an integer in 1\.\.20 \(the schedule's T\), got 21/, RangeError],
    ['a respacing larger than T', { respace: 'ddim40' }, /sample: respace must be a valid respacing of T = 20 timesteps \(respace: spec must be at most T = 20 steps/, RangeError],
    ['both steps and respace', { steps: 5, respace: 'ddim5' }, /sample: steps must be left out when respace is given/, RangeError],
    ['a bad endpointTolerance', { endpointTolerance: -1 }, /sample: endpointTolerance must be a number >= 0/, RangeError],
    ['a reversed clip range', { clipZ0: [1, -1] }, /sample: clipZ0 must be \[min, max\] with finite min < max/, RangeError],
    ['a clip range of one number', { clipZ0: [1] }, /sample: clipZ0 must be \[min, max\]/, RangeError],
    ['a non-function onProgress', { onProgress: 3 }, /sample: onProgress must be a function/, TypeError],
  ])('%s', async (_name, options, message, kind) => {
    await expectRejects(options as Record<string, unknown>, message, kind);
  });

  test('duplicate modality names', async () => {
    await expectRejects({ modalities: [modalities[0]!, { ...modalities[1]!, name: 'x' }] }, /sample: modalities\[1\]\.name must be unique/);
  });
});

describe('known modalities', () => {
  test('an unknown modality name', async () => {
    const y = tf.zeros([2, 2, 2]);
    await expectRejects({ known: { y } }, /sample: each key of known must be a modality name \(one of 'x', 'c'\), got "y"/);
    y.dispose();
  });

  test('a wrong batch size', async () => {
    const x = tf.zeros([3, 2, 2]);
    await expectRejects({ known: { x } }, /sample: known\.x\.shape must be a shape with the batch size 2 first, got \[3, 2, 2\]/);
    x.dispose();
  });

  test('an encoding that does not have the shape of z', async () => {
    const x = tf.zeros([2, 4]);
    await expectRejects({ known: { x } }, /sample: the encoding of 'x'\.shape must be \[2, 2, 2\] \(the shape of z\), got \[2, 4\]/);
    x.dispose();
  });

  test('a class id out of range', async () => {
    const c = tf.tensor1d([0, 3], 'int32');
    await expectRejects({ known: { c } }, /sample: known\.c\[1\] must be a class id in 0\.\.2, got 3/);
    c.dispose();
  });

  test('not a tensor', async () => {
    await expectRejects({ known: { x: [1, 2] } }, /sample: known\.x must be a tf\.Tensor or undefined/, TypeError);
  });
});

describe('modes', () => {
  test('z0Known of the wrong shape, or with restoration or guidance', async () => {
    const z0 = tf.zeros([2, 4]);
    await expectRejects({ z0Known: z0 }, /sample: z0Known\.shape must be \[2, 2, 2\] \(\[batchSize, \.\.\.shape\]\), got \[2, 4\]/);
    const good = tf.zeros([2, 2, 2]);
    await expectRejects({ z0Known: good, restoration: { image: good, keep: good } }, /sample: restoration must be left out with z0Known/);
    const c = tf.tensor1d([0, 1], 'int32');
    await expectRejects({ z0Known: good, known: { c }, guidance: { scale: 2 } }, /sample: guidance must be left out with z0Known/);
    await expectRejects({ z0Known: good, clipZ0: [-1, 1] }, /sample: clipZ0 must be left out with z0Known/);
    tf.dispose([z0, good, c]);
  });

  test('restoration: a mask that is not 0/1, a wrong shape, bad RePaint parameters', async () => {
    const image = tf.zeros([2, 2, 2]);
    const half = tf.fill([2, 2, 2], 0.5);
    await expectRejects({ restoration: { image, keep: half } }, /sample: restoration\.keep \(flat index 0\) must be 0 or 1, got 0\.5/);
    const flat = tf.ones([2, 4]);
    await expectRejects({ restoration: { image, keep: flat } }, /sample: restoration\.keep\.shape must be \[2, 2, 2\]/);
    const ones = tf.ones([2, 2, 2]);
    await expectRejects({ restoration: { image, keep: ones, resampleCount: 0 } }, /sample: restoration\.resampleCount must be an integer >= 1/);
    await expectRejects({ steps: 5, restoration: { image, keep: ones, jumpLength: 5, resampleCount: 2 } }, /sample: restoration\.jumpLength must be an integer in 1\.\.4/);
    tf.dispose([image, half, flat, ones]);
  });

  test('guidance: no condition, a modality that is not known, a bad scale', async () => {
    await expectRejects({ guidance: { scale: 2 } }, /sample: guidance must be used with at least one known modality/);
    const c = tf.tensor1d([0, 1], 'int32');
    await expectRejects({ known: { c }, guidance: { scale: 2, modalities: ['x'] } }, /sample: each of guidance\.modalities must be a known modality \(known: 'c'\), got "x"/);
    await expectRejects({ known: { c }, guidance: { scale: 2, modalities: ['nope'] } }, /must be a modality name/);
    await expectRejects({ known: { c }, guidance: { scale: Number.NaN } }, /sample: guidance\.scale must be a finite number, got NaN/);
    c.dispose();
  });
});

describe('the model output', () => {
  test.each([
    ['eps of the wrong shape', () => ({ eps: tf.zeros([2, 4]), heads: {} }), /sample: the model output eps\.shape must be \[2, 2, 2\] \(the shape of z\), got \[2, 4\]/, RangeError],
    ['no eps', () => ({ heads: {} }), /sample: the model output eps must be a float32 tf\.Tensor/, TypeError],
    ['a missing head', ({ zt }: { zt: tf.Tensor }) => ({ eps: tf.zerosLike(zt), heads: { c: tf.zeros([2, 3]) } }), /sample: the model output heads\.x must be a tf\.Tensor \(modality 'x' is not known\)/, TypeError],
    ['logits of the wrong shape', ({ zt }: { zt: tf.Tensor }) => ({ eps: tf.zerosLike(zt), heads: { x: tf.zerosLike(zt), c: tf.zeros([2, 4]) } }), /heads\.c\.shape must be \[2, 3\] \(logits\), got \[2, 4\]/, RangeError],
    ['a Promise', () => Promise.resolve({}), /sample: the model output must be a synchronous \{ eps, heads \}/, TypeError],
  ])('%s', async (_name, bad, message, kind) => {
    await expectRejects({ model: bad as unknown as DiffusionModel }, message, kind);
  });
});
