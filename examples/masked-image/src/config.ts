/**
 * The run settings of the masked-image example (EXPERIMENTS.md E2) and its presets.
 *
 * The CPU preset is sized for a shared 2-core machine with the wasm backend: the 28x28 images are
 * area-downsampled to 16x16 and the U-Net is tiny, so that BOTH models (MT-Diffusion-U and the
 * single-task DDPM baseline) train, sample, restore and evaluate in about 15 minutes. The GPU
 * preset is the paper's setting at Fashion-MNIST scale (32x32, a 1M-parameter U-Net, 20k steps).
 */
export interface RunConfig {
  preset: string;
  seed: number;
  /** Side of the square images the models see (28x28 sources are area-resized, or padded to 32). */
  imageSize: number;
  /** Training images used (the first `trainImages` of the training split); evaluation uses the test split. */
  trainImages: number;
  /** Mask-k of the training modality (MATH.md 2: identity encoder, "masked" image). */
  trainMaskK: number;
  /** Side of each square patch; the datasets' default is a quarter of the image side. */
  patchSize: number;
  schedule: { kind: 'cosine' | 'linear'; T: number };
  unet: { baseChannels: number; channelMults: number[]; numResBlocks: number; attentionResolutions: number[]; groups: number };
  /**
   * `w_t = c sqrt(alphaBar_t)` (MATH.md 7): `lambda_t = c t sqrt(alphaBar_t)`, so `lambda_T` is tiny
   * (the chain ends at N(0, I)), but mid-chain `lambda_t` peaks at about `355 c` (cosine, T = 1000).
   * c = 0.2 (a 71x copy of the masked image in z_t) stalled training here (noise loss 0.52 against
   * the DDPM's 0.11 after 700 steps); c = 0.0015 keeps the peak at 0.53, the masked image at most
   * about as strong as the image signal `sqrt(alphaBar_t) z_0` (relative weight c t <= 1.5).
   */
  weightC: number;
  /** The models trained side by side (`mt` = -U, `mtx` = -X, `ddpm` = the baseline, always included). */
  models: ('mt' | 'mtx' | 'ddpm')[];
  /** MT-Diffusion-X: the probability that a training example's masked image is replaced by zeros in the network input (so it also generates without one). */
  xDropout: number;
  train: { steps: number; batchSize: number; lr: number; warmupSteps: number; clipGradNorm: number; ema: number; checkpointEvery: number };
  sample: {
    /** Respaced sampler steps (ancestral DDPM on evenly spaced timesteps). */
    steps: number;
    /** Generated images per model for Table 2 (and real test images they are compared with). */
    n: number;
    batchSize: number;
  };
  restore: {
    /** Mask-k settings of Table 1. */
    maskKs: number[];
    /** Masked test images per Mask-k. */
    n: number;
    /** SDEdit's starting noise level as a fraction of T, and its DDIM steps from there. */
    sdeditStrength: number;
    sdeditSteps: number;
  };
  /** Images in each PNG grid. */
  gridImages: number;
}

const CPU: RunConfig = {
  preset: 'cpu',
  seed: 0,
  imageSize: 16,
  trainImages: 12000,
  trainMaskK: 10,
  patchSize: 4,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 8 },
  weightC: 0.0015,
  models: ['mt', 'ddpm'],
  xDropout: 0.5,
  train: { steps: 700, batchSize: 16, lr: 1e-3, warmupSteps: 50, clipGradNorm: 1, ema: 0.995, checkpointEvery: 350 },
  sample: { steps: 50, n: 256, batchSize: 64 },
  restore: { maskKs: [5, 10, 15, 20], n: 64, sdeditStrength: 0.5, sdeditSteps: 25 },
  gridImages: 32,
};

const GPU: RunConfig = {
  preset: 'gpu',
  seed: 0,
  imageSize: 32,
  trainImages: 60000,
  trainMaskK: 10,
  patchSize: 8,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 32, channelMults: [1, 2, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
  weightC: 0.0015,
  models: ['mt', 'mtx', 'ddpm'],
  xDropout: 0.5,
  train: { steps: 20000, batchSize: 64, lr: 2e-4, warmupSteps: 500, clipGradNorm: 1, ema: 0.9999, checkpointEvery: 2000 },
  sample: { steps: 100, n: 2000, batchSize: 250 },
  restore: { maskKs: [5, 10, 15, 20], n: 500, sdeditStrength: 0.5, sdeditSteps: 50 },
  gridImages: 64,
};

/** A few seconds end to end: the smoke test's setting. */
const TINY: RunConfig = {
  preset: 'tiny',
  seed: 0,
  imageSize: 8,
  trainImages: 64,
  trainMaskK: 3,
  patchSize: 2,
  schedule: { kind: 'cosine', T: 100 },
  unet: { baseChannels: 8, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 4 },
  weightC: 0.015,
  models: ['mt', 'mtx', 'ddpm'],
  xDropout: 0.5,
  train: { steps: 3, batchSize: 4, lr: 1e-3, warmupSteps: 0, clipGradNorm: 1, ema: 0.9, checkpointEvery: 2 },
  sample: { steps: 4, n: 8, batchSize: 8 },
  restore: { maskKs: [5, 10], n: 4, sdeditStrength: 0.5, sdeditSteps: 3 },
  gridImages: 4,
};

/** The cpu preset with MT-Diffusion-X trained beside -U and the DDPM (about 5 minutes more). */
const CPU_X: RunConfig = { ...CPU, preset: 'cpu-x', models: ['mt', 'mtx', 'ddpm'] };

export const PRESETS: Readonly<Record<string, RunConfig>> = { cpu: CPU, 'cpu-x': CPU_X, gpu: GPU, tiny: TINY };

/** A deep copy of a preset, so callers may edit it. */
export function presetConfig(name: string): RunConfig {
  const p = PRESETS[name];
  if (p === undefined) throw new RangeError(`presetConfig: name must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(name)}`);
  return structuredClone(p);
}
