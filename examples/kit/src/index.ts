/**
 * @mtd/example-kit (private): what the paper-experiment examples share, so each example's code
 * is its experiment and nothing else.
 */
export { tupleGridPng, lossCurvePng, movingAverage, plotPoint, type GridOptions, type LossSeries, type PlotBox, type Rgb } from './png.js';
export { openImages, loadImages, loadLabels, shuffled, type ImageSet } from './images.js';
export { cosineDistances, rmsDistances, mean } from './distance.js';
export { featureImages, featuresOf } from './features.js';
export { trainVariant, parameterCount, type TrainVariantOptions, type VariantTrainConfig, type VariantTraining } from './train-variant.js';
export { generateAll, type GenerateAllOptions, type Generated } from './generate.js';
export { parseAndRun, runExample, type ExampleArgs, type ExamplePreset, type ExampleRunOptions, type RunExampleOptions } from './command.js';
export { markdownTable, machineDescription } from './markdown.js';
export { saveWeights, readWeights, assignWeights, weightsOf, WEIGHTS_FORMAT, type WeightsFile } from './weights.js';
export { exportWeights } from './export-weights.js';
