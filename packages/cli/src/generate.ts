import * as tf from '@tensorflow/tfjs';
import { sample, type RestorationOptions, type SampleOptions } from '@mtd/sampler';
import { asDiffusionModel, buildExperiment, loadModelWeights, readCheckpoint, tabulateCategoricalEncoders, validateConfig, type Checkpoint, type Experiment } from '@mtd/train';

/** A checkpoint's experiment, rebuilt from its stored config, with its weights loaded. */
export async function loadExperiment(command: string, path: string, weights: 'ema' | 'raw'): Promise<{ exp: Experiment; ckpt: Checkpoint }> {
  let ckpt: Checkpoint;
  try {
    ckpt = await readCheckpoint(path);
  } catch (e) {
    throw new Error(`mtd ${command}: cannot read --checkpoint ${path}: ${(e as Error).message}`);
  }
  const config = validateConfig(ckpt.state.config);
  const exp = await buildExperiment(config);
  try {
    if (weights === 'ema' && ckpt.state.ema === null) throw new Error(`mtd ${command}: ${ckpt.path} holds no EMA weights (trained with ema: false); pass --weights raw`);
    loadModelWeights(exp.model, ckpt, { ema: weights === 'ema' });
  } catch (e) {
    exp.dispose();
    throw e;
  }
  return { exp, ckpt };
}

export interface GenerateOptions {
  n: number;
  batchSize: number;
  seed: number;
  method: 'ddpm' | 'ddim';
  steps?: number;
  eta?: number;
  guidance?: number;
  /** Known values for examples `first .. first + size - 1` (tensors owned by `generate`). */
  known?: (first: number, size: number) => Record<string, tf.Tensor>;
  /** A known z0 (read out the heads) for those examples. */
  z0Known?: (first: number, size: number) => tf.Tensor;
  /** Restoration inputs for those examples (their tensors owned by `generate`). */
  restoration?: (first: number, size: number) => RestorationOptions;
  onBatch?: (done: number, total: number) => void;
}

export interface Generated {
  /** `z_0`, row-major `[n, ...shape]`. */
  z0: Float32Array;
  /** Per generated (not given) modality: gaussian values (row-major) or categorical labels and probabilities. */
  gaussian: Record<string, Float32Array>;
  labels: Record<string, Int32Array>;
  probs: Record<string, Float32Array>;
}

/**
 * Samples `n` examples in batches (example `i` draws from its own seeded stream, so the result
 * does not depend on the batch size). Modalities without a head that are not given are passed as
 * known zeros (the "-X" variant's all-zero condition); a categorical one must be given.
 */
export async function generate(exp: Experiment, options: GenerateOptions): Promise<Generated> {
  const per = exp.shape.reduce((a, b) => a * b, 1);
  const z0 = new Float32Array(options.n * per);
  const gaussian: Record<string, Float32Array> = {};
  const labels: Record<string, Int32Array> = {};
  const probs: Record<string, Float32Array> = {};
  const model = asDiffusionModel(exp.model);
  // The weights are fixed while sampling: encode each label class once, not at every step.
  const tabulated = tabulateCategoricalEncoders(exp.modalities);
  try {
    for (let first = 0; first < options.n; first += options.batchSize) {
      const size = Math.min(options.batchSize, options.n - first);
      const known: Record<string, tf.Tensor> = options.known?.(first, size) ?? {};
      for (const m of exp.modalities) {
        const headless = exp.config.modalities[m.name]?.head === 'none';
        if (headless && known[m.name] === undefined && options.z0Known === undefined) {
          if (m.kind === 'categorical') throw new Error(`modality ${m.name} has no head: give it (e.g. --label) to sample`);
          known[m.name] = tf.zeros([size, ...exp.shape]);
        }
      }
      const z0Known = options.z0Known?.(first, size);
      const restoration = options.restoration?.(first, size);
      const sampleOptions: SampleOptions = {
        model,
        schedule: exp.schedule,
        modalities: tabulated.modalities,
        shape: exp.shape,
        batchSize: size,
        seed: options.seed,
        firstExample: first,
        method: options.method,
        known,
        ...(options.steps !== undefined ? { steps: options.steps } : {}),
        ...(options.eta !== undefined ? { eta: options.eta } : {}),
        ...(options.guidance !== undefined ? { guidance: { scale: options.guidance } } : {}),
        ...(z0Known !== undefined ? { z0Known } : {}),
        ...(restoration !== undefined ? { restoration } : {}),
        ...(exp.isImage && z0Known === undefined ? { clipZ0: [-1, 1] as const } : {}),
        onWarning: () => undefined,
      };
      try {
        const result = await sample(sampleOptions);
        try {
          z0.set((await result.z0.data()) as Float32Array, first * per);
          for (const [name, r] of Object.entries(result.modalities)) {
            if (r.known) continue;
            if (r.kind === 'gaussian') {
              const data = (await r.value.data()) as Float32Array;
              const out = (gaussian[name] ??= new Float32Array((options.n * data.length) / size));
              out.set(data, (first * data.length) / size);
            } else {
              const l = (await r.labels.data()) as Int32Array;
              const p = (await r.probs.data()) as Float32Array;
              (labels[name] ??= new Int32Array(options.n)).set(l, first);
              const K = p.length / size;
              (probs[name] ??= new Float32Array(options.n * K)).set(p, first * K);
            }
          }
        } finally {
          tf.dispose(result as unknown as tf.TensorContainer);
        }
      } finally {
        tf.dispose([...Object.values(known), ...(z0Known ? [z0Known] : []), ...(restoration ? [restoration.image, restoration.keep] : [])]);
      }
      options.onBatch?.(first + size, options.n);
    }
  } finally {
    tabulated.dispose();
  }
  return { z0, gaussian, labels, probs };
}
