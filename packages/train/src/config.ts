import { describeValue } from '@mtd/errors';

/**
 * The experiment config: one JSON file that says what to train (data, schedule, model, the
 * modalities and how they enter the chain) and how (optimizer, EMA, checkpoints). `mtd train`
 * reads it, every checkpoint stores it, and `mtd sample` / `mtd eval` rebuild the model from it.
 * `validateConfig` checks every field and fills in the defaults, with errors that name the field:
 * `config.model.baseChannels must be an integer >= 1, got "x"`.
 */
export interface ExperimentConfig {
  /** Seeds everything (model init, data order, the trainer's stream); `--seed` overrides it. */
  seed: number;
  data: DataConfig;
  schedule: ScheduleConfig;
  model: MlpConfig | UnetModelConfig;
  /** By modality name; which names exist depends on the dataset (see `DATASET_MODALITIES`). */
  modalities: Record<string, ModalityConfig>;
  train: TrainConfig;
}

export type DatasetName = 'mixture' | 'fashion-mnist' | 'mnist' | 'shapes' | 'day-night';

export interface DataConfig {
  /**
   * `mixture`: the 2-D three-Gaussian toy with its component label (@mtd/sampler/toy);
   * `fashion-mnist` / `mnist`: 28x28 grey images (padded to `padTo`) with their class label;
   * `shapes`: synthetic RGB scenes; `day-night`: the same scenes by day (`z_0`) and by night.
   */
  dataset: DatasetName;
  batchSize: number;
  /** fashion-mnist / mnist: which split to train on (default 'train'). */
  split: 'train' | 'test';
  /** Use only the first `limit` examples (quick runs). */
  limit?: number;
  /** Image datasets: pad to this size (fashion-mnist / mnist default 32). */
  padTo?: number;
  /** shapes / day-night: scene count (default 2000), image size (default 32), classes (default 4). */
  count: number;
  size: number;
  numClasses: number;
  /** Adds the Mask-k masked image as modality `masked` (E2); k patches. */
  maskK?: number;
  /** fashion-mnist: folder of the IDX files (default: the Debian package's). */
  dir?: string;
}

export interface ScheduleConfig {
  kind: 'cosine' | 'linear';
  T: number;
}

export interface MlpConfig {
  type: 'mlp';
  hidden: number;
  depth: number;
  timeFeatures: number;
}

export interface UnetModelConfig {
  type: 'unet';
  baseChannels: number;
  channelMults: number[];
  numResBlocks: number;
  attentionResolutions: number[];
  groups: number;
  numHeads: number;
  dropout: number;
  useScaleShiftNorm: boolean;
  timeEmbedDim?: number;
}

export type WeightConfig = { kind: 'sqrtAlphaBar'; c: number } | { kind: 'constant'; w: number; form: 'w' | 'wPrime' };

export interface ModalityConfig {
  /** `w_t`: a number `c` is short for `{ kind: 'sqrtAlphaBar', c }` (MATH.md 7). */
  weight: WeightConfig;
  /**
   * categorical: `'embedding'` (a fixed table; the toy's own for `mixture`, a seeded random
   * unit-RMS image per class otherwise) or `'unet'` (MATH.md 5.3, U-Net models only);
   * gaussian: `'identity'`.
   */
  encoder: 'embedding' | 'unet' | 'identity';
  /** With `encoder: 'unet'`: whether gradients flow into the encoder's use of the U-Net (default false). */
  encoderGradient: boolean;
  /**
   * categorical: `'middle'` (MLP on the middle block, "-M") or `'classifier'` (on `x0`, "-E") for
   * U-Nets, `'linear'` for the MLP; gaussian: `'output'` (output-block replica) or `'linear'`;
   * `'none'`: not generated (a pure condition).
   */
  head: 'middle' | 'classifier' | 'output' | 'linear' | 'none';
  /** U-Net: `'class'`, `'extra'` or `'none'`; MLP: `'input'` or `'none'`. */
  conditioning: 'class' | 'extra' | 'input' | 'none';
  /** Probability of dropping this condition per example (default `train.conditionDropout`). */
  conditionDropout: number;
  /** `w_i` of the head's loss term (default 1). */
  headWeight: number;
}

export interface TrainConfig {
  steps: number;
  lr: number;
  beta1: number;
  beta2: number;
  weightDecay: number;
  warmupSteps: number;
  decaySteps?: number;
  finalFraction: number;
  clipGradNorm?: number;
  /** EMA decay, or false for none (default 0.999). */
  ema: number | false;
  emaWarmup: boolean;
  rho: number;
  conditionDropout: number;
  headLossOnKnown: boolean;
  checkpointEvery?: number;
  keepCheckpoints: number;
  logEvery: number;
  progressEvery: number;
}

/** The modalities each dataset offers (`masked` needs `data.maskK`), and the key of `z_0`. */
export const DATASET_MODALITIES: Readonly<Record<DatasetName, { z0: string; modalities: Readonly<Record<string, 'categorical' | 'gaussian'>> }>> = {
  mixture: { z0: 'point', modalities: { label: 'categorical' } },
  'fashion-mnist': { z0: 'image', modalities: { label: 'categorical', masked: 'gaussian' } },
  mnist: { z0: 'image', modalities: { label: 'categorical', masked: 'gaussian' } },
  shapes: { z0: 'image', modalities: { masked: 'gaussian' } },
  'day-night': { z0: 'day', modalities: { night: 'gaussian', masked: 'gaussian' } },
};

class ConfigError extends RangeError {}

/** A validator for one JSON object, naming every field by its path. */
class Fields {
  private readonly seen = new Set<string>();
  constructor(
    readonly path: string,
    private readonly obj: Record<string, unknown>,
  ) {}

  static of(path: string, value: unknown): Fields {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, 'an object', value);
    return new Fields(path, value as Record<string, unknown>);
  }

  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined;
  }

  int(key: string, min: number, fallback?: number): number {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) fail(`${this.path}.${key}`, `an integer >= ${min}`, v);
    return v;
  }

  optInt(key: string, min: number): number | undefined {
    return this.has(key) ? this.int(key, min) : (this.raw(key), undefined);
  }

  num(key: string, range: { min?: number; max?: number; minOpen?: boolean; maxOpen?: boolean }, fallback?: number): number {
    const v = this.raw(key) ?? fallback;
    const { min = -Infinity, max = Infinity, minOpen = false, maxOpen = false } = range;
    const ok = typeof v === 'number' && Number.isFinite(v) && (minOpen ? v > min : v >= min) && (maxOpen ? v < max : v <= max);
    if (!ok) {
      const lo = min === -Infinity ? '' : `${minOpen ? '>' : '>='} ${min}`;
      const hi = max === Infinity ? '' : `${maxOpen ? '<' : '<='} ${max}`;
      fail(`${this.path}.${key}`, `a number${lo || hi ? ' ' : ''}${[lo, hi].filter(Boolean).join(' and ')}`, v);
    }
    return v as number;
  }

  optNum(key: string, range: { min?: number; max?: number; minOpen?: boolean }): number | undefined {
    return this.has(key) ? this.num(key, range) : (this.raw(key), undefined);
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'boolean') fail(`${this.path}.${key}`, 'true or false', v);
    return v;
  }

  oneOf<T extends string>(key: string, options: readonly T[], fallback?: T): T {
    const v = this.raw(key) ?? fallback;
    if (typeof v !== 'string' || !options.includes(v as T)) fail(`${this.path}.${key}`, `one of ${options.map((o) => `"${o}"`).join(', ')}`, v);
    return v as T;
  }

  intList(key: string, min: number, fallback?: number[]): number[] {
    const v = this.raw(key) ?? fallback;
    if (!Array.isArray(v)) fail(`${this.path}.${key}`, `a list of integers >= ${min}`, v);
    v.forEach((x: unknown, i) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < min) fail(`${this.path}.${key}[${i}]`, `an integer >= ${min}`, x);
    });
    return [...(v as number[])];
  }

  /** Rejects keys that were never read (typos). */
  done(): void {
    for (const key of Object.keys(this.obj)) {
      if (!this.seen.has(key)) {
        throw new ConfigError(`${this.path}.${key} is not a known field (known: ${[...this.seen].join(', ')})`);
      }
    }
  }
}

function fail(path: string, expected: string, got: unknown): never {
  throw new ConfigError(`${path} must be ${expected}, got ${describeValue(got)}`);
}

/**
 * Checks a parsed JSON config and returns it with every default filled in. Throws a RangeError
 * naming the first bad field (`config.train.lr must be a number > 0, got -1`), including unknown
 * fields (typos) and modalities the dataset does not have.
 */
export function validateConfig(json: unknown): ExperimentConfig {
  const root = Fields.of('config', json);
  const seed = root.int('seed', 0, 0);

  const d = Fields.of('config.data', root.raw('data'));
  const dataset = d.oneOf('dataset', ['mixture', 'fashion-mnist', 'mnist', 'shapes', 'day-night'] as const);
  const image = dataset !== 'mixture';
  const data: DataConfig = {
    dataset,
    batchSize: d.int('batchSize', 1),
    split: d.oneOf('split', ['train', 'test'] as const, 'train'),
    count: d.int('count', 1, 2000),
    size: d.int('size', 8, 32),
    numClasses: d.int('numClasses', 2, 4),
  };
  const limit = d.optInt('limit', 1);
  if (limit !== undefined) data.limit = limit;
  const padTo = d.optInt('padTo', 1);
  if (padTo !== undefined) data.padTo = padTo;
  else if (dataset === 'fashion-mnist' || dataset === 'mnist') data.padTo = 32;
  const maskK = d.optInt('maskK', 1);
  if (maskK !== undefined) {
    if (!image) fail('config.data.maskK', 'left out for the mixture dataset (it has no image)', maskK);
    data.maskK = maskK;
  }
  const dir = d.raw('dir');
  if (dir !== undefined) {
    if (typeof dir !== 'string' || dir === '') fail('config.data.dir', 'a folder path', dir);
    data.dir = dir;
  }
  d.done();

  const s = Fields.of('config.schedule', root.raw('schedule') ?? {});
  const schedule: ScheduleConfig = { kind: s.oneOf('kind', ['cosine', 'linear'] as const, 'cosine'), T: s.int('T', 2, 1000) };
  s.done();

  const m = Fields.of('config.model', root.raw('model'));
  const type = m.oneOf('type', ['mlp', 'unet'] as const, image ? 'unet' : 'mlp');
  if (type === 'mlp' && image) fail('config.model.type', `"unet" for the image dataset "${dataset}"`, type);
  if (type === 'unet' && !image) fail('config.model.type', '"mlp" for the mixture dataset (2-D points)', type);
  let model: MlpConfig | UnetModelConfig;
  if (type === 'mlp') {
    model = { type, hidden: m.int('hidden', 1, 32), depth: m.int('depth', 1, 3), timeFeatures: m.int('timeFeatures', 2, 16) };
    if (model.timeFeatures % 2 !== 0) fail('config.model.timeFeatures', 'an even integer', model.timeFeatures);
  } else {
    model = {
      type,
      baseChannels: m.int('baseChannels', 1),
      channelMults: m.intList('channelMults', 1),
      numResBlocks: m.int('numResBlocks', 1),
      attentionResolutions: m.intList('attentionResolutions', 1, []),
      groups: m.int('groups', 1, 8),
      numHeads: m.int('numHeads', 1, 1),
      dropout: m.num('dropout', { min: 0, max: 1, maxOpen: true }, 0),
      useScaleShiftNorm: m.bool('useScaleShiftNorm', false),
    };
    if (model.channelMults.length === 0) fail('config.model.channelMults', 'a non-empty list of integers >= 1', model.channelMults);
    const ted = m.optInt('timeEmbedDim', 1);
    if (ted !== undefined) model.timeEmbedDim = ted;
  }
  m.done();

  const t = Fields.of('config.train', root.raw('train'));
  const train: TrainConfig = {
    steps: t.int('steps', 0),
    lr: t.num('lr', { min: 0, minOpen: true }),
    beta1: t.num('beta1', { min: 0, max: 1, maxOpen: true }, 0.9),
    beta2: t.num('beta2', { min: 0, max: 1, maxOpen: true }, 0.999),
    weightDecay: t.num('weightDecay', { min: 0 }, 0),
    warmupSteps: t.int('warmupSteps', 0, 0),
    finalFraction: t.num('finalFraction', { min: 0, max: 1 }, 0),
    ema: false,
    emaWarmup: t.bool('emaWarmup', true),
    rho: t.num('rho', { min: 0 }, 0.1),
    conditionDropout: t.num('conditionDropout', { min: 0, max: 1 }, 0.5),
    headLossOnKnown: t.bool('headLossOnKnown', false),
    keepCheckpoints: t.int('keepCheckpoints', 1, 2),
    logEvery: t.int('logEvery', 1, 1),
    progressEvery: t.int('progressEvery', 1, 10),
  };
  const ema = t.raw('ema') ?? 0.999;
  if (ema !== false && (typeof ema !== 'number' || !(ema >= 0 && ema <= 1))) fail('config.train.ema', 'a decay in [0, 1] or false', ema);
  train.ema = ema;
  const decaySteps = t.optInt('decaySteps', 1);
  if (decaySteps !== undefined) train.decaySteps = decaySteps;
  const clip = t.optNum('clipGradNorm', { min: 0, minOpen: true });
  if (clip !== undefined) train.clipGradNorm = clip;
  const every = t.optInt('checkpointEvery', 1);
  if (every !== undefined) train.checkpointEvery = every;
  t.done();

  const available = DATASET_MODALITIES[dataset].modalities;
  const mods = Fields.of('config.modalities', root.raw('modalities') ?? {});
  const modalities: Record<string, ModalityConfig> = {};
  const rawMods = (root.raw('modalities') ?? {}) as Record<string, unknown>;
  for (const name of Object.keys(rawMods)) {
    mods.raw(name);
    const kind = available[name];
    if (kind === undefined) {
      fail(`config.modalities.${name}`, `a modality of the ${dataset} dataset (${Object.keys(available).join(', ')})`, 'an unknown name');
    }
    if (name === 'masked' && data.maskK === undefined) fail('config.data.maskK', 'set (an integer >= 1) when the masked modality is used', undefined);
    modalities[name] = modality(`config.modalities.${name}`, rawMods[name], kind, type, train.conditionDropout);
  }
  mods.done();
  // Cross-field checks the U-Net has only one of.
  const onPath = (path: string) => Object.entries(modalities).filter(([, c]) => c.conditioning === path).map(([n]) => n);
  if (onPath('class').length > 1) fail('config.modalities', "at most one modality with conditioning 'class'", onPath('class').join(', '));
  if (onPath('extra').length > 1) fail('config.modalities', "at most one modality with conditioning 'extra'", onPath('extra').join(', '));
  root.done();
  return { seed, data, schedule, model, modalities, train };
}

function modality(path: string, json: unknown, kind: 'categorical' | 'gaussian', model: 'mlp' | 'unet', dropout: number): ModalityConfig {
  const f = Fields.of(path, json ?? {});
  const rawWeight = f.raw('weight') ?? 0.05;
  let weight: WeightConfig;
  if (typeof rawWeight === 'number') {
    if (!(Number.isFinite(rawWeight) && rawWeight >= 0)) fail(`${path}.weight`, 'a number >= 0 (c of w_t = c sqrt(alphaBar_t)) or a weight object', rawWeight);
    weight = { kind: 'sqrtAlphaBar', c: rawWeight };
  } else {
    const w = Fields.of(`${path}.weight`, rawWeight);
    const wk = w.oneOf('kind', ['sqrtAlphaBar', 'constant'] as const);
    weight = wk === 'sqrtAlphaBar' ? { kind: wk, c: w.num('c', { min: 0 }) } : { kind: wk, w: w.num('w', { min: 0 }), form: w.oneOf('form', ['w', 'wPrime'] as const, 'w') };
    w.done();
  }
  const categorical = kind === 'categorical';
  const encoder = f.oneOf('encoder', categorical ? (['embedding', 'unet'] as const) : (['identity'] as const), categorical ? (model === 'unet' ? 'unet' : 'embedding') : 'identity');
  if (encoder === 'unet' && model !== 'unet') fail(`${path}.encoder`, '"embedding" for an MLP model', encoder);
  const heads = model === 'mlp' ? (['linear', 'none'] as const) : categorical ? (['middle', 'classifier', 'none'] as const) : (['output', 'none'] as const);
  const head = f.oneOf('head', heads, heads[0]);
  const paths = model === 'mlp' ? (['input', 'none'] as const) : categorical ? (['class', 'none'] as const) : (['extra', 'none'] as const);
  const conditioning = f.oneOf('conditioning', paths, paths[0]);
  const config: ModalityConfig = {
    weight,
    encoder,
    encoderGradient: f.bool('encoderGradient', false),
    head,
    conditioning,
    conditionDropout: f.num('conditionDropout', { min: 0, max: 1 }, dropout),
    headWeight: f.num('headWeight', { min: 0 }, 1),
  };
  f.done();
  return config;
}
