/**
 * The run settings of the image-representation example (EXPERIMENTS.md E4, paper appendix E.4)
 * and its presets.
 *
 * The representation of an image is the project's frozen Fashion-MNIST feature network's
 * 64-dimensional embedding (the paper uses CLIP), standardised per dimension over the training
 * images. It enters the U-Net through cross-attention (`contextDim`; the middle block always has
 * an attention block, so `attentionResolutions: []` keeps the cost at the lowest resolution) and
 * is decoded from the middle block by Linear -> ReLU -> Linear.
 *
 * The CPU preset is sized for a shared 2-core machine with the wasm backend: BOTH models
 * (MT-Diffusion and the single-task DDPM baseline) train, sample and evaluate in about 15
 * minutes. The GPU preset is the paper's setting at Fashion-MNIST scale.
 */
export interface RunConfig {
  preset: string;
  seed: number;
  /** Side of the square images the models see (28x28 sources are area-resized, or padded to 32). */
  imageSize: number;
  /** Training images used (the first `trainImages` of the training split); evaluation uses the test split. */
  trainImages: number;
  schedule: { kind: 'cosine' | 'linear'; T: number };
  unet: { baseChannels: number; channelMults: number[]; numResBlocks: number; attentionResolutions: number[]; groups: number };
  /** Hidden width of the representation decoder (Linear -> ReLU -> Linear; the paper's is 1024). */
  headHidden: number;
  /**
   * `w_t = c sqrt(alphaBar_t)` (MATH.md 7): `lambda_t = c t sqrt(alphaBar_t)`, tiny at `T`, largest
   * mid-chain (about `355 c` for cosine, T = 1000). The masked-image example found that a large
   * peak (71) stalls training; c = 0.003 keeps it near 1 (times the encoding's size).
   */
  weightC: number;
  /** Probability that an example's representation is NOT given to the cross-attention (Trainer.conditionDropout). */
  conditionDropout: number;
  train: { steps: number; batchSize: number; lr: number; warmupSteps: number; clipGradNorm: number; ema: number; checkpointEvery: number };
  sample: {
    /** Respaced sampler steps (ancestral DDPM on evenly spaced timesteps). */
    steps: number;
    /** Jointly generated images per model (and real test images they are compared with). */
    n: number;
    /** Images generated from a given test representation (conditional check of the context path). */
    conditionalN: number;
    batchSize: number;
  };
  /** Images in each PNG grid. */
  gridImages: number;
}

const CPU: RunConfig = {
  preset: 'cpu',
  seed: 0,
  imageSize: 16,
  trainImages: 12000,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 8 },
  headHidden: 256,
  weightC: 0.003,
  conditionDropout: 0.5,
  train: { steps: 500, batchSize: 16, lr: 1e-3, warmupSteps: 50, clipGradNorm: 1, ema: 0.995, checkpointEvery: 250 },
  sample: { steps: 50, n: 256, conditionalN: 64, batchSize: 64 },
  gridImages: 32,
};

const GPU: RunConfig = {
  preset: 'gpu',
  seed: 0,
  imageSize: 32,
  trainImages: 60000,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 32, channelMults: [1, 2, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
  headHidden: 1024,
  weightC: 0.003,
  conditionDropout: 0.5,
  train: { steps: 20000, batchSize: 64, lr: 2e-4, warmupSteps: 500, clipGradNorm: 1, ema: 0.9999, checkpointEvery: 2000 },
  sample: { steps: 100, n: 2000, conditionalN: 500, batchSize: 250 },
  gridImages: 64,
};

/** A few seconds end to end: the smoke test's setting. */
const TINY: RunConfig = {
  preset: 'tiny',
  seed: 0,
  imageSize: 8,
  trainImages: 64,
  schedule: { kind: 'cosine', T: 100 },
  unet: { baseChannels: 8, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 4 },
  headHidden: 16,
  weightC: 0.03,
  conditionDropout: 0.5,
  train: { steps: 3, batchSize: 4, lr: 1e-3, warmupSteps: 0, clipGradNorm: 1, ema: 0.9, checkpointEvery: 2 },
  sample: { steps: 4, n: 8, conditionalN: 4, batchSize: 8 },
  gridImages: 4,
};

export const PRESETS: Readonly<Record<string, RunConfig>> = { cpu: CPU, gpu: GPU, tiny: TINY };

/** A deep copy of a preset, so callers may edit it. */
export function presetConfig(name: string): RunConfig {
  const p = PRESETS[name];
  if (p === undefined) throw new RangeError(`presetConfig: name must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(name)}`);
  return structuredClone(p);
}
