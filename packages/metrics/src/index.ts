// Feature-based generation metrics (bare numbers on feature rows).
export type { FeatureRows } from './check.js';
export { gaussianFit, type GaussianFit } from './gaussian.js';
export { frechetDistance, fid, type CovarianceInput } from './frechet.js';
export { inceptionScore, type InceptionScore, type InceptionScoreOptions } from './inception-score.js';
export { precisionRecall, type PrecisionRecall, type PrecisionRecallOptions } from './precision-recall.js';
export { kid, type Kid, type KidOptions } from './kid.js';

// Feature extractors and labelled results.
export {
  collectFeatures,
  tensorToRows,
  type FeatureExtractor,
  type ExtractedFeatures,
  type FeatureSet,
  type ImageSource,
  type CollectOptions,
} from './extractor.js';
export {
  generationMetrics,
  metricLabel,
  type GenerationMetrics,
  type GenerationMetricsOptions,
  type GenerationMetricName,
  type MetricResult,
} from './generation.js';
export {
  fmnistFeatures,
  defaultFmnistWeightsPath,
  FMNIST_FEATURES_NAME,
  type FmnistFeatureExtractor,
  type FmnistFeaturesOptions,
} from './fmnist-features.js';

// Classification and segmentation.
export { topKAccuracy, classificationAccuracy, type ClassificationAccuracy } from './classification.js';
export {
  ConfusionMatrix,
  segmentationMetrics,
  type SegmentationMetrics,
  type ConfusionMatrixOptions,
} from './segmentation.js';

// Image distances.
export type { ImageInput, PlainImages, PerImage } from './images.js';
export { psnr, type Psnr, type PsnrOptions } from './psnr.js';
export { ssim, type SsimOptions } from './ssim.js';
export { maskedDistance, type MaskedDistance, type MaskedDistanceOptions } from './masked.js';
