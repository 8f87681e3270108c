import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { saveSafetensors, type SafeTensor } from '@mtd/io';
import type { Rng } from '@mtd/random';
import type { Modality } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';
import { trainVariant } from '@mtd/example-kit';
import { Adam, clipFactor, Ema, generatorSource, globalNorm, JsonlLog, type StepResult, type TrainableModel, type TrainBatch, type TrainerOptions } from '@mtd/train';
import type { RunConfig } from './config.js';
import type { Classifier } from './model.js';

/** One point of the accuracy-vs-training-step curve (the Figure 6 stand-in). */
export interface CurvePoint {
  step: number;
  top1: number;
  top5: number;
}

export interface Training {
  /** Per step: the total loss, the noise term (diffusion models) and the label cross-entropy (when there is one). */
  losses: { loss: number[]; noise: number[]; label: number[] };
  steps: number;
  seconds: number;
  finalLoss: number;
  /** Accuracy of the label head / classifier on held-out images during training (live, non-EMA weights). */
  curve: CurvePoint[];
}

interface Common {
  label: string;
  /** One batch of `B` examples from `rng`; every model gets the same stream (seeded from `config.train` and `config.seed`). */
  draw: (rng: Rng, B: number) => TrainBatch;
  config: RunConfig;
  /** Checkpoints / weights and `log.jsonl` go here. */
  dir: string;
  /** Evaluated `curvePoints` times at evenly spaced steps (the last one included), when given. */
  evaluate?: () => Promise<{ top1: number; top5: number }>;
  progress?: 'auto' | 'bar' | 'lines' | 'off';
  log?: (line: string) => void;
}

/** The steps at which the curve is evaluated: `points` evenly spaced, ending at `steps`. */
export function curveSteps(steps: number, points: number): number[] {
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`curveSteps: steps must be an integer >= 1, got ${String(steps)}`);
  if (!Number.isInteger(points) || points < 1) throw new RangeError(`curveSteps: points must be an integer >= 1, got ${String(points)}`);
  return [...new Set(Array.from({ length: points }, (_, i) => Math.max(1, Math.round(((i + 1) * steps) / points))))];
}

const dataSeed = (config: RunConfig) => config.seed + 11;
const optimizerOf = (config: RunConfig) => {
  const t = config.train;
  return { lr: t.lr, warmupSteps: t.warmupSteps, decaySteps: t.steps, finalFraction: 0.1 };
};

/**
 * Trains one diffusion model with the example kit's `trainVariant` (same data stream and seeds for
 * every model, learning rate decaying to a tenth, EMA copied into the model at the end), recording
 * the label cross-entropy and the accuracy curve of the label head on the way.
 */
export async function trainDiffusion(
  options: Common & { model: TrainableModel; modalities: readonly Modality[]; schedule: Schedule; trainer?: Partial<TrainerOptions> },
): Promise<Training> {
  const { config } = options;
  const t = config.train;
  const label: number[] = [];
  const curve: CurvePoint[] = [];
  const at = new Set(options.evaluate ? curveSteps(t.steps, config.classify.curvePoints) : []);
  const run = await trainVariant({
    label: options.label,
    model: options.model,
    modalities: options.modalities,
    schedule: options.schedule,
    draw: options.draw,
    config: { seed: config.seed, steps: t.steps, batchSize: t.batchSize, lr: t.lr, warmupSteps: t.warmupSteps, clipGradNorm: t.clipGradNorm, ema: t.ema, checkpointEvery: t.checkpointEvery },
    ...(options.trainer ? { trainer: options.trainer } : {}),
    dir: options.dir,
    ...(options.progress ? { progress: options.progress } : {}),
    runConfig: { ...config, model: options.label } as unknown as Record<string, unknown>,
    ...(options.log ? { log: options.log } : {}),
    onStep: async (r: StepResult) => {
      if (r.terms['label'] !== undefined) label.push(r.terms['label']);
      if (at.has(r.step)) curve.push({ step: r.step, ...(await options.evaluate!()) });
    },
  });
  return { losses: { ...run.losses, label }, steps: run.steps, seconds: run.seconds, finalLoss: run.finalLoss, curve };
}

/**
 * Trains a supervised classifier with cross-entropy alone on clean images: the same data stream,
 * batch size, Adam schedule, gradient clipping and EMA as the diffusion models, so the comparison
 * is at equal steps and examples. Writes `log.jsonl` and the final (EMA) weights as
 * `model.safetensors` into `dir`.
 */
export async function trainClassifier(options: Common & { classifier: Classifier }): Promise<Training> {
  const { config, classifier } = options;
  const t = config.train;
  const log = options.log ?? ((line: string) => console.log(line));
  log(`training ${options.label} (${classifier.pathParameters} parameters on the path to the logits), ${t.steps} steps at batch ${t.batchSize}`);
  const data = generatorSource({ batchSize: t.batchSize, seed: dataSeed(config), draw: options.draw });
  const adam = new Adam(classifier.variables, optimizerOf(config));
  const ema = new Ema(classifier.variables, { decay: t.ema });
  const jsonl = new JsonlLog(join(options.dir, 'log.jsonl'));
  const losses: Training['losses'] = { loss: [], noise: [], label: [] };
  const curve: CurvePoint[] = [];
  const at = new Set(options.evaluate ? curveSteps(t.steps, config.classify.curvePoints) : []);
  const every = Math.max(1, Math.round(t.steps / 10));
  const t0 = performance.now();
  try {
    for (let step = 1; step <= t.steps; step++) {
      const batch = data.next();
      const labels = batch.values['label'];
      try {
        if (!labels) throw new TypeError('trainClassifier: draw must give values.label (int32 class ids)');
        const { value, grads } = tf.variableGrads(
          () =>
            tf.tidy(() => {
              const logits = classifier.logits(batch.z0 as tf.Tensor4D);
              return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.cast(labels, 'int32') as tf.Tensor1D, config.classes), logits) as tf.Scalar;
            }),
          classifier.variables.map((v) => v.variable),
        );
        const named: Record<string, tf.Tensor> = {};
        for (const { name, variable } of classifier.variables) {
          const g = grads[variable.name];
          if (g !== undefined) named[name] = g;
        }
        const norm = tf.tidy(() => globalNorm(Object.values(named)));
        const [loss, gradNorm] = [(await value.data())[0]!, (await norm.data())[0]!];
        tf.dispose([value, norm]);
        try {
          if (!Number.isFinite(loss) || !Number.isFinite(gradNorm)) throw new Error(`${options.label}: training diverged at step ${step} (loss ${loss}, gradient norm ${gradNorm})`);
          adam.apply(named, clipFactor(gradNorm, t.clipGradNorm));
          ema.update();
        } finally {
          tf.dispose(grads);
        }
        losses.loss.push(loss);
        losses.label.push(loss);
        await jsonl.append({ step, loss, gradNorm, lr: adam.learningRate(step), seconds: Math.round((performance.now() - t0) / 10) / 100 });
        if (options.progress !== 'off' && (step % every === 0 || step === t.steps)) log(`  ${options.label}: step ${step}/${t.steps}, loss ${loss.toFixed(4)}`);
        if (at.has(step)) curve.push({ step, ...(await options.evaluate!()) });
      } finally {
        tf.dispose([batch.z0, ...Object.values(batch.values)]);
      }
    }
    ema.copyToModel();
    const tensors: Record<string, SafeTensor> = {};
    for (const { name, variable } of classifier.variables) tensors[name] = { dtype: 'F32', shape: variable.shape, data: (await variable.data()) as Float32Array };
    await saveSafetensors(join(options.dir, 'model.safetensors'), tensors, { model: options.label, steps: String(t.steps) });
    return { losses, steps: t.steps, seconds: (performance.now() - t0) / 1000, finalLoss: losses.loss[losses.loss.length - 1] ?? Number.NaN, curve };
  } finally {
    adam.dispose();
    ema.dispose();
  }
}
