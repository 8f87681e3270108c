import { createRng } from '@mtd/random';
import { describe, expect, it } from 'vitest';
import type { FeatureSet } from './extractor.js';
import { fid } from './frechet.js';
import { generationMetrics, metricLabel } from './generation.js';
import { inceptionScore } from './inception-score.js';
import { kid } from './kid.js';
import { precisionRecall } from './precision-recall.js';

const rng = createRng(41);
const rows = (n: number, d: number, mu: number): Float64Array[] =>
  Array.from({ length: n }, () => Float64Array.from({ length: d }, () => mu + rng.normal()));

function set(extractor: string, n: number, mu: number, heads = true): FeatureSet {
  return {
    extractor,
    count: n,
    features: rows(n, 4, mu),
    ...(heads ? { logits: rows(n, 5, 0).map((r) => r.map((x) => 3 * x)), spatial: rows(n, 6, mu) } : {}),
  };
}

describe('generationMetrics', () => {
  const real = set('fmnist features', 60, 0);
  const generated = set('fmnist features', 50, 0.4);
  const options = { kid: { subsets: 5, subsetSize: 30, seed: 3 }, inceptionScore: { splits: 2 } };

  it('labels every result with the extractor, and the values are the bare metrics', () => {
    const m = generationMetrics(real, generated, options);
    expect(m.extractor).toBe('fmnist features');
    expect(m.fid!.label).toBe('FID (fmnist features)');
    expect(m.all.map((r) => r.label)).toEqual([
      'FID (fmnist features)',
      'sFID (fmnist features)',
      'IS (fmnist features)',
      'IS (fmnist features), real images',
      'Precision (fmnist features)',
      'Recall (fmnist features)',
      'KID (fmnist features)',
    ]);
    for (const r of m.all) {
      expect(r.extractor).toBe('fmnist features');
      expect(r.samples).toEqual({ real: 60, generated: 50 });
    }
    expect(m.fid!.value).toBe(fid(real.features, generated.features));
    expect(m.sfid!.value).toBe(fid(real.spatial!, generated.spatial!));
    const is = inceptionScore(generated.logits!, { splits: 2 });
    expect([m.inceptionScore!.value, m.inceptionScore!.std]).toEqual([is.mean, is.std]);
    expect(m.realInceptionScore!.value).toBe(inceptionScore(real.logits!, { splits: 2 }).mean);
    const pr = precisionRecall(real.features, generated.features);
    expect([m.precision!.value, m.recall!.value]).toEqual([pr.precision, pr.recall]);
    const k = kid(real.features, generated.features, options.kid);
    expect([m.kid!.value, m.kid!.std]).toEqual([k.mean, k.std]);
    expect(metricLabel('FID', 'x')).toBe('FID (x)');
  });

  it('computes only what is asked, and skips heads a set lacks unless asked for', () => {
    const only = generationMetrics(real, generated, { metrics: ['FID', 'Recall'] });
    expect(only.all.map((r) => r.metric)).toEqual(['FID', 'Recall']);
    const bare = generationMetrics(set('toy', 20, 0, false), set('toy', 20, 1, false), { kid: { subsets: 2 } });
    expect(bare.all.map((r) => r.metric)).toEqual(['FID', 'Precision', 'Recall', 'KID']);
  });

  it('refuses features from different extractors, missing heads asked for, unknown metrics', () => {
    expect(() => generationMetrics(real, set('other', 10, 0))).toThrow(
      /real and generated must come from the same feature extractor, got "fmnist features" and "other"/,
    );
    const bare = set('toy', 10, 0, false);
    expect(() => generationMetrics(bare, bare, { metrics: ['sFID'] })).toThrow(/sFID needs spatial features/);
    expect(() => generationMetrics(bare, bare, { metrics: ['IS'] })).toThrow(/IS needs logits/);
    expect(() => generationMetrics(real, generated, { metrics: ['LPIPS' as never] })).toThrow(/options.metrics must be a list of/);
    expect(() => generationMetrics(null as never, generated)).toThrow(/real must be a FeatureSet/);
  });
});
