import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { identityEncoder, predictZ0FromEps, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { classifierHead, middleMlpHead, outputBlockHead } from '@mtd/heads';
import { createRng } from '@mtd/random';
import { sample, type CategoricalModality, type GaussianModality, type Modality } from '@mtd/sampler';
import type { Encoder } from '@mtd/aggregation';
import { cosineSchedule } from '@mtd/schedule';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { createUNet, type UNetConfig } from '@mtd/unet';
import { generatorSource } from './data.js';
import { asDiffusionModel } from './model.js';
import { mtModel } from './mt-model.js';
import { useCpu } from './test-setup.testutil.js';
import { TINY, tinyUNetData, tinyUNetModel } from './tiny-unet.testutil.js';
import { Trainer } from './trainer.js';
import { unetLabelEncoder } from './unet-label-encoder.js';
import { unetContextEncoder } from './unet-context-encoder.js';

beforeAll(useCpu);

const S = 8;
const tiny: UNetConfig = { imageSize: S, inChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], groups: 4, numClasses: 3, extraChannels: 1 };
const schedule = cosineSchedule({ T: 50 });

/** A U-Net with non-zero output weights (ADM zero-inits the output conv), so every path shows. */
function unet(seed: number, config: UNetConfig = tiny) {
  const u = createUNet(config, { seed });
  const rng = createRng(seed + 100);
  for (const v of u.variables) tf.tidy(() => v.assign(tf.add(v, tf.mul(0.05, tf.tensor(rng.fillNormal(new Float32Array(v.size)), v.shape)))));
  return u;
}

function batchOf(B: number, seed: number) {
  const rng = createRng(seed);
  return {
    zt: tf.tensor4d(rng.fillNormal(new Float32Array(B * S * S)), [B, S, S, 1]),
    t: tf.tensor1d(Int32Array.from({ length: B }, () => 1 + rng.int(50)), 'int32'),
    masked: tf.tensor4d(rng.fillNormal(new Float32Array(B * S * S)), [B, S, S, 1]),
    probs: tf.oneHot(tf.tensor1d(Int32Array.from({ length: B }, () => rng.int(3)), 'int32'), 3).toFloat(),
  };
}

describe('mtModel', () => {
  const u = unet(1);
  const labelEncoder = unetLabelEncoder({ unet: u, classes: 3 });
  const label: CategoricalModality = { name: 'label', kind: 'categorical', classes: 3, encoder: labelEncoder, weight: sqrtAlphaBarWeight(0.5) };
  const masked: GaussianModality = { name: 'masked', kind: 'gaussian', encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.2) };
  const labelHead = middleMlpHead({ name: 'label', inChannels: 16, outDim: 3, kind: 'categorical', seed: 2 });
  const maskedHead = outputBlockHead({ name: 'masked', inChannels: 8, outChannels: 1, groups: 4, zeroInit: false, seed: 3 });
  const model = mtModel({ unet: u, heads: { label: labelHead, masked: maskedHead }, modalities: [label, masked] });
  const b = batchOf(3, 7);
  afterAll(() => {
    model.dispose();
    tf.dispose(b);
  });

  test('defaults: the class path for the label, the extra channels for the image; variables named by part', () => {
    expect(model.conditioning).toEqual({ label: 'class', masked: 'extra' });
    const names = model.variables.map((v) => v.name);
    expect(names).toContain('unet.out.2.weight');
    expect(names).toContain('unet.label_emb.weight');
    expect(names).toContain('heads.label.0.weight');
    expect(names).toContain('heads.masked.2.weight');
    expect(new Set(names).size).toBe(names.length);
    expect(model.parameterCount()).toBe(u.parameterCount() + labelHead.parameterCount() + maskedHead.parameterCount());
  });

  test('the conditioning paths: the U-Net sees the argmax class and the image; a dropped example sees the null class and zeros', () => {
    const out = tf.tidy(() => {
      const run = (known: Record<string, tf.Tensor | undefined>, present?: Record<string, tf.Tensor1D>) =>
        model.forward({ zt: b.zt, t: b.t, known, ...(present ? { present } : {}) }).eps.arraySync();
      const ids = tf.cast(tf.argMax(b.probs, 1), 'int32') as tf.Tensor1D;
      const direct = u.forward({ x: b.zt as tf.Tensor4D, t: b.t, classLabels: ids, extra: b.masked as tf.Tensor4D }).eps.arraySync();
      const unknown = u.forward({ x: b.zt as tf.Tensor4D, t: b.t, extra: tf.zerosLike(b.masked) as tf.Tensor4D }).eps.arraySync();
      const present = { label: tf.tensor1d([1, 0, 1]), masked: tf.tensor1d([0, 1, 1]) };
      const mixedIds = tf.tensor1d([ids.arraySync()[0]!, 3, ids.arraySync()[2]!], 'int32');
      const mixedExtra = tf.mul(b.masked, tf.reshape(present.masked, [3, 1, 1, 1])) as tf.Tensor4D;
      const mixed = u.forward({ x: b.zt as tf.Tensor4D, t: b.t, classLabels: mixedIds, extra: mixedExtra }).eps.arraySync();
      return {
        known: run({ label: b.probs, masked: b.masked }),
        direct,
        none: run({}),
        unknown,
        masked: run({ label: b.probs, masked: b.masked }, present),
        mixed,
      };
    });
    expect(out.known).toEqual(out.direct);
    expect(out.none).toEqual(out.unknown);
    expect(out.masked).toEqual(out.mixed);
    expect(out.known).not.toEqual(out.none);
  });

  test("a classifier head on the 'x0' tap reads predictZ0FromEps with the A_t of the given modalities", () => {
    const cls = classifierHead({ name: 'label', inChannels: 1, numClasses: 3, width: 4, stages: 1, groups: 2, seed: 4 });
    const m2 = mtModel({ unet: u, heads: { label: cls }, modalities: [label, masked], schedule });
    tf.tidy(() => {
      const out = m2.forward({ zt: b.zt, t: b.t, known: { masked: b.masked } });
      const x0 = predictZ0FromEps({ schedule, weights: [masked.weight], t: b.t, zt: b.zt, eps: out.eps, encodings: [b.masked] });
      expectClose(out.heads['label']!.dataSync(), cls.forward({ x0 }).dataSync(), { rtol: 1e-5, atol: 1e-6 });
    });
    cls.dispose();
    expect(() => mtModel({ unet: u, heads: { label: cls }, modalities: [label, masked] })).toThrow("mtModel: options.schedule must be a Schedule (a head reads the 'x0' tap), got undefined");
  });

  test('bad options are named', () => {
    expect(() => mtModel({ unet: u, heads: { lable: labelHead }, modalities: [label, masked] })).toThrow('mtModel: options.heads must be keyed by modality names (label, masked), got "lable"');
    expect(() => mtModel({ unet: u, heads: { masked: labelHead }, modalities: [label, masked] })).toThrow(`mtModel: options.heads.masked.kind must be "gaussian" (the modality's kind), got "categorical"`);
    expect(() => mtModel({ unet: u, modalities: [label, masked], conditioning: { masked: 'class' } })).toThrow(/options.conditioning.masked must be 'extra', 'context' or 'none' for a gaussian modality/);
    expect(() => mtModel({ unet: u, modalities: [label, masked], conditioning: { masked: 'none' } })).toThrow(/must be a modality on the 'extra' path \(the U-Net has extraChannels 1\)/);
    expect(() => mtModel({ unet: {} as never, modalities: [label] })).toThrow('mtModel: options.unet must be a UNet from @mtd/unet, got object');
  });
});

describe('unetLabelEncoder (MATH.md 5.3)', () => {
  const u = unet(5, { ...tiny, extraChannels: 0 });
  afterAll(() => u.dispose());

  test('one-hot p gives unet(zeros, t = 0, c = k); soft p the mixture of those', () => {
    const enc = unetLabelEncoder({ unet: u, classes: 3 });
    tf.tidy(() => {
      const table = u.forward({ x: tf.zeros([3, S, S, 1]) as tf.Tensor4D, t: tf.zeros([3]) as tf.Tensor1D, classLabels: tf.tensor1d([0, 1, 2], 'int32') }).eps;
      const rows = tf.unstack(table);
      expectClose(enc.encode(tf.tensor2d([[0, 1, 0]])).dataSync(), rows[1]!.dataSync(), { rtol: 1e-5, atol: 1e-7 });
      const soft = enc.encode(tf.tensor2d([[0.2, 0.3, 0.5]])).dataSync();
      const mix = tf.addN([tf.mul(0.2, rows[0]!), tf.mul(0.3, rows[1]!), tf.mul(0.5, rows[2]!)]).dataSync();
      expectClose(soft, mix, { rtol: 1e-4, atol: 1e-6 });
      expect(rows[0]!.dataSync()).not.toEqual(rows[1]!.dataSync());
    });
  });

  test('gradient: false (default) sends no gradient into the U-Net; true does', () => {
    const p = tf.tensor2d([[0.2, 0.3, 0.5]]);
    const frozen = unetLabelEncoder({ unet: u, classes: 3 });
    expect(() => tf.variableGrads(() => tf.sum(frozen.encode(p)) as tf.Scalar, u.variables)).toThrow(/Cannot find a connection/);
    const live = unetLabelEncoder({ unet: u, classes: 3, gradient: true });
    const { value, grads } = tf.variableGrads(() => tf.sum(live.encode(p)) as tf.Scalar, u.variables);
    const norms = Object.values(grads).map((g) => tf.tidy(() => tf.norm(g).dataSync()[0]!));
    expect(Math.max(...norms)).toBeGreaterThan(0);
    tf.dispose([value, grads, p]);
  });

  test('bad options are named', () => {
    expect(() => unetLabelEncoder({ unet: u, classes: 4 })).toThrow('unetLabelEncoder: options.unet must be a class-conditional U-Net with numClasses 4, got "numClasses 3"');
    expect(() => unetLabelEncoder({ unet: u, classes: 3, gradient: 1 as never })).toThrow('unetLabelEncoder: options.gradient must be a boolean, got 1');
  });
});

describe('training the tiny U-Net model', () => {
  test('50 training steps (label through the U-Net encoder, masked image on the extra path) and a sampling run leak nothing; the loss is finite', async () => {
    const { model, modalities } = tinyUNetModel();
    const [label, masked] = modalities as [Modality, Modality];
    const T4 = TINY;
    const B = 2;
    const data = tinyUNetData({ batchSize: B });
    const trainer = new Trainer({ model, schedule, modalities: [label, masked], data, seed: 1, optimizer: { lr: 1e-3, clipGradNorm: 1 }, ema: { decay: 0.99 } });
    await trainer.trainStep();
    const losses: number[] = [];
    const t0 = performance.now();
    await expectNoLeak(() => trainer.train({ steps: 51, progress: 'off', onStep: (r) => void losses.push(r.loss) }), '50 training steps');
    const seconds = (performance.now() - t0) / 1000;
    console.log(`tiny U-Net (${model.parameterCount()} parameters), batch ${B}: ${(50 / seconds).toFixed(2)} steps/s on cpu`);
    expect(losses).toHaveLength(50);
    expect(losses.every(Number.isFinite)).toBe(true);
    await expectNoLeak(async () => {
      const known = tf.zeros([2, T4, T4, 1]);
      const r = await sample({ model: asDiffusionModel(model), schedule, modalities: [label, masked], shape: [T4, T4, 1], batchSize: 2, seed: 3, steps: 5, known: { masked: known } });
      tf.dispose([r as unknown as tf.TensorContainer, known]);
    }, 'sampling');
    trainer.dispose();
    model.dispose();
  }, 60_000);
});

describe("mtModel: the 'context' path (a gaussian vector through cross-attention)", () => {
  const D = 5;
  const ctxConfig: UNetConfig = { imageSize: S, inChannels: 1, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 4, contextDim: D };
  const u = unet(11, ctxConfig);
  const rep: GaussianModality = { name: 'rep', kind: 'gaussian', encoder: unetContextEncoder({ unet: u }), weight: sqrtAlphaBarWeight(0.01) };
  const head = middleMlpHead({ name: 'rep', inChannels: 16, outDim: D, hidden: 12, kind: 'gaussian', seed: 12 });
  const model = mtModel({ unet: u, heads: { rep: head }, modalities: [rep] });
  const b = batchOf(3, 13);
  const r = tf.tensor2d(createRng(14).fillNormal(new Float32Array(3 * D)), [3, D]);
  afterAll(() => {
    model.dispose();
    tf.dispose([b, r]);
  });

  test('is the default for a gaussian modality of a U-Net with contextDim; the head gives [B, D]', () => {
    expect(model.conditioning).toEqual({ rep: 'context' });
    const out = model.forward({ zt: b.zt, t: b.t, known: {} });
    expect(out.heads['rep']!.shape).toEqual([3, D]);
    tf.dispose(out as unknown as tf.TensorContainer);
  });

  test('the U-Net attends to r as one token; unknown and dropped examples to one all-zero token', () => {
    const out = tf.tidy(() => {
      const eps = (known: Record<string, tf.Tensor>, present?: Record<string, tf.Tensor1D>) =>
        model.forward({ zt: b.zt, t: b.t, known, ...(present ? { present } : {}) }).eps.arraySync() as number[][][][];
      const direct = (context: tf.Tensor) => u.forward({ x: b.zt as tf.Tensor4D, t: b.t, context: context as tf.Tensor3D }).eps.arraySync();
      const keep = tf.tensor1d([1, 0, 1]);
      return {
        known: eps({ rep: r }),
        direct: direct(tf.expandDims(r, 1)),
        sequence: eps({ rep: tf.expandDims(r, 1) }),
        none: eps({}),
        zeros: direct(tf.zeros([3, 1, D])),
        noContext: u.forward({ x: b.zt as tf.Tensor4D, t: b.t }).eps.arraySync(),
        masked: eps({ rep: r }, { rep: keep }),
        mixed: direct(tf.mul(tf.expandDims(r, 1), tf.reshape(keep, [3, 1, 1]))),
      };
    });
    expect(out.known).toEqual(out.direct);
    expect(out.sequence).toEqual(out.direct);
    expect(out.none).toEqual(out.zeros);
    expect(out.masked).toEqual(out.mixed);
    expect(out.known).not.toEqual(out.none);
    // The null condition is a zero token, not "no context at all": encoder_kv's bias still attends.
    expect(out.none).not.toEqual(out.noContext);
    // Example 1 was dropped: it matches the unknown case, and examples 0 and 2 the known one.
    expect(out.masked[1]).toEqual(out.none[1]);
    expect(out.masked[0]).toEqual(out.known[0]);
  });

  test('bad options and values are named', () => {
    const noCtx = unet(15, { ...ctxConfig, contextDim: undefined });
    const label: CategoricalModality = { name: 'label', kind: 'categorical', classes: 3, encoder: identityEncoder, weight: sqrtAlphaBarWeight(0.5) };
    const rep2: GaussianModality = { ...rep, name: 'rep2' };
    try {
      expect(() => mtModel({ unet: noCtx, modalities: [rep], conditioning: { rep: 'context' } })).toThrow("mtModel: options.conditioning.rep must be 'context' only with a U-Net that has contextDim, got \"contextDim undefined\"");
      expect(() => mtModel({ unet: u, modalities: [label], conditioning: { label: 'context' } })).toThrow("mtModel: options.conditioning.label must be 'class' or 'none' for a categorical modality, got \"context\"");
      expect(() => mtModel({ unet: u, modalities: [rep, rep2], conditioning: { rep: 'context', rep2: 'context' } })).toThrow("mtModel: options.conditioning.rep2 must be 'context' for at most one modality, got \"context\"");
      expect(() => mtModel({ unet: u, modalities: [rep], conditioning: { rep: 'cross' as never } })).toThrow("mtModel: options.conditioning.rep must be 'class', 'extra', 'context' or 'none', got \"cross\"");
      // Only the first gaussian modality takes the context by default.
      const two = mtModel({ unet: u, modalities: [rep, rep2] });
      expect(two.conditioning).toEqual({ rep: 'context', rep2: 'none' });
      const wrong = tf.zeros([3, D + 1]);
      expect(() => model.forward({ zt: b.zt, t: b.t, known: { rep: wrong } })).toThrow(`MtModel.forward: input.known.rep must be a vector [3, ${D}] or a sequence [3, L, ${D}] (it is on the 'context' path)`);
      wrong.dispose();
    } finally {
      noCtx.dispose();
    }
  });

  test('leaks nothing', async () => {
    const keep = tf.tensor1d([1, 0, 1]);
    await expectNoLeak(() => tf.dispose(model.forward({ zt: b.zt, t: b.t, known: { rep: r }, present: { rep: keep } }) as unknown as tf.TensorContainer), 'forward');
    await expectNoLeak(() => tf.dispose(model.forward({ zt: b.zt, t: b.t, known: {} }) as unknown as tf.TensorContainer), 'forward, unknown');
    keep.dispose();
  });
});

describe("training and sampling with a representation on the 'context' path", () => {
  const D = 4;
  const T4 = 4;
  const small: UNetConfig = { imageSize: T4, inChannels: 1, baseChannels: 4, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 2, contextDim: D };
  const KV = 'unet.middle_block.1.encoder_kv.weight';

  function setup(conditionDropout: number, gradient = false) {
    const u = createUNet(small, { seed: 21 });
    const rep: Modality = { name: 'rep', kind: 'gaussian', encoder: unetContextEncoder({ unet: u, gradient }), weight: sqrtAlphaBarWeight(0.05) };
    const heads = { rep: middleMlpHead({ name: 'rep', inChannels: 4, outDim: D, hidden: 8, kind: 'gaussian', seed: 22 }) };
    const model = mtModel({ unet: u, heads, modalities: [rep] });
    const data = generatorSource({
      batchSize: 4,
      seed: 23,
      draw: (rng, n) => ({
        z0: tf.tensor4d(rng.fillNormal(new Float32Array(n * T4 * T4)), [n, T4, T4, 1]),
        values: { rep: tf.tensor2d(rng.fillNormal(new Float32Array(n * D)), [n, D]) },
      }),
    });
    const trainer = new Trainer({ model, schedule, modalities: [rep], data, seed: 24, optimizer: { lr: 1e-2, clipGradNorm: 1 }, ema: false, conditionDropout });
    const kv = () => model.variables.find((v) => v.name === KV)!.variable.dataSync().slice();
    return { model, rep, trainer, kv };
  }

  test('with condition dropout < 1 the cross-attention weights train; with 1 (and a frozen encoder) they never move', async () => {
    for (const [dropout, gradient, moves] of [[0.5, false, true], [1, false, false], [1, true, true]] as const) {
      const { model, trainer, kv } = setup(dropout, gradient);
      const before = kv();
      await expectNoLeak(() => trainer.train({ steps: 3, progress: 'off' }), `3 steps, dropout ${dropout}, gradient ${gradient}`);
      const after = kv();
      expect(Array.from(after).some((v, i) => v !== before[i]), `dropout ${dropout}, gradient ${gradient}`).toBe(moves);
      trainer.dispose();
      model.dispose();
    }
  }, 60_000);

  test('the sampler: joint generation encodes the head estimate [B, D] into z space; conditional generation uses the known r', async () => {
    const { model, rep, trainer } = setup(0.5);
    await trainer.train({ steps: 2, progress: 'off' });
    trainer.dispose();
    // Make the output block non-zero so the encodings are not all zero.
    for (const v of model.unet.variables) tf.tidy(() => v.assign(tf.add(v, tf.mul(0.05, tf.onesLike(v)))));
    const seen: number[][] = [];
    const spy: Encoder = { encode: (x) => (seen.push(x.shape), rep.encoder.encode(x)) };
    const modalities: Modality[] = [{ ...rep, encoder: spy }];
    await expectNoLeak(async () => {
      const joint = await sample({ model: asDiffusionModel(model), schedule, modalities, shape: [T4, T4, 1], batchSize: 3, seed: 5, steps: 4 });
      expect(joint.z0.shape).toEqual([3, T4, T4, 1]);
      const g = joint.modalities['rep']!;
      expect(g.kind).toBe('gaussian');
      expect(g.known).toBe(false);
      if (g.kind === 'gaussian') expect(g.value.shape).toEqual([3, D]);
      tf.dispose(joint as unknown as tf.TensorContainer);
    }, 'joint sampling');
    expect(seen.length).toBe(4);
    expect(seen.every((s) => s.length === 2 && s[0] === 3 && s[1] === D)).toBe(true);
    seen.length = 0;
    const r = tf.tensor2d(createRng(25).fillNormal(new Float32Array(3 * D)), [3, D]);
    await expectNoLeak(async () => {
      const cond = await sample({ model: asDiffusionModel(model), schedule, modalities, shape: [T4, T4, 1], batchSize: 3, seed: 5, steps: 4, known: { rep: r } });
      const g = cond.modalities['rep']!;
      expect(g.known).toBe(true);
      if (g.kind === 'gaussian') expect(Array.from(g.value.dataSync())).toEqual(Array.from(r.dataSync()));
      tf.dispose(cond as unknown as tf.TensorContainer);
    }, 'conditional sampling');
    // The known r is encoded once, not per step.
    expect(seen).toEqual([[3, D]]);
    r.dispose();
    model.dispose();
  }, 60_000);
});
