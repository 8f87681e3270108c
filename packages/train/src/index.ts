/**
 * @mtd/train: MT-Diffusion training (MATH.md 4, paper Algorithm 2). A `Trainer` around any
 * `TrainableModel` (a backbone + heads composite that is also the sampler's `DiffusionModel`),
 * with the multi-task loss, condition dropout, Adam with warm-up and clipping, EMA weights,
 * checkpoints that resume bit for bit, a JSONL log and a progress display.
 */
export type { NamedVariable } from './variables.js';
export { asDiffusionModel, checkTrainableModel, type TrainableModel, type TrainInput } from './model.js';
export { mlpModel, MlpModel, type MlpModelOptions } from './mlp-model.js';
export { Adam, ADAM_UPDATE_KERNEL, learningRateAt, type AdamOptions } from './adam.js';
export type { StateLayout } from './packing.js';
export { Ema, EMA_UPDATE_KERNEL, type EmaOptions } from './ema.js';
export { globalNorm, clipFactor, clipScale } from './clip.js';
export {
  generatorSource,
  datasetSource,
  type DataSource,
  type TrainBatch,
  type GeneratorSourceOptions,
  type DatasetSourceOptions,
} from './data.js';
export {
  Trainer,
  TrainingDivergedError,
  uniformTimesteps,
  type TrainerOptions,
  type StepResult,
  type TrainLoopOptions,
  type TrainSummary,
  type TimestepSampler,
  type ExampleWeightFn,
} from './trainer.js';
export {
  readCheckpoint,
  writeCheckpoint,
  loadModelWeights,
  checkpointFileName,
  CHECKPOINT_STATE_KEY,
  LATEST_FILE,
  type Checkpoint,
  type CheckpointState,
} from './checkpoint.js';
export { JsonlLog } from './log.js';
export { ProgressBar, formatDuration, type ProgressOptions, type ProgressStream, type ProgressUpdate } from './progress.js';
export { mtModel, MtModel, type MtModelOptions, type ConditioningPath } from './mt-model.js';
export { unetLabelEncoder, type UnetLabelEncoderOptions } from './unet-label-encoder.js';
export { unetContextEncoder, type UnetContextEncoderOptions } from './unet-context-encoder.js';
export {
  validateConfig,
  DATASET_MODALITIES,
  type ExperimentConfig,
  type DataConfig,
  type DatasetName,
  type ScheduleConfig,
  type MlpConfig,
  type UnetModelConfig,
  type ModalityConfig,
  type WeightConfig,
  type TrainConfig,
} from './config.js';
export { buildExperiment, type Experiment, type RestorationBatch } from './experiment.js';
export { tabulateCategoricalEncoders, type TabulatedModalities } from './tabulated-encoders.js';
