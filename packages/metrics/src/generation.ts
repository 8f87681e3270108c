import { rangeFail as fail } from '@mtd/errors';
import type { FeatureSet } from './extractor.js';
import { fid } from './frechet.js';
import { inceptionScore, type InceptionScoreOptions } from './inception-score.js';
import { kid, type KidOptions } from './kid.js';
import { precisionRecall, type PrecisionRecallOptions } from './precision-recall.js';

/** The generation metrics `generationMetrics` can compute. */
export type GenerationMetricName = 'FID' | 'sFID' | 'IS' | 'Precision' | 'Recall' | 'KID';

/**
 * One metric value with its provenance. `label` is the only way results should be printed:
 * `'FID (fmnist features)'`, never `'FID'`, since the number depends on the feature network.
 */
export interface MetricResult {
  readonly metric: GenerationMetricName;
  /** The feature extractor's name. */
  readonly extractor: string;
  /** `'<metric> (<extractor>)'`. */
  readonly label: string;
  readonly value: number;
  /** Spread over splits (IS) or subsets (KID). */
  readonly std?: number;
  /** Images behind the value: real, generated. */
  readonly samples: { readonly real: number; readonly generated: number };
}

/** The label every result carries: the metric and the network whose features it used. */
export function metricLabel(metric: string, extractor: string): string {
  return `${metric} (${extractor})`;
}

export interface GenerationMetricsOptions {
  /** Which metrics to compute; all that the feature sets allow by default. */
  metrics?: readonly GenerationMetricName[];
  inceptionScore?: InceptionScoreOptions;
  kid?: KidOptions;
  precisionRecall?: PrecisionRecallOptions;
}

export interface GenerationMetrics {
  readonly extractor: string;
  readonly fid?: MetricResult;
  readonly sfid?: MetricResult;
  /** Inception-style score of the generated images. */
  readonly inceptionScore?: MetricResult;
  /** The same score of the real images: the ceiling to read the generated one against. */
  readonly realInceptionScore?: MetricResult;
  readonly precision?: MetricResult;
  readonly recall?: MetricResult;
  readonly kid?: MetricResult;
  /** Every result above, in that order, for tables. */
  readonly all: readonly MetricResult[];
}

const ALL: readonly GenerationMetricName[] = ['FID', 'sFID', 'IS', 'Precision', 'Recall', 'KID'];

/**
 * FID, sFID, Inception-style score, improved precision/recall and KID of `generated` against
 * `real`, both collected with the same extractor (`collectFeatures`). Each result is labelled with
 * the extractor's name. sFID needs spatial features and IS needs logits; when a feature set lacks
 * them those metrics are skipped unless asked for explicitly (then it is an error).
 */
export function generationMetrics(
  real: FeatureSet,
  generated: FeatureSet,
  options: GenerationMetricsOptions = {},
): GenerationMetrics {
  const where = 'generationMetrics';
  checkSet(where, 'real', real);
  checkSet(where, 'generated', generated);
  if (real.extractor !== generated.extractor) {
    throw new RangeError(
      `${where}: real and generated must come from the same feature extractor, got "${real.extractor}" and "${generated.extractor}"`,
    );
  }
  const explicit = options.metrics !== undefined;
  const wanted = new Set(options.metrics ?? ALL);
  for (const m of wanted) if (!ALL.includes(m)) fail(where, 'options.metrics', `a list of ${ALL.join(', ')}`, m);
  const extractor = real.extractor;
  const samples = { real: real.count, generated: generated.count };
  const result = (metric: GenerationMetricName, value: number, std?: number): MetricResult => ({
    metric,
    extractor,
    label: metricLabel(metric, extractor),
    value,
    ...(std === undefined ? {} : { std }),
    samples,
  });
  const hasSpatial = real.spatial !== undefined && generated.spatial !== undefined;
  const hasLogits = generated.logits !== undefined;
  if (explicit && wanted.has('sFID') && !hasSpatial) {
    throw new RangeError(`${where}: sFID needs spatial features in both sets; extractor "${extractor}" gave none`);
  }
  if (explicit && wanted.has('IS') && !hasLogits) {
    throw new RangeError(`${where}: IS needs logits in the generated set; extractor "${extractor}" gave none`);
  }

  const out: { -readonly [K in keyof GenerationMetrics]?: GenerationMetrics[K] } = { extractor };
  if (wanted.has('FID')) out.fid = result('FID', fid(real.features, generated.features));
  if (wanted.has('sFID') && hasSpatial) out.sfid = result('sFID', fid(real.spatial!, generated.spatial!));
  if (wanted.has('IS') && hasLogits) {
    const s = inceptionScore(generated.logits!, options.inceptionScore);
    out.inceptionScore = result('IS', s.mean, s.std);
    if (real.logits) {
      const r = inceptionScore(real.logits, options.inceptionScore);
      out.realInceptionScore = { ...result('IS', r.mean, r.std), label: `${metricLabel('IS', extractor)}, real images` };
    }
  }
  if (wanted.has('Precision') || wanted.has('Recall')) {
    const pr = precisionRecall(real.features, generated.features, options.precisionRecall);
    if (wanted.has('Precision')) out.precision = result('Precision', pr.precision);
    if (wanted.has('Recall')) out.recall = result('Recall', pr.recall);
  }
  if (wanted.has('KID')) {
    const k = kid(real.features, generated.features, options.kid);
    out.kid = result('KID', k.mean, k.std);
  }
  const all = [out.fid, out.sfid, out.inceptionScore, out.realInceptionScore, out.precision, out.recall, out.kid].filter(
    (r): r is MetricResult => r !== undefined,
  );
  return { ...out, extractor, all } as GenerationMetrics;
}

function checkSet(where: string, arg: string, set: FeatureSet): void {
  if (set === null || typeof set !== 'object' || typeof set.extractor !== 'string' || !Array.isArray(set.features)) {
    throw new TypeError(`${where}: ${arg} must be a FeatureSet from collectFeatures, got ${set === null ? 'null' : typeof set}`);
  }
}
