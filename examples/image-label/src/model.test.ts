import * as tf from '@tensorflow/tfjs';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { presetConfig } from './config.js';
import { buildClassifier, buildSchedule, buildVariant, headLogits } from './model.js';

const config = presetConfig('tiny');
const schedule = buildSchedule(config);
const s = config.imageSize;

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const images = (B: number) => tf.tidy(() => tf.sub(tf.mul(tf.randomUniform([B, s, s, 1], 0, 1, 'float32', 5), 2), 1)) as tf.Tensor4D;

describe('buildVariant', () => {
  it('gives the three models the same initial U-Net; the MT variants add the class embedding and their label head', async () => {
    const m = buildVariant('mtM', config, schedule);
    const e = buildVariant('mtE', config, schedule);
    const d = buildVariant('ddpm', config, schedule);
    try {
      const byName = (x: typeof m) => new Map(x.model.variables.map((v) => [v.name, v.variable]));
      const [vm, ve, vd] = [byName(m), byName(e), byName(d)];
      for (const [name, v] of vd) {
        expect(Array.from(await vm.get(name)!.data()), name).toEqual(Array.from(await v.data()));
        expect(Array.from(await ve.get(name)!.data()), name).toEqual(Array.from(await v.data()));
      }
      const extra = (x: Map<string, tf.Variable>) => [...x.keys()].filter((n) => !vd.has(n));
      expect(extra(vm).every((n) => n === 'unet.label_emb.weight' || n.startsWith('heads.label.'))).toBe(true);
      expect(extra(vm)).toContain('unet.label_emb.weight');
      expect(extra(ve).every((n) => n === 'unet.label_emb.weight' || n.startsWith('heads.label.'))).toBe(true);
      expect(m.model.heads['label']!.tap).toBe('middle');
      expect(e.model.heads['label']!.tap).toBe('x0');
      expect(m.model.conditioning).toEqual({ label: 'class' });
      expect(m.modalities.map((x) => [x.name, x.kind])).toEqual([['label', 'categorical']]);
      expect(d.modalities).toEqual([]);
    } finally {
      m.model.dispose();
      e.model.dispose();
      d.model.dispose();
    }
  });
});

describe('buildClassifier', () => {
  it('supM: the cross-entropy reaches exactly the parameters counted as its path (time embedding, encoder, middle block, linear)', async () => {
    const c = buildClassifier('supM', config);
    const x = images(3);
    try {
      const y = tf.oneHot(tf.tensor1d([1, 4, 7], 'int32'), config.classes);
      const { value, grads } = tf.variableGrads(() => tf.losses.softmaxCrossEntropy(y, c.logits(x)) as tf.Scalar, c.variables.map((v) => v.variable));
      const reached = c.variables.filter((v) => grads[v.variable.name] !== undefined);
      const sum = reached.reduce((n, v) => n + v.variable.size, 0);
      tf.dispose([y, value, grads]);
      expect(sum).toBe(c.pathParameters);
      expect(reached.some((v) => v.name.startsWith('unet.output_blocks.'))).toBe(false);
      expect(reached.some((v) => v.name.startsWith('unet.middle_block.'))).toBe(true);
    } finally {
      x.dispose();
      c.dispose();
    }
  });

  it('supE: the -E head with the -E variant\'s initial weights, applied to the clean image', async () => {
    const c = buildClassifier('supE', config);
    const e = buildVariant('mtE', config, schedule);
    const x = images(2);
    try {
      const a = c.logits(x);
      const b = e.model.heads['label']!.forward({ x0: x });
      expectClose(await a.data(), await b.data(), { rtol: 0, atol: 0 });
      tf.dispose([a, b]);
      expect(c.pathParameters).toBe(e.model.heads['label']!.parameterCount());
    } finally {
      x.dispose();
      c.dispose();
      e.model.dispose();
    }
  });

  it('logits are [B, K] and leave no tensors behind', async () => {
    for (const kind of ['supM', 'supE'] as const) {
      const c = buildClassifier(kind, config);
      const x = images(2);
      try {
        await expectNoLeak(async () => {
          const l = c.logits(x);
          expect(l.shape).toEqual([2, config.classes]);
          l.dispose();
        }, kind);
      } finally {
        x.dispose();
        c.dispose();
      }
    }
  });
});

describe('headLogits', () => {
  it('is the model\'s label head at timestep t with the label unknown, leak-free', async () => {
    const m = buildVariant('mtM', config, schedule);
    const x = images(2);
    try {
      await expectNoLeak(async () => {
        const got = headLogits(m.model, x, 7);
        const t = tf.tensor1d([7, 7], 'int32');
        const out = m.model.forward({ zt: x, t, known: {} });
        expect(got.shape).toEqual([2, config.classes]);
        expectClose(await got.data(), await out.heads['label']!.data(), { rtol: 0, atol: 0 });
        tf.dispose([got, t, out.eps, ...Object.values(out.heads)]);
      });
      expect(() => headLogits(m.model, x, 0)).toThrow(/headLogits: t must be a timestep >= 1, got 0/);
    } finally {
      x.dispose();
      m.model.dispose();
    }
  });

  it('rejects a model without a label head', () => {
    const d = buildVariant('ddpm', config, schedule);
    try {
      expect(() => headLogits(d.model, tf.zeros([1, s, s, 1]) as tf.Tensor4D, 1)).toThrow(/headLogits: model must have a "label" head/);
    } finally {
      d.model.dispose();
    }
  });
});
