/**
 * The run settings of the image-transition example (EXPERIMENTS.md E1, paper appendix E.1) and
 * its presets.
 *
 * Four models train in one run: MT-Diffusion on the (scene, segmentation map) pair and on the
 * (day, night) pair, and a conditional single-task DDPM for each reported direction
 * (scene -> map, night -> day). The CPU preset is sized so that all four train, sample and are
 * evaluated in about 15 minutes with the wasm backend on a shared 2-core machine: 16x16 RGB
 * scenes and the masked-image example's tiny U-Net (with 3 extra input channels for the source).
 */
export interface RunConfig {
  preset: string;
  seed: number;
  /** Side of the square scenes (>= 8: the scene renderer's minimum). */
  imageSize: number;
  /** Classes of the segmentation maps, background included (2..16). */
  numClasses: number;
  /** Shapes per scene. */
  minShapes: number;
  maxShapes: number;
  /** Training scenes per pair (rendered once; the pairs use different scenes). */
  trainScenes: number;
  schedule: { kind: 'cosine' | 'linear'; T: number };
  unet: { baseChannels: number; channelMults: number[]; numResBlocks: number; attentionResolutions: number[]; groups: number };
  /**
   * `w_t = c sqrt(alphaBar_t)` of the extra modality (MATH.md 7), as in the masked-image example:
   * `lambda_t = c t sqrt(alphaBar_t)` peaks near `355 c` mid-chain (cosine, T = 1000), so c must
   * be small or `z_t` holds a many-fold copy of the other image and the noise loss stalls there
   * (c = 0.2 did, at 71x). c = 0.0015 keeps the peak at about 0.53.
   */
  weightC: number;
  /**
   * Probability that the model is NOT given the extra modality on its conditioning path in a
   * training example (@mtd/train `conditionDropout`). The head learns only on the dropped
   * examples (it would copy its input otherwise), the conditional path only on the others.
   * `seg`: scene -> map uses the head, map -> scene the conditional path, so half and half.
   * `day`: night -> day uses the conditional path (the reported direction), so it gets more.
   */
  conditionDropout: { seg: number; day: number };
  train: { steps: number; batchSize: number; lr: number; warmupSteps: number; clipGradNorm: number; ema: number; checkpointEvery: number };
  sample: {
    /**
     * Respaced sampler steps (ancestral DDPM on evenly spaced timesteps). On the cpu preset's
     * briefly trained models, 100 steps scored the same as 40, and DDIM (eta 0) far worse.
     */
    steps: number;
    batchSize: number;
    /** Test scenes translated per direction (scene -> map, night -> day; map -> scene for the MT model). */
    n: number;
  };
  /** Examples in each PNG grid. */
  gridImages: number;
}

/**
 * lr 2e-3: on the night -> day baseline, 200 steps at 2e-3 reached the noise loss and the
 * ground-truth distance that 400 steps at 1e-3 did (3e-3 was no better), and four models must fit
 * in 15 minutes, so each gets 300 steps (~4,800 scenes seen of 4,000).
 */
const CPU: RunConfig = {
  preset: 'cpu',
  seed: 0,
  imageSize: 16,
  numClasses: 8,
  minShapes: 1,
  maxShapes: 3,
  trainScenes: 4000,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 8 },
  weightC: 0.0015,
  conditionDropout: { seg: 0.5, day: 0.2 },
  train: { steps: 300, batchSize: 16, lr: 2e-3, warmupSteps: 30, clipGradNorm: 1, ema: 0.99, checkpointEvery: 150 },
  sample: { steps: 40, batchSize: 64, n: 160 },
  gridImages: 16,
};

const GPU: RunConfig = {
  preset: 'gpu',
  seed: 0,
  imageSize: 32,
  numClasses: 12,
  minShapes: 2,
  maxShapes: 5,
  trainScenes: 50000,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 32, channelMults: [1, 2, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
  weightC: 0.0015,
  conditionDropout: { seg: 0.5, day: 0.2 },
  train: { steps: 20000, batchSize: 64, lr: 2e-4, warmupSteps: 500, clipGradNorm: 1, ema: 0.9999, checkpointEvery: 2000 },
  sample: { steps: 100, batchSize: 250, n: 2000 },
  gridImages: 32,
};

/** A few seconds end to end: the smoke test's setting. */
const TINY: RunConfig = {
  preset: 'tiny',
  seed: 0,
  imageSize: 8,
  numClasses: 4,
  minShapes: 1,
  maxShapes: 2,
  trainScenes: 32,
  schedule: { kind: 'cosine', T: 100 },
  unet: { baseChannels: 8, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 4 },
  weightC: 0.015,
  conditionDropout: { seg: 0.5, day: 0.2 },
  train: { steps: 2, batchSize: 4, lr: 1e-3, warmupSteps: 0, clipGradNorm: 1, ema: 0.9, checkpointEvery: 2 },
  sample: { steps: 3, batchSize: 8, n: 8 },
  gridImages: 4,
};

export const PRESETS: Readonly<Record<string, RunConfig>> = { cpu: CPU, gpu: GPU, tiny: TINY };

/** A deep copy of a preset, so callers may edit it. */
export function presetConfig(name: string): RunConfig {
  const p = PRESETS[name];
  if (p === undefined) throw new RangeError(`presetConfig: name must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(name)}`);
  return structuredClone(p);
}
