import * as tf from '@tensorflow/tfjs';
import { expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { forwardDemo } from './forward-demo.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('forwardDemo', () => {
  it('its z_t samples match the closed-form marginal (MATH.md 2)', async () => {
    const report = await forwardDemo({ schedule: 'linear', T: 200, samples: 300, seed: 3 });
    expect(report.rows.map((r) => r.t)).toEqual([1, 50, 100, 150, 200]);
    for (const row of report.rows) {
      // 64 pixels, each mean within 4.5 standard errors (a false alarm has probability < 1e-3).
      expect(row.meanErrorSE).toBeLessThan(4.5);
      // The pixel-averaged variance ratio has a standard error of about sqrt(2 / 299 / 64) ~ 0.01.
      expect(Math.abs(row.varianceRatio - 1)).toBeLessThan(0.06);
    }
    // MATH.md 7: w_t = c sqrt(alphaBar_t) gives lambda_T = c T sqrt(alphaBar_T) exactly.
    const last = report.rows.at(-1)!;
    expect(report.lambdaT[1]).toBeCloseTo(0.004 * 200 * Math.sqrt(last.alphaBar), 14);
    expect(report.text).toContain('lambda_T per modality');
  });

  it('is reproducible from its seed and leaks no tensors', async () => {
    const a = await forwardDemo({ T: 20, samples: 10, seed: 9 });
    const b = await forwardDemo({ T: 20, samples: 10, seed: 9 });
    expect(a.rows).toEqual(b.rows);
    await expectNoLeak(() => forwardDemo({ T: 20, samples: 10, seed: 1 }));
  });

  it('rejects bad options', async () => {
    await expect(forwardDemo({ schedule: 'quadratic' as never })).rejects.toThrow(/schedule must be 'linear' or 'cosine'/);
    await expect(forwardDemo({ samples: 1 })).rejects.toThrow(/samples must be an integer >= 2, got 1/);
  });
});
