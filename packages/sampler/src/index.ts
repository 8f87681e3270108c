/**
 * @mtd/sampler: joint MT-Diffusion sampling (MATH.md 6, paper Algorithm 1). One entry point,
 * `sample`, for ancestral DDPM and DDIM on full or respaced timesteps, through the shifted-chain
 * identity of MATH.md 2; joint, conditional, known-z0 and restoration modes; classifier-free
 * guidance; per-example seeded noise. The model interface (`DiffusionModel`, `Modality`) is shared
 * with the trainer.
 */
export {
  modalityInput,
  checkModalityValues,
  estimateInput,
  encodeModality,
  checkModalities,
  type DiffusionModel,
  type ModelInput,
  type ModelOutput,
  type Modality,
  type GaussianModality,
  type CategoricalModality,
} from './model.js';
export {
  sample,
  type SampleOptions,
  type SampleResult,
  type SampleProgress,
  type ModalityResult,
  type GaussianResult,
  type CategoricalResult,
  type RestorationOptions,
  type GuidanceOptions,
} from './sample.js';
export {
  ddpmCoefficients,
  ddimCoefficients,
  forwardCoefficients,
  z0FormCoefficients,
  type StepCoefficients,
  type Z0FormCoefficients,
  type Variance,
} from './coefficients.js';
export { counterNormal, COUNTER_NORMAL_KERNEL } from './counter-normal.js';
export { planTimesteps, planMoves, type TimestepPlan, type TimestepOptions, type Move } from './plan.js';
