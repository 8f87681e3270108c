import * as tf from '@tensorflow/tfjs';
import { qSample, type WeightSchedule } from '@mtd/aggregation';
import { multiTaskLoss, type HeadLossTerm } from '@mtd/losses';
import { createRng, restoreRng, type Rng } from '@mtd/random';
import { checkModalities, counterNormal, encodeModality, modalityInput, type Modality } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';
import { Adam, type AdamOptions } from './adam.js';
import {
  readCheckpoint,
  slotsOf,
  toSafeTensor,
  writeCheckpoint,
  float32Of,
  type Checkpoint,
  type CheckpointState,
} from './checkpoint.js';
import { clipFactor, clipScale, globalNorm } from './clip.js';
import type { DataSource, TrainBatch } from './data.js';
import { Ema, type EmaOptions } from './ema.js';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkInt, checkNumber, gotShape } from './errors.js';
import { JsonlLog } from './log.js';
import { checkTrainableModel, type TrainableModel } from './model.js';
import { ProgressBar, type ProgressOptions, type ProgressStream } from './progress.js';
import type { SafeTensor } from '@mtd/io';
import { StepGraph, StepGraphError, startStepRecording, type StepRecording } from '@mtd/backend';

/**
 * Draws the timesteps of one batch (1-based, in `1..T`) from the trainer's stream. Return
 * `weights` for importance sampling: the per-example factors `1 / (T p(t))` that keep the loss
 * unbiased; they multiply every term of the example's loss.
 */
export type TimestepSampler = (rng: Rng, batchSize: number, schedule: Schedule) => { t: Int32Array; weights?: Float32Array };

/** Per-example weights of the noise term from the timesteps (e.g. Min-SNR-gamma). */
export type ExampleWeightFn = (t: Int32Array, schedule: Schedule) => Float32Array;

/** `t ~ Uniform{1..T}` (MATH.md 4), one draw per example. */
export const uniformTimesteps: TimestepSampler = (rng, batchSize, schedule) => ({
  t: Int32Array.from({ length: batchSize }, () => 1 + rng.int(schedule.T)),
});

export interface TrainerOptions {
  model: TrainableModel;
  /** The noise schedule (MATH.md 1). */
  schedule: Schedule;
  /** Every modality: its encoder and weight schedule define the forward process (MATH.md 2). */
  modalities: readonly Modality[];
  data: DataSource;
  /** Seeds the trainer's stream: timesteps, condition dropout, noise, dropout seeds. */
  seed: number;
  /** Adam, warm-up, and global gradient-norm clipping (`clipGradNorm`, none unless given). */
  optimizer: AdamOptions & { clipGradNorm?: number };
  /** EMA of the weights; default `{ decay: 0.999 }` (with warm-up); `false` for none. */
  ema?: EmaOptions | false;
  /** `rho` of MATH.md 4; default 0.1 (the paper's). */
  rho?: number;
  /** `w_i` of each head's term, by modality name; default 1. */
  headWeights?: Readonly<Record<string, number>>;
  /**
   * Probability that an example's modality is NOT passed to the model's conditioning path (the
   * null condition, classifier-free-guidance style), independently per example and modality;
   * one number for all or one per modality name; default 0.5. With 1 the model never sees the
   * modality (a purely joint model of it); with 0 always (a purely conditional one). The forward
   * process (`A_t` in `z_t`) always uses every modality: the data are all known in training.
   */
  conditionDropout?: number | Readonly<Record<string, number>>;
  /**
   * Whether a head is also trained on the examples whose modality the model was given (where it
   * could copy its input); default false: each head's loss counts only the examples where its
   * modality was dropped, which is where the sampler uses the head.
   */
  headLossOnKnown?: boolean;
  /** Default `uniformTimesteps`. */
  timestepSampler?: TimestepSampler;
  /** Per-example weights of the noise term (Min-SNR and the like); default none. */
  exampleWeights?: ExampleWeightFn;
  /** The experiment config (JSON), stored in every checkpoint. */
  config?: unknown;
  /**
   * `'auto'` (default): on the webgpu backend, the GPU commands of two consecutive steps are
   * recorded and, when they are the same, later steps replay them (`StepGraph`, @mtd/backend)
   * without running the step's code: the host's work per step falls from recording ~960 GPU
   * programs to one command buffer (issue 7). The results are the same bit for bit. The trainer
   * records again after its variables were assigned (`restore`), and runs every step the usual way
   * when a step cannot be replayed (`graphStatus` says why: e.g. a model whose dropout draws on the
   * host). `train` overlaps replayed steps by default (see `TrainLoopOptions.overlapSteps`).
   * `'off'`: never. Other backends: never.
   */
  stepGraph?: 'auto' | 'off';
}

/** Whether the trainer replays its steps from a recording (`TrainerOptions.stepGraph`). */
export interface StepGraphStatus {
  state: 'off' | 'recording' | 'replaying' | 'unavailable';
  /** Why it is not replaying (yet), if it is not. */
  reason?: string;
  /** GPU commands a replayed step issues, when replaying. */
  commands?: number;
}

/** Consecutive pairs of recorded steps compared before the trainer gives up on a graph. */
const GRAPH_TRIES = 3;

export interface StepResult {
  /** Completed updates after this step (1-based index of this step). */
  step: number;
  /** The total loss `noise + rho sum_i w_i L_i` of this batch (before the update). */
  loss: number;
  /** The noise term. */
  noise: number;
  /** Each head's `L_i`. */
  terms: Record<string, number>;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The factor the gradients were multiplied by (1 = not clipped). */
  clip: number;
  /** Learning rate of this update (after warm-up). */
  lr: number;
  /** Examples in the batch. */
  examples: number;
}

/** The loss or the gradient norm of a step turned NaN or infinite; nothing was updated. */
export class TrainingDivergedError extends Error {
  constructor(
    readonly step: number,
    readonly quantity: 'loss' | 'gradient norm',
    readonly value: number,
    readonly lastCheckpoint?: string,
  ) {
    super(
      `training diverged at step ${step}: the ${quantity} is ${Number.isNaN(value) ? 'NaN' : String(value)}; ` +
        `the weights were not updated with it` +
        (lastCheckpoint !== undefined ? `; the last good checkpoint is ${lastCheckpoint}` : '; no checkpoint was written yet'),
    );
    this.name = 'TrainingDivergedError';
  }
}

export interface TrainLoopOptions {
  /** Train until this many updates are complete (a total, so a resumed run uses the same number). */
  steps: number;
  /** Folder for checkpoints (none written unless given). */
  checkpointDir?: string;
  /** Updates between checkpoints; default: only at the end. */
  checkpointEvery?: number;
  /** Checkpoint files kept; default 2. */
  keepCheckpoints?: number;
  /** JSONL log file (appended). */
  logPath?: string;
  /** Steps between log lines; default 1 (every step; the last step is always logged). */
  logEvery?: number;
  /** Progress display mode; default 'auto' (bar on a TTY, lines otherwise). */
  progress?: ProgressOptions['mode'];
  progressStream?: ProgressStream;
  /** Steps between plain progress lines; default 10. */
  progressEvery?: number;
  /** Called after each step; the model holds that step's weights unless steps overlap (`overlapSteps`). */
  onStep?: (result: StepResult) => void | Promise<void>;
  /**
   * Queue step k + 1 before step k's statistics are back (their read-back is queued right behind
   * step k), so the host prepares one step while the device runs the other. The results, logs and
   * checkpoints are the same; a divergence at step k also skips step k + 1's update (every update
   * is guarded by "this step and the ones before it finite") and throws for step k; `onStep` would
   * see step k + 1's weights. `true`: every step but a recorded one (`stepGraph`); `false`: none.
   * `'auto'` (default): replayed steps (`stepGraph`), when no `onStep` is given (so nothing can
   * tell): the host's part of a replayed step (drawing the batch, encoding the command buffer,
   * the read-back's latency) then hides behind the GPU's. Steps run through tfjs are not
   * overlapped by default: on an H200 (BENCHMARKS.md) a refUNet step at batch 256 ran 1,155 ->
   * 1,250 img/s overlapped with `selectBackend`'s `webgpu.submitBatchSize: 256`, but 1,155 -> 744
   * with tfjs's submit size of 15 (a pending read-back made its frequent submits slow).
   */
  overlapSteps?: boolean | 'auto';
}

/** A step recorded on the backend whose statistics are not read back yet. */
interface PendingStep {
  step: number;
  /** [loss, noise, ...head terms, gradient norm] (none for a replayed step: its values come from the graph). */
  stats?: tf.Tensor;
  /** The statistics' values, read back from the moment the step was recorded. */
  values: Promise<tf.TypedArray>;
  termNames: string[];
  lr: number;
  examples: number;
  /** This step's GPU commands, recorded to build a step graph. */
  recording?: StepRecording;
}

/** What one step takes from the host, as tensors (`tensors`: all of them, in a fixed order). */
interface StepInputs {
  B: number;
  lr: number;
  /** The model's dropout seed (a per-step host value: a model that uses it cannot be replayed). */
  seed: number;
  tensors: tf.Tensor[];
  z0: tf.Tensor;
  values: Record<string, tf.Tensor>;
  t: tf.Tensor1D;
  /** Per modality: 1 where the model is given it, 0 where dropped (undefined: always dropped). */
  present: (tf.Tensor1D | undefined)[];
  /** Per modality: its head's per-example weights (undefined: none, or no head term). */
  headWeights: (tf.Tensor1D | undefined)[];
  noiseWeights: tf.Tensor1D | undefined;
  noiseKey: tf.Tensor;
  adam: tf.Tensor1D;
  ema: tf.Tensor1D | undefined;
}

export interface TrainSummary {
  step: number;
  /** Loss of the last step run (NaN if none ran). */
  loss: number;
  /** Path of the last checkpoint written by this call. */
  checkpoint?: string;
  seconds: number;
  stepsPerSecond: number;
  examplesPerSecond: number;
}

/**
 * MT-Diffusion's training (MATH.md 4, paper Algorithm 2) around any `TrainableModel`:
 *
 * 1. a batch `(z_0, x_1..x_N)` from the data source;
 * 2. `t` from the timestep sampler, the per-example conditions to drop, `eps ~ N(0, I)`;
 * 3. `e_i = E_i(x_i)` and `z_t = sqrt(alphaBar_t) z_0 + A_t + sqrt(1 - alphaBar_t) eps` (qSample);
 * 4. the model on `(z_t, t, known)`, and `L = ||eps - eps_theta||^2 + rho sum_i w_i L_i`
 *    (@mtd/losses: MSE for gaussian heads, cross-entropy for categorical ones);
 * 5. gradients, global-norm clipping, an Adam update with warm-up, the EMA update.
 *
 * All randomness comes from one @mtd/random stream, drawn on the host in a fixed order per step
 * (timesteps, one uniform per example and modality for the dropout, the noise's two key words,
 * one dropout seed); the noise itself is `counterNormal` of that key (@mtd/sampler), drawn on the
 * device where the backend has the kernel (webgpu), so a step uploads no noise,
 * and its state is saved in checkpoints with the data position, the Adam moments and the EMA:
 * a resumed run continues bit for bit (on the cpu backend; other backends as far as their kernels
 * are deterministic).
 */
export class Trainer {
  readonly model: TrainableModel;
  readonly schedule: Schedule;
  readonly modalities: readonly Modality[];
  readonly data: DataSource;
  readonly adam: Adam;
  readonly ema: Ema | undefined;
  readonly config: unknown;
  private readonly weights: WeightSchedule[];
  private readonly dropout: number[];
  private readonly headWeights: number[];
  private readonly rho: number;
  private readonly clipGradNorm: number | undefined;
  private readonly headLossOnKnown: boolean;
  private readonly timestepSampler: TimestepSampler;
  private readonly exampleWeights: ExampleWeightFn | undefined;
  private rng: Rng;
  private completed = 0;
  /** The step `train()` is reading back while the next one may be queued. */
  private inFlight: PendingStep | undefined;
  private lastCheckpoint: string | undefined;
  private readonly stepGraph: 'auto' | 'off';
  private graph: StepGraph | undefined;
  /** The last recorded step, waiting for the next to compare with. */
  private lastRecording: StepRecording | undefined;
  private graphTries = 0;
  private graphReason: string | undefined;
  /** The head terms the last recorded step reported (a replayed step reports the same). */
  private termNames: string[] = [];
  /**
   * Whether every step since the last divergence had a finite loss and norm (a bool scalar on the
   * device): each update is guarded by it and its own step's, and leaves it behind, so a step
   * queued behind a diverged one skips its update too, replayed or not. Reset by a divergence.
   */
  private readonly stepsFinite: tf.Variable;

  constructor(options: TrainerOptions) {
    const where = 'Trainer';
    if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { model, schedule, modalities, data, seed, optimizer }', options);
    this.model = checkTrainableModel(where, 'options.model', options.model);
    const schedule = options.schedule;
    if (schedule === null || typeof schedule !== 'object' || !Number.isInteger(schedule.T) || !(schedule.alphaBars instanceof Float64Array)) {
      typeFail(where, 'options.schedule', 'a Schedule from @mtd/schedule', schedule);
    }
    this.schedule = schedule;
    this.modalities = checkModalities(where, options.modalities);
    this.weights = this.modalities.map((m) => m.weight);
    const data = options.data;
    if (data === null || typeof data !== 'object' || typeof data.next !== 'function' || typeof data.state !== 'function' || typeof data.restore !== 'function') {
      typeFail(where, 'options.data', 'a DataSource { batchSize, next, state, restore }', data);
    }
    this.data = data;
    this.rng = createRng(checkInt(where, 'options.seed', options.seed, 0)).fork('train');
    if (options.optimizer === null || typeof options.optimizer !== 'object') typeFail(where, 'options.optimizer', 'an object { lr, ... }', options.optimizer);
    const { clipGradNorm, ...adamOptions } = options.optimizer;
    this.clipGradNorm = clipGradNorm === undefined ? undefined : checkNumber(where, 'options.optimizer.clipGradNorm', clipGradNorm, { min: 0, minOpen: true });
    this.rho = checkNumber(where, 'options.rho', options.rho ?? 0.1, { min: 0 });
    const names = this.modalities.map((m) => m.name);
    const perModality = (arg: string, value: unknown, fallback: number, range: { min: number; max?: number }): number[] => {
      if (value === undefined) return names.map(() => fallback);
      if (typeof value === 'number') return names.map(() => checkNumber(where, arg, value, range));
      if (value === null || typeof value !== 'object') typeFail(where, arg, 'a number or a record by modality name', value);
      for (const key of Object.keys(value)) if (!names.includes(key)) rangeFail(where, `${arg}`, `keyed by modality names (${names.join(', ')})`, key);
      return names.map((n) => checkNumber(where, `${arg}.${n}`, (value as Record<string, unknown>)[n] ?? fallback, range));
    };
    this.dropout = perModality('options.conditionDropout', options.conditionDropout, 0.5, { min: 0, max: 1 });
    this.headWeights = perModality('options.headWeights', options.headWeights, 1, { min: 0 });
    this.headLossOnKnown = options.headLossOnKnown ?? false;
    if (typeof this.headLossOnKnown !== 'boolean') typeFail(where, 'options.headLossOnKnown', 'a boolean', this.headLossOnKnown);
    this.timestepSampler = options.timestepSampler ?? uniformTimesteps;
    if (typeof this.timestepSampler !== 'function') typeFail(where, 'options.timestepSampler', 'a function', this.timestepSampler);
    this.exampleWeights = options.exampleWeights;
    if (this.exampleWeights !== undefined && typeof this.exampleWeights !== 'function') typeFail(where, 'options.exampleWeights', 'a function', this.exampleWeights);
    this.config = options.config ?? null;
    this.stepGraph = options.stepGraph ?? 'auto';
    if (this.stepGraph !== 'auto' && this.stepGraph !== 'off') typeFail(where, 'options.stepGraph', "'auto' or 'off'", this.stepGraph);
    this.adam = new Adam(this.model.variables, adamOptions);
    this.ema = options.ema === false ? undefined : new Ema(this.model.variables, options.ema ?? { decay: 0.999 });
    this.stepsFinite = tf.tidy(() => tf.variable(tf.scalar(true, 'bool'), false));
  }

  /** Completed optimizer updates. */
  get step(): number {
    return this.completed;
  }

  /** Whether steps are replayed from a recording, and why not when they are not. */
  get graphStatus(): StepGraphStatus {
    if (this.stepGraph === 'off') return { state: 'off', reason: "options.stepGraph is 'off'" };
    if (tf.getBackend() !== 'webgpu') return { state: 'off', reason: `the ${tf.getBackend()} backend runs every step (step graphs are for webgpu)` };
    if (this.graph?.current === true) return { state: 'replaying', commands: this.graph.commandCount };
    const reason = this.graphReason ?? 'not recorded yet';
    return this.graphTries >= GRAPH_TRIES ? { state: 'unavailable', reason } : { state: 'recording', reason };
  }

  /** Path of the last checkpoint this trainer wrote or was restored from. */
  get checkpointPath(): string | undefined {
    return this.lastCheckpoint;
  }

  /**
   * One step of Algorithm 2. Throws `TrainingDivergedError` (naming the step) if the loss or the
   * gradient norm is NaN or infinite; the update of such a step is not made (it is queued with a
   * guard, so the step needs one read-back at its end): the model, the moments, the EMA and their
   * counts keep the last good state.
   */
  async trainStep(): Promise<StepResult> {
    if (this.inFlight !== undefined) throw new Error('Trainer.trainStep: a step of train() is still in flight; await train() first');
    return this.finishStep(this.queueStep());
  }

  /**
   * Records step `completed + 1` (+1 more if one is in flight) on the backend and returns what
   * its end needs; nothing is read back. On webgpu with `stepGraph: 'auto'` the step is replayed
   * from a recording of earlier steps (also behind a step in flight), or, with nothing in
   * flight, recorded to make one.
   */
  private queueStep(): PendingStep {
    const where = 'Trainer.trainStep';
    const k = this.completed + (this.inFlight !== undefined ? 2 : 1);
    // A recording must not overlap another step (two recordings are compared buffer for buffer).
    const recordable = (mode: 'replay' | 'record' | 'none') => (mode === 'record' && this.inFlight !== undefined ? 'none' : mode);
    let graphNow = recordable(this.graphMode());
    const inputs = this.drawStep(where);
    if (graphNow === 'replay') {
      let values: Promise<tf.TypedArray[]> | undefined;
      try {
        values = this.graph!.run(inputs.tensors);
      } catch (error) {
        if (!(error instanceof StepGraphError)) {
          tf.dispose(inputs.tensors);
          throw error;
        }
        // No longer current: this step runs the usual way, recorded to make a new graph.
        this.dropGraph('recording again: a variable the graph reads or replaces was assigned, or another tensor shares its data');
        graphNow = recordable(this.graphMode());
      }
      if (values !== undefined) {
        tf.dispose(inputs.tensors);
        this.adam.advanceCount();
        this.ema?.advanceCount();
        return { step: k, values: values.then(([stats]) => stats!), termNames: this.termNames, lr: inputs.lr, examples: inputs.B };
      }
    }
    const recording = graphNow === 'record' ? this.startRecording(inputs.tensors) : undefined;
    let recorded: { stats: tf.Tensor; termNames: string[] } | undefined;
    try {
      recorded = this.recordStep(inputs);
    } finally {
      tf.dispose(inputs.tensors);
      if (recording !== undefined && recorded === undefined) recording.abandon();
    }
    const { stats, termNames } = recorded;
    recording?.finish([stats]);
    // The read-back starts now: its copy is queued right behind this step's work, so it resolves
    // when this step is done even if the next one is recorded meanwhile.
    return { step: k, stats, values: stats.data(), termNames, lr: inputs.lr, examples: inputs.B, ...(recording !== undefined ? { recording } : {}) };
  }

  /**
   * Draws everything a step takes from the host (MATH.md 4: the batch, `t`, the conditions to
   * drop, the noise key, the per-example weights, the optimizer's per-update scalars) and makes
   * them tensors: the step's inputs, the only per-step values a recorded step graph gets.
   */
  private drawStep(where: string): StepInputs {
    const batch = this.data.next();
    const tensors: tf.Tensor[] = [];
    const input = <T extends tf.Tensor>(t: T): T => {
      tensors.push(t);
      return t;
    };
    try {
      const B = this.checkBatch(where, batch);
      input(batch.z0);
      const values = Object.fromEntries(this.modalities.map((m) => [m.name, input(batch.values[m.name]!)]));
      // Values of modalities this trainer does not use (a baseline without one) go at once.
      tf.dispose(Object.values(batch.values).filter((v) => v instanceof tf.Tensor && !tensors.includes(v)));
      const { t, weights: importance } = this.drawTimesteps(where, B);
      const present = this.modalities.map((_, i) => {
        const p = this.dropout[i]!;
        return Float32Array.from({ length: B }, () => (this.rng.uniform() < p ? 0 : 1));
      });
      const noiseKey = [this.rng.nextUint32(), this.rng.nextUint32()];
      const seed = this.rng.nextUint32();
      const noiseWeights = product(importance, this.exampleWeights?.(t, this.schedule), B, 'options.exampleWeights');
      const headWeights = this.modalities.map((m, i) => {
        if (this.headWeights[i] === 0) return undefined;
        const dropped = this.headLossOnKnown || this.dropout[i]! >= 1 ? undefined : present[i]!.map((v) => 1 - v);
        const w = product(importance, dropped, B, '');
        return w === undefined ? undefined : input(tf.tensor1d(w));
      });
      return {
        B,
        lr: this.adam.nextLearningRate(),
        seed,
        tensors,
        z0: batch.z0,
        values,
        t: input(tf.tensor1d(t, 'int32')),
        present: this.modalities.map((_, i) => (this.dropout[i]! >= 1 ? undefined : input(tf.tensor1d(present[i]!)))),
        headWeights,
        noiseWeights: noiseWeights === undefined ? undefined : input(tf.tensor1d(noiseWeights)),
        noiseKey: input(tf.tensor2d(new Int32Array(Uint32Array.from(noiseKey).buffer), [1, 2], 'int32')),
        adam: input(tf.tensor1d(this.adam.nextCoefficients())),
        ema: this.ema === undefined ? undefined : input(tf.tensor1d(this.ema.nextCoefficients())),
      };
    } catch (error) {
      tf.dispose([batch?.z0, ...Object.values(batch?.values ?? {}), ...tensors].filter((x): x is tf.Tensor => x instanceof tf.Tensor));
      throw error;
    }
  }

  /**
   * The step's tensor work (MATH.md 4, steps 3-5) from its inputs alone: forward process, model,
   * multi-task loss, gradients, clipping, Adam and EMA, guarded by "loss and norm finite, this step
   * and every one since the last divergence" (`stepsFinite`). Returns the statistics `[loss, noise,
   * ...terms, norm]`; everything else it made is gone.
   */
  private recordStep(inp: StepInputs): { stats: tf.Tensor; termNames: string[] } {
    const where = 'Trainer.trainStep';
    const { B, z0 } = inp;
    const kept: tf.Tensor[] = [];
    /** The heads' terms, by modality name; `reported`: the noise term and each head's, in that order. */
    const termNames: string[] = [];
    const reported: tf.Tensor[] = [];
    let grads: tf.NamedTensorMap | undefined;
    try {
      const result = tf.variableGrads(() => {
        const eps = counterNormal(inp.noiseKey, 0, z0.shape);
        const inputs = this.modalities.map((m) => modalityInput(m, inp.values[m.name]!, B, where));
        const encodings = this.modalities.map((m, i) => encodeModality(m, inputs[i]!, z0.shape, where));
        const zt = qSample({ schedule: this.schedule, weights: this.weights, t: inp.t, z0, encodings, noise: eps });
        const known: Record<string, tf.Tensor> = {};
        const presentTensors: Record<string, tf.Tensor1D> = {};
        this.modalities.forEach((m, i) => {
          const present = inp.present[i];
          if (present === undefined) return;
          known[m.name] = inputs[i]!;
          presentTensors[m.name] = present;
        });
        const out = this.model.forward({ zt, t: inp.t, known, present: presentTensors, training: true, seed: inp.seed });
        const heads: HeadLossTerm[] = [];
        this.modalities.forEach((m, i) => {
          const prediction = out.heads[m.name];
          if (prediction === undefined || this.headWeights[i] === 0) return;
          let target = inputs[i]!;
          if (m.kind === 'gaussian' && !sameShape(target.shape, prediction.shape)) {
            if (target.size !== prediction.size) {
              rangeFail(where, `the model's head "${m.name}"`, `shaped like its data [${target.shape.join(', ')}]`, prediction);
            }
            target = tf.reshape(target, prediction.shape);
          }
          const w = inp.headWeights[i];
          heads.push({ name: m.name, kind: m.kind, target, prediction, weight: this.headWeights[i]!, ...(w !== undefined ? { exampleWeights: w } : {}) });
          termNames.push(m.name);
        });
        const loss = multiTaskLoss({
          eps,
          epsHat: out.eps,
          heads,
          rho: this.rho,
          ...(inp.noiseWeights !== undefined ? { exampleWeights: inp.noiseWeights } : {}),
        });
        reported.push(tf.keep(loss.noise), ...termNames.map((n) => tf.keep(loss.terms[n]!)));
        return loss.total;
      }, this.model.variables.map((v) => v.variable));
      grads = result.grads;
      kept.push(result.value);
      const named: Record<string, tf.Tensor> = {};
      for (const { name, variable } of this.model.variables) {
        const g = result.grads[variable.name];
        if (g !== undefined) named[name] = g;
      }
      // The whole step is queued before anything is read back: the clip factor is computed on the
      // device and the update is guarded by "loss and norm finite" (a select, so a diverged step
      // leaves the weights, moments and EMA as they were). Reading the loss back between the
      // gradients and the update stalled a GPU step at that point (issue 7).
      // With the flat layout the gradients are gathered once, for the norm and for Adam.
      const flatGrads = this.adam.flatGradients(named);
      if (flatGrads !== undefined) kept.push(flatGrads);
      const { stats, scale, guard } = tf.tidy(() => {
        const norm = globalNorm(flatGrads !== undefined ? [flatGrads] : Object.values(named), { layout: this.adam.layout });
        const finite = tf.logicalAnd(tf.isFinite(result.value), tf.isFinite(norm)).reshape([]);
        return {
          stats: tf.stack([result.value, ...reported, norm]),
          scale: clipScale(norm, this.clipGradNorm),
          guard: tf.logicalAnd(finite, this.stepsFinite),
        };
      });
      kept.push(scale);
      kept.push(guard);
      try {
        const values = this.adam.apply(named, scale, { onlyIf: guard, returnValues: this.ema?.layout === 'flat', coefficients: inp.adam, ...(flatGrads !== undefined ? { flatGradients: flatGrads } : {}) });
        if (values !== undefined) kept.push(values);
        // Both were built from the model's variables in order: the EMA takes Adam's flat result.
        this.ema?.update({ onlyIf: guard, ...(values !== undefined ? { values } : {}), ...(inp.ema !== undefined ? { coefficients: inp.ema } : {}) });
      } catch (error) {
        stats.dispose();
        throw error;
      }
      // The guard is the flag's new value, once the update is queued (a step that failed to queue
      // leaves the flag as it was); the variable is its only holder once `kept` goes.
      this.stepsFinite.assign(guard);
      // Only these outlive the recording: the rest may go (the GPU keeps what queued work reads).
      this.termNames = termNames;
      return { stats, termNames };
    } finally {
      tf.dispose([...kept, ...reported]);
      if (grads !== undefined) tf.dispose(grads);
    }
  }

  /** Reads a queued step's statistics back and completes it (or throws on divergence). */
  private async finishStep(p: PendingStep): Promise<StepResult> {
    const k = p.step;
    let good = false;
    try {
      const values = await p.values;
      const loss = values[0]!;
      const gradNorm = values[values.length - 1]!;
      if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) {
        this.adam.rewindCount();
        this.ema?.rewindCount();
        // Queued after any step behind this one (which skipped its update too): the next step
        // starts a clean chain. (A step graph is recorded again after this assignment.)
        this.resetStepsFinite();
        if (!Number.isFinite(loss)) throw new TrainingDivergedError(k, 'loss', loss, this.lastCheckpoint);
        throw new TrainingDivergedError(k, 'gradient norm', gradNorm, this.lastCheckpoint);
      }
      const clip = clipFactor(gradNorm, this.clipGradNorm);
      this.completed = k;
      const terms: Record<string, number> = {};
      p.termNames.forEach((n, i) => (terms[n] = values[2 + i]!));
      good = true;
      return { step: k, loss, noise: values[1]!, terms, gradNorm, clip, lr: p.lr, examples: p.examples };
    } finally {
      p.stats?.dispose();
      // Everything the step made is gone now: its buffers are back in tfjs's pool for the graph.
      if (p.recording !== undefined) this.recorded(p.recording, good);
    }
  }

  /** Which way the next step runs (`stepGraph`): replayed, recorded, or neither. */
  private graphMode(): 'replay' | 'record' | 'none' {
    if (this.stepGraph === 'off' || tf.getBackend() !== 'webgpu') return 'none';
    if (this.graph !== undefined) return 'replay';
    return this.graphTries < GRAPH_TRIES ? 'record' : 'none';
  }

  private resetStepsFinite(): void {
    tf.tidy(() => this.stepsFinite.assign(tf.scalar(true, 'bool')));
  }

  private startRecording(inputs: readonly tf.Tensor[]): StepRecording | undefined {
    try {
      return startStepRecording(inputs);
    } catch (error) {
      this.graphTries = GRAPH_TRIES;
      this.graphReason = error instanceof Error ? error.message : String(error);
      return undefined;
    }
  }

  /** A recorded step is complete (`good`: not diverged): build the graph from it and the one before. */
  private recorded(recording: StepRecording, good: boolean): void {
    const previous = this.lastRecording;
    this.lastRecording = undefined;
    if (!good) return;
    if (recording.invalid !== undefined) {
      this.graphTries = GRAPH_TRIES;
      this.graphReason = `the step cannot be replayed: ${recording.invalid}`;
      return;
    }
    if (previous === undefined) {
      this.lastRecording = recording;
      return;
    }
    try {
      this.graph = StepGraph.fromRecordings(previous, recording);
      this.graphReason = undefined;
    } catch (error) {
      this.graphTries += 1;
      this.graphReason = error instanceof Error ? error.message : String(error);
      if (this.graphTries < GRAPH_TRIES) this.lastRecording = recording;
    }
  }

  private dropGraph(reason: string): void {
    this.graph?.dispose();
    this.graph = undefined;
    this.lastRecording = undefined;
    this.graphTries = 0;
    this.graphReason = reason;
  }

  /** Drops a queued step whose update its guard skipped (the step before it diverged). */
  private abandonStep(p: PendingStep): void {
    this.adam.rewindCount();
    this.ema?.rewindCount();
    // Its read-back is under way: let it land (or fail) before the tensors go.
    void p.values.then(
      () => p.stats?.dispose(),
      () => p.stats?.dispose(),
    );
  }

  /**
   * Runs `trainStep` until `steps` updates are complete, with checkpoints, a JSONL log and a
   * progress display. On divergence the progress line is closed and the error rethrown; the last
   * checkpoint on disk is the last good one (a checkpoint is only written after a good step).
   */
  async train(options: TrainLoopOptions): Promise<TrainSummary> {
    const where = 'Trainer.train';
    if (options === null || typeof options !== 'object') typeFail(where, 'options', 'an object { steps, ... }', options);
    const steps = checkInt(where, 'options.steps', options.steps, 0);
    const every = options.checkpointEvery === undefined ? undefined : checkInt(where, 'options.checkpointEvery', options.checkpointEvery, 1);
    const keep = checkInt(where, 'options.keepCheckpoints', options.keepCheckpoints ?? 2, 1);
    const logEvery = checkInt(where, 'options.logEvery', options.logEvery ?? 1, 1);
    const log = options.logPath !== undefined ? new JsonlLog(options.logPath) : undefined;
    const start = this.completed;
    // After a resume the log may run past the checkpoint (a crash between the two): cut it there.
    if (log !== undefined && start > 0) await log.truncateAfter(start);
    const progress = new ProgressBar({
      total: steps,
      start,
      mode: options.progress ?? 'auto',
      ...(options.progressStream !== undefined ? { stream: options.progressStream } : {}),
      ...(options.progressEvery !== undefined ? { every: options.progressEvery } : {}),
    });
    const t0 = performance.now();
    let last: StepResult | undefined;
    let examples = 0;
    let checkpoint: string | undefined;
    // With overlap, step k + 1 is recorded before step k's statistics are read back, so the CPU
    // records one step while the GPU runs the other; a step followed by a checkpoint, and the
    // last, are finished first (a checkpoint must hold its own step's weights).
    const overlap = options.overlapSteps ?? 'auto';
    if (typeof overlap !== 'boolean' && overlap !== 'auto') typeFail(where, 'options.overlapSteps', "a boolean or 'auto'", overlap);
    // Whether the step after the one in flight may be queued now (never a recording: see queueStep).
    const overlapNext = (): boolean => {
      const mode = this.graphMode();
      if (overlap === 'auto') return mode === 'replay' && options.onStep === undefined;
      return overlap && mode !== 'record';
    };
    const checkpointAfter = (k: number) => options.checkpointDir !== undefined && ((every !== undefined && k % every === 0) || k === steps);
    try {
      let pending: PendingStep | undefined = this.completed < steps ? this.queueStep() : undefined;
      while (pending !== undefined) {
        const current: PendingStep = pending;
        this.inFlight = current;
        // A failure to record the next step (a bad batch) is reported once this step is complete,
        // as it would be without overlap.
        let next: PendingStep | undefined;
        let queueError: unknown;
        if (overlapNext() && current.step < steps && !checkpointAfter(current.step)) {
          try {
            next = this.queueStep();
          } catch (error) {
            queueError = error ?? new Error('Trainer.train: recording the next step failed');
          }
        }
        let r: StepResult;
        try {
          r = await this.finishStep(current);
        } catch (error) {
          if (next !== undefined) this.abandonStep(next);
          throw error;
        } finally {
          this.inFlight = undefined;
        }
        pending = next;
        last = r;
        examples += r.examples;
        const seconds = (performance.now() - t0) / 1000;
        progress.update({ step: r.step, loss: r.loss, examples: r.examples });
        try {
          if (log !== undefined && (r.step % logEvery === 0 || r.step === steps)) {
            await log.append({ ...r, seconds: round(seconds, 3), examplesPerSecond: round(examples / Math.max(seconds, 1e-9), 2) });
          }
          if (checkpointAfter(r.step)) {
            checkpoint = await this.saveCheckpoint(options.checkpointDir!, { keep, loss: r.loss });
          }
          await options.onStep?.(r);
        } catch (error) {
          // The queued step's update is on its way: complete it (or take it back if it diverged)
          // so the weights and the step count agree, then report this error.
          if (pending !== undefined) await this.finishStep(pending).catch(() => undefined);
          throw error;
        }
        if (queueError !== undefined) throw queueError;
        if (pending === undefined && this.completed < steps) pending = this.queueStep();
      }
    } finally {
      progress.finish();
    }
    const seconds = (performance.now() - t0) / 1000;
    const ran = this.completed - start;
    return {
      step: this.completed,
      loss: last?.loss ?? Number.NaN,
      ...(checkpoint !== undefined ? { checkpoint } : {}),
      seconds,
      stepsPerSecond: seconds > 0 ? ran / seconds : 0,
      examplesPerSecond: seconds > 0 ? examples / seconds : 0,
    };
  }

  /** Writes a checkpoint of the whole training state into `dir` (see `writeCheckpoint`). */
  async saveCheckpoint(dir: string, options: { keep?: number; loss?: number } = {}): Promise<string> {
    const tensors: Record<string, SafeTensor> = {};
    for (const { name, variable } of this.model.variables) tensors[`model/${name}`] = await toSafeTensor(variable);
    const emaSlots = this.ema?.slots() ?? {};
    const adamSlots = this.adam.slots();
    try {
      for (const [name, t] of Object.entries(emaSlots)) tensors[`ema/${name}`] = await toSafeTensor(t);
      for (const [name, t] of Object.entries(adamSlots)) tensors[`adam/${name}`] = await toSafeTensor(t);
    } finally {
      tf.dispose([...Object.values(emaSlots), ...Object.values(adamSlots)]);
    }
    const state: CheckpointState = {
      format: 'mtd.train.checkpoint',
      version: 1,
      step: this.completed,
      rng: this.rng.state(),
      data: this.data.state(),
      adam: { count: this.adam.count },
      ema: this.ema ? { count: this.ema.count } : null,
      config: this.config,
      variables: this.model.variables.map((v) => v.name),
      ...(options.loss !== undefined ? { loss: options.loss } : {}),
    };
    this.lastCheckpoint = await writeCheckpoint(dir, tensors, state, options.keep ?? 2);
    return this.lastCheckpoint;
  }

  /**
   * Continues from a checkpoint (a folder or file, or one already read): weights, Adam moments,
   * EMA, step, random stream and data position. Checks that the variables match by name and shape
   * before changing anything.
   */
  async restore(from: string | Checkpoint): Promise<void> {
    const where = 'Trainer.restore';
    const ckpt = typeof from === 'string' ? await readCheckpoint(from) : from;
    const { state, tensors } = ckpt;
    const ours = this.model.variables.map((v) => v.name);
    const missing = ours.filter((n) => !state.variables.includes(n));
    const extra = state.variables.filter((n) => !ours.includes(n));
    if (missing.length > 0 || extra.length > 0) {
      rangeFail(
        where,
        `the checkpoint's variables (${ckpt.path})`,
        'the model\'s variables',
        `${missing.length} missing (${missing.slice(0, 3).join(', ')}), ${extra.length} unexpected (${extra.slice(0, 3).join(', ')})`,
      );
    }
    if ((state.ema === null) !== (this.ema === undefined)) {
      rangeFail(where, 'the checkpoint', this.ema ? 'one with EMA weights (this trainer keeps an EMA)' : 'one without EMA weights', ckpt.path);
    }
    // Every tensor is checked before anything changes, so a bad checkpoint leaves the trainer as it was.
    const prefixes = ['model/', 'adam/m/', 'adam/v/', ...(this.ema ? ['ema/'] : [])];
    for (const { name, variable } of this.model.variables) {
      for (const prefix of prefixes) {
        const t = tensors[`${prefix}${name}`];
        if (t === undefined || t.shape.length !== variable.shape.length || t.shape.some((d, i) => d !== variable.shape[i])) {
          rangeFail(where, `the checkpoint's "${prefix}${name}"`, `a tensor [${variable.shape.join(', ')}]`, t === undefined ? undefined : gotShape(t.shape));
        }
      }
    }
    this.adam.restore(state.adam.count, slotsOf(ckpt, 'adam/'));
    if (this.ema && state.ema) this.ema.restore(state.ema.count, slotsOf(ckpt, 'ema/'));
    for (const { name, variable } of this.model.variables) {
      tf.tidy(() => variable.assign(tf.tensor(float32Of(tensors[`model/${name}`]!), variable.shape, 'float32')));
    }
    this.data.restore(state.data);
    this.rng = restoreRng(state.rng);
    this.resetStepsFinite();
    if (this.graph !== undefined || this.lastRecording !== undefined) this.dropGraph('recording again after a restore');
    this.completed = state.step;
    this.lastCheckpoint = ckpt.path;
  }

  /** Frees the optimizer and EMA state and the step graph (not the model, which the caller owns). */
  dispose(): void {
    this.dropGraph('disposed');
    this.stepsFinite.dispose();
    this.adam.dispose();
    this.ema?.dispose();
  }

  private checkBatch(where: string, batch: TrainBatch): number {
    if (batch === null || typeof batch !== 'object' || !(batch.z0 instanceof tf.Tensor)) {
      typeFail(where, 'the data source batch', 'an object { z0: tf.Tensor, values }', batch);
    }
    if (batch.z0.dtype !== 'float32' || batch.z0.rank < 2) typeFail(where, 'batch.z0', 'a float32 tensor [B, ...]', batch.z0);
    const B = batch.z0.shape[0]!;
    for (const m of this.modalities) {
      if (!(batch.values?.[m.name] instanceof tf.Tensor)) typeFail(where, `batch.values.${m.name}`, 'a tf.Tensor (every modality is known in training)', batch.values?.[m.name]);
    }
    return B;
  }

  private drawTimesteps(where: string, B: number): { t: Int32Array; weights?: Float32Array } {
    const drawn = this.timestepSampler(this.rng, B, this.schedule);
    const T = this.schedule.T;
    if (!(drawn?.t instanceof Int32Array) || drawn.t.length !== B) typeFail(where, 'timestepSampler(...).t', `an Int32Array of length ${B}`, drawn?.t);
    drawn.t.forEach((v, i) => {
      if (!(v >= 1 && v <= T)) rangeFail(where, `timestepSampler(...).t[${i}]`, `a timestep in 1..${T}`, v);
    });
    if (drawn.weights !== undefined && (!(drawn.weights instanceof Float32Array) || drawn.weights.length !== B)) {
      typeFail(where, 'timestepSampler(...).weights', `a Float32Array of length ${B}`, drawn.weights);
    }
    return drawn;
  }
}

/** Elementwise product of optional per-example weights (undefined = all ones). */
function product(a: Float32Array | undefined, b: Float32Array | undefined, B: number, arg: string): Float32Array | undefined {
  if (b !== undefined && (!(b instanceof Float32Array) || b.length !== B)) typeFail('Trainer.trainStep', arg, `a Float32Array of length ${B}`, b);
  if (a === undefined) return b;
  if (b === undefined) return a;
  return a.map((v, i) => v * b[i]!);
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
