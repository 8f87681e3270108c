/**
 * @mtd/aggregation: the forward process of MT-Diffusion (MATH.md 2, 5, 7). Modalities are encoded
 * into the diffusion space and added into the chain with per-modality weight schedules; this
 * package gives the lambdas, the marginal, the posterior and its noise form, as tfjs tensors
 * (batched, one timestep per example) and as a float64 reference on plain arrays.
 */
export { identityEncoder, frozenEncoder, type Encoder } from './encoders.js';
export {
  constantWeight,
  linearWeight,
  weightFromFn,
  sqrtAlphaBarWeight,
  isWeightSchedule,
  type WeightSchedule,
  type WeightForm,
  type WeightKind,
  type WeightOptions,
} from './weights.js';
export {
  lambdas,
  lambdasWithZero,
  endpointReport,
  endpointOffset,
  type EndpointReport,
  type EndpointModality,
} from './lambdas.js';
export type { AggregationArgs } from './prepare.js';
export type { Timesteps } from './validate.js';
export { aggregate, type AggregateArgs, type AggregateResult } from './aggregate.js';
export { qSample, type QSampleArgs } from './qsample.js';
export {
  posteriorMeanVariance,
  predictZ0FromEps,
  posteriorMeanFromEps,
  type PosteriorArgs,
  type PosteriorResult,
  type FromEpsArgs,
} from './posterior.js';
export {
  reference,
  type ReferenceArgs,
  type WeightInput,
  type Vec,
  type Matrix,
  type Aggregation,
  type Gaussian,
  type ConditioningArgs,
} from './reference.js';
