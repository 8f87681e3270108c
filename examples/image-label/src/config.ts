/**
 * The run settings of the image-label example (EXPERIMENTS.md E3, paper section 4.2) and its presets.
 *
 * The CPU preset is sized for a shared 2-core machine with the wasm backend: 16x16 Fashion-MNIST and
 * a tiny U-Net, so that ALL FOUR training runs (MT-Diffusion-M, MT-Diffusion-E, the single-task DDPM
 * and the two supervised classifiers, which are cheap) plus sampling and evaluation finish in about
 * 15 minutes. The GPU preset is the paper's setting at Fashion-MNIST scale (32x32, 20k steps).
 */
export interface RunConfig {
  preset: string;
  seed: number;
  /** Side of the square images the models see (28x28 sources are area-resized, or padded to 32). */
  imageSize: number;
  /** Training images used (the first `trainImages` of the training split); evaluation uses the test split. */
  trainImages: number;
  /** Classes of the label modality (Fashion-MNIST: 10). */
  classes: number;
  schedule: { kind: 'cosine' | 'linear'; T: number };
  unet: { baseChannels: number; channelMults: number[]; numResBlocks: number; attentionResolutions: number[]; groups: number };
  label: {
    /**
     * `w_t = c sqrt(alphaBar_t)` (MATH.md 7): `lambda_t = c t sqrt(alphaBar_t)`, tiny at `t = T`
     * (unconditional sampling starts from N(0, I)), with a mid-chain peak of about `355 c` (cosine,
     * T = 1000). The encodings `e_k = unet(0, t = 0, k)` are noise-sized (RMS about 1 once trained),
     * so c = 0.002 keeps the label's share of `z_t` at most about as large as the image's
     * `sqrt(alphaBar_t) z_0` (a larger c stalled the masked-image example's training).
     */
    weightC: number;
    /**
     * Probability that an example's label is NOT given to the U-Net's class path in training (the
     * null class). The head's loss counts only those examples (where the sampler uses the head:
     * joint generation and classification both run with the null class), so a high value trains
     * the head and the unconditional model on most examples while the class path still learns.
     */
    conditionDropout: number;
    /** `rho` of MATH.md 4 (the paper's 0.1) and the label head's weight `w_i`. */
    rho: number;
    headWeight: number;
  };
  /** The "-E" classifier head on the U-Net's image estimate, and the supervised baseline of its size. */
  classifier: { width: number; stages: number; groups: number };
  train: { steps: number; batchSize: number; lr: number; warmupSteps: number; clipGradNorm: number; ema: number; checkpointEvery: number };
  sample: {
    /** Respaced sampler steps (ancestral DDPM on evenly spaced timesteps). */
    steps: number;
    /** Generated images per model for Table 2 (and real test images they are compared with). */
    n: number;
    batchSize: number;
  };
  classify: {
    /** Test images classified by each label head and each supervised classifier (the first n of the test split). */
    n: number;
    /** Steps of the known-z0 sampler that reads the label out (the last one is at t = 1). */
    steps: number;
    batchSize: number;
    /** Accuracy-vs-step curve (the Figure 6 stand-in): evaluations during training, on the first `curveN` test images. */
    curvePoints: number;
    curveN: number;
  };
  /** Images in each PNG grid. */
  gridImages: number;
}

const CPU: RunConfig = {
  preset: 'cpu',
  seed: 0,
  imageSize: 16,
  trainImages: 12000,
  classes: 10,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [], groups: 8 },
  label: { weightC: 0.002, conditionDropout: 0.8, rho: 0.1, headWeight: 1 },
  classifier: { width: 16, stages: 2, groups: 8 },
  train: { steps: 300, batchSize: 16, lr: 1e-3, warmupSteps: 30, clipGradNorm: 1, ema: 0.995, checkpointEvery: 150 },
  sample: { steps: 50, n: 256, batchSize: 64 },
  classify: { n: 500, steps: 5, batchSize: 250, curvePoints: 10, curveN: 200 },
  gridImages: 32,
};

const GPU: RunConfig = {
  preset: 'gpu',
  seed: 0,
  imageSize: 32,
  trainImages: 60000,
  classes: 10,
  schedule: { kind: 'cosine', T: 1000 },
  unet: { baseChannels: 32, channelMults: [1, 2, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
  label: { weightC: 0.002, conditionDropout: 0.8, rho: 0.1, headWeight: 1 },
  classifier: { width: 32, stages: 3, groups: 8 },
  train: { steps: 20000, batchSize: 64, lr: 2e-4, warmupSteps: 500, clipGradNorm: 1, ema: 0.9999, checkpointEvery: 2000 },
  sample: { steps: 100, n: 2000, batchSize: 250 },
  classify: { n: 10000, steps: 20, batchSize: 500, curvePoints: 20, curveN: 1000 },
  gridImages: 64,
};

/** A few seconds end to end: the smoke test's setting. */
const TINY: RunConfig = {
  preset: 'tiny',
  seed: 0,
  imageSize: 10,
  trainImages: 64,
  classes: 10,
  schedule: { kind: 'cosine', T: 100 },
  unet: { baseChannels: 8, channelMults: [1], numResBlocks: 1, attentionResolutions: [], groups: 4 },
  label: { weightC: 0.02, conditionDropout: 0.8, rho: 0.1, headWeight: 1 },
  classifier: { width: 4, stages: 1, groups: 2 },
  train: { steps: 2, batchSize: 4, lr: 1e-3, warmupSteps: 0, clipGradNorm: 1, ema: 0.9, checkpointEvery: 2 },
  sample: { steps: 3, n: 8, batchSize: 8 },
  classify: { n: 8, steps: 2, batchSize: 8, curvePoints: 2, curveN: 6 },
  gridImages: 4,
};

export const PRESETS: Readonly<Record<string, RunConfig>> = { cpu: CPU, gpu: GPU, tiny: TINY };

/** A deep copy of a preset, so callers may edit it. */
export function presetConfig(name: string): RunConfig {
  const p = PRESETS[name];
  if (p === undefined) throw new RangeError(`presetConfig: name must be one of ${Object.keys(PRESETS).join(', ')}, got ${JSON.stringify(name)}`);
  return structuredClone(p);
}
