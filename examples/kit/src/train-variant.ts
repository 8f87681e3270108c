import { join } from 'node:path';
import type { Rng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';
import { generatorSource, Trainer, type StepResult, type TrainableModel, type TrainBatch, type TrainerOptions } from '@mtd/train';

/** The optimisation settings every example preset spells out. */
export interface VariantTrainConfig {
  seed: number;
  steps: number;
  batchSize: number;
  lr: number;
  warmupSteps: number;
  clipGradNorm: number;
  /** EMA decay; the EMA weights are what the model holds after training. */
  ema: number;
  checkpointEvery: number;
}

export interface TrainVariantOptions {
  /** Shown in the progress lines. */
  label: string;
  model: TrainableModel;
  modalities: readonly Modality[];
  schedule: Schedule;
  /** One batch of `B` examples from `rng` (the data stream is seeded from `config.seed`). */
  draw: (rng: Rng, B: number) => TrainBatch;
  config: VariantTrainConfig;
  /** Further Trainer options (headWeights, conditionDropout, rho, ...). */
  trainer?: Partial<Omit<TrainerOptions, 'model' | 'schedule' | 'modalities' | 'data' | 'seed' | 'optimizer' | 'ema'>>;
  /** Checkpoints go to `dir/checkpoints`, the JSONL log to `dir/log.jsonl`. */
  dir: string;
  progress?: 'auto' | 'bar' | 'lines' | 'off';
  /** Stored in the checkpoints beside the trainer's own state. */
  runConfig?: Record<string, unknown>;
  log?: (line: string) => void;
  /** Called after every step (after the losses are recorded), e.g. to evaluate a head during training. */
  onStep?: (result: StepResult) => void | Promise<void>;
}

export interface VariantTraining {
  losses: { loss: number[]; noise: number[] };
  steps: number;
  seconds: number;
  finalLoss: number;
  finalNoiseLoss: number;
}

/**
 * Trains one model of an example (Algorithm 2 through `@mtd/train`), with the learning rate
 * decaying to a tenth over the run, then copies the EMA weights into the model (what sampling
 * uses) and frees the trainer. Two variants given the same `config` and `draw` see the same data
 * stream and timesteps, so their losses compare step for step.
 */
export async function trainVariant(options: TrainVariantOptions): Promise<VariantTraining> {
  const { config } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  log(`training ${options.label} (${parameterCount(options.model)} parameters), ${config.steps} steps at batch ${config.batchSize}`);
  const trainer = new Trainer({
    rho: 0.1,
    ...options.trainer,
    model: options.model,
    schedule: options.schedule,
    modalities: options.modalities,
    data: generatorSource({ batchSize: config.batchSize, seed: config.seed + 11, draw: options.draw }),
    seed: config.seed + 13,
    optimizer: { lr: config.lr, warmupSteps: config.warmupSteps, decaySteps: config.steps, finalFraction: 0.1, clipGradNorm: config.clipGradNorm },
    ema: { decay: config.ema },
    ...(options.runConfig ? { config: options.runConfig } : {}),
  });
  const losses = { loss: [] as number[], noise: [] as number[] };
  const t0 = performance.now();
  try {
    const summary = await trainer.train({
      steps: config.steps,
      checkpointDir: join(options.dir, 'checkpoints'),
      checkpointEvery: config.checkpointEvery,
      keepCheckpoints: 1,
      logPath: join(options.dir, 'log.jsonl'),
      progress: options.progress ?? 'lines',
      progressEvery: Math.max(1, Math.round(config.steps / 10)),
      onStep: async (r: StepResult) => {
        losses.loss.push(r.loss);
        losses.noise.push(r.noise);
        await options.onStep?.(r);
      },
    });
    trainer.ema?.copyToModel();
    return {
      losses,
      steps: summary.step,
      seconds: (performance.now() - t0) / 1000,
      finalLoss: summary.loss,
      finalNoiseLoss: losses.noise[losses.noise.length - 1] ?? Number.NaN,
    };
  } finally {
    trainer.dispose();
  }
}

/** Trainable parameters of a model (the sum of its variables' sizes). */
export function parameterCount(model: TrainableModel): number {
  return model.variables.reduce((sum, v) => sum + v.variable.size, 0);
}
