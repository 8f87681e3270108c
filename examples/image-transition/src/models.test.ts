import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { expectNoLeak } from '@mtd/testkit';
import { presetConfig } from './config.js';
import { buildModel, buildSchedule, MODEL_IDS, MODEL_SPECS, trainBatch, trainerOptions } from './models.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('buildModel', () => {
  it('gives all four models the same U-Net weights; only the MT models add a head, on their modality', async () => {
    const config = presetConfig('tiny');
    const models = MODEL_IDS.map((id) => buildModel(id, config));
    try {
      const unetVars = (i: number) => models[i]!.model.variables.filter((v) => v.name.startsWith('unet.'));
      const ref = unetVars(0);
      for (let i = 1; i < models.length; i++) {
        const vars = unetVars(i);
        expect(vars.map((v) => v.name)).toEqual(ref.map((v) => v.name));
        for (let k = 0; k < vars.length; k++) expect(Array.from(await vars[k]!.variable.data())).toEqual(Array.from(await ref[k]!.variable.data()));
      }
      models.forEach((b) => {
        const rest = b.model.variables.filter((v) => !v.name.startsWith('unet.'));
        if (b.spec.mt) {
          expect(rest.length).toBeGreaterThan(0);
          expect(rest.every((v) => v.name.startsWith(`heads.${b.spec.modality}.`))).toBe(true);
        } else {
          expect(rest).toEqual([]);
        }
        expect(b.model.conditioning).toEqual({ [b.spec.modality]: 'extra' });
        expect(b.model.unet.config.extraChannels).toBe(3);
      });
    } finally {
      models.forEach((b) => b.model.dispose());
    }
  });

  it('puts the MT modality into A_t with a small sqrt(alphaBar) weight and the baseline source with weight 0', () => {
    const config = presetConfig('tiny');
    const schedule = buildSchedule(config);
    for (const id of MODEL_IDS) {
      const b = buildModel(id, config);
      try {
        const w = b.modalities[0]!.weight.values(schedule);
        if (MODEL_SPECS[id].mt) {
          expect(w[0]).toBeCloseTo(config.weightC * Math.sqrt(schedule.alphaBars[0]!), 12);
          expect(Math.max(...w)).toBeGreaterThan(0);
        } else {
          expect(Math.max(...w)).toBe(0);
        }
      } finally {
        b.model.dispose();
      }
    }
  });

  it('frees everything it made on dispose', async () => {
    await expectNoLeak(async () => {
      for (const id of MODEL_IDS) buildModel(id, presetConfig('tiny')).model.dispose();
    });
  });

  it('names the bad argument', () => {
    expect(() => buildModel('nope' as never, presetConfig('tiny'))).toThrow(/buildModel: id must be one of mtSeg, baseSeg, mtDay, baseDay, got nope/);
  });
});

describe('trainerOptions', () => {
  it('drops the condition of the MT models only, and weights only their heads', () => {
    const config = presetConfig('cpu');
    expect(trainerOptions('baseSeg', config)).toEqual({ conditionDropout: 0 });
    expect(trainerOptions('baseDay', config)).toEqual({ conditionDropout: 0 });
    expect(trainerOptions('mtSeg', config)).toEqual({ conditionDropout: config.conditionDropout.seg, headWeights: { map: 1 } });
    expect(trainerOptions('mtDay', config)).toEqual({ conditionDropout: config.conditionDropout.day, headWeights: { night: 1 } });
  });
});

describe('trainBatch', () => {
  it('shapes z_0 and the modality as [B, S, S, 3] under the modality name; the caller owns them (no leak after dispose)', async () => {
    const z0 = Float32Array.from({ length: 2 * 4 * 4 * 3 }, (_, k) => k / 100);
    const other = z0.map((v) => -v);
    await expectNoLeak(async () => {
      const batch = trainBatch(MODEL_SPECS.baseSeg, z0, other, 2, 4);
      try {
        expect(batch.z0.shape).toEqual([2, 4, 4, 3]);
        expect(Object.keys(batch.values)).toEqual(['scene']);
        expect(Array.from(await batch.values['scene']!.data())).toEqual(Array.from(other));
        expect(Array.from(await batch.z0.data())).toEqual(Array.from(z0));
      } finally {
        tf.dispose([batch.z0, ...Object.values(batch.values)]);
      }
    });
  });

  it('names the bad argument', () => {
    expect(() => trainBatch(MODEL_SPECS.mtDay, new Float32Array(5), new Float32Array(5), 1, 2)).toThrow(/trainBatch: z0 and other must hold B \* size \* size \* 3 = 12 values each, got 5 and 5/);
  });
});
