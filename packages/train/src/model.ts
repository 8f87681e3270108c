import type * as tf from '@tensorflow/tfjs';
import type { DiffusionModel, ModelInput, ModelOutput } from '@mtd/sampler';
import { typeFail } from '@mtd/errors';
import { checkNamedVariables, type NamedVariable } from './variables.js';

/**
 * What a training forward receives: the sampler's `ModelInput` plus what only training has.
 *
 * `known` holds the modalities the model may read through its conditioning path, in the
 * sampler's canonical form (gaussian data; categorical float32 probabilities `[B, K]`). In a
 * training batch each example drops each condition independently (classifier-free-guidance
 * style, `conditionDropout`), so a known tensor comes with a per-example presence mask: float32
 * `[B]` of 0/1, 0 = treat this example's value as unknown (the null condition). A known modality
 * without a mask is present in every example; `undefined`/absent is unknown in every example
 * (what the sampler passes for the null condition).
 */
export interface TrainInput extends ModelInput {
  readonly present?: Readonly<Record<string, tf.Tensor1D | undefined>>;
  /** True in a training step (enables dropout). */
  readonly training?: boolean;
  /** Seed of this call's randomness (dropout masks), drawn from the trainer's stream so resume is exact. */
  readonly seed?: number;
}

/**
 * A backbone + heads composite the trainer can train and the sampler can run.
 *
 * - `variables`: every trainable variable, with stable unique names (checkpoint keys).
 * - `forward(input)`: `{ eps, heads }` exactly as the sampler's `DiffusionModel`, with the
 *   training extras of `TrainInput`. Synchronous, must not dispose its inputs, treats examples
 *   independently (no batch statistics), and, for conditional generation, reads `known` (and
 *   `present`) through a conditioning path: putting a known modality into `A_t` alone does not
 *   make the chain conditional (see @mtd/sampler's README).
 */
export interface TrainableModel {
  readonly variables: readonly NamedVariable[];
  forward(input: TrainInput): ModelOutput;
  /** Frees the model's variables. */
  dispose?(): void;
}

/** Checks that `model` meets the `TrainableModel` interface. */
export function checkTrainableModel(where: string, arg: string, model: unknown): TrainableModel {
  if (model === null || typeof model !== 'object') typeFail(where, arg, 'a TrainableModel { variables, forward }', model);
  const m = model as Partial<TrainableModel>;
  if (typeof m.forward !== 'function') typeFail(where, `${arg}.forward`, 'a function', m.forward);
  checkNamedVariables(where, `${arg}.variables`, m.variables);
  return model as TrainableModel;
}

/** The sampler's view of a trainable model (inference: no dropout, every known value present). */
export function asDiffusionModel(model: TrainableModel): DiffusionModel {
  checkTrainableModel('asDiffusionModel', 'model', model);
  return (input) => model.forward({ zt: input.zt, t: input.t, known: input.known });
}
