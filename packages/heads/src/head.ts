import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import { decodeSafetensors, encodeSafetensors, loadSafetensors, saveSafetensors, type SafeTensor } from '@mtd/io';
import { assignFromSafeTensors, checkInt, fail, ParamStore, paramsToSafeTensors, type Param } from '@mtd/nn';

/**
 * The backbone output a head reads. `middle` and `decoderFeatures` are @mtd/unet's taps; `eps`
 * is the noise prediction and `x0` the image estimate the caller computes from it (MATH.md 3).
 * Any other key works if the caller provides it.
 */
export type TapName = 'middle' | 'decoderFeatures' | 'eps' | 'x0' | (string & {});

/** The decoder distribution of MATH.md 4: Gaussian (scored by MSE) or categorical (logits, cross-entropy). */
export type HeadKind = 'gaussian' | 'categorical';

export interface HeadContext {
  /** True during a training step (no head uses it yet; heads with dropout would). */
  training?: boolean;
}

/**
 * A decoder head `D_i` (MATH.md 3): reads one named tap of the backbone and predicts a
 * modality. Taps come as a plain record so a head never depends on the U-Net.
 */
export interface Head {
  readonly name: string;
  readonly tap: TapName;
  readonly kind: HeadKind;
  /** The head's prediction (values for gaussian, logits for categorical); a new tensor owned by the caller. */
  forward(taps: Readonly<Record<string, tf.Tensor>>, ctx?: HeadContext): tf.Tensor;
  /** Trainable variables, in the order of `parameterNames`. */
  readonly variables: tf.Variable[];
  /** PyTorch-style names, e.g. `0.weight` for the first layer of an `nn.Sequential`. */
  readonly parameterNames: string[];
  parameterCount(): number;
  /** Weights in safetensors (PyTorch names and layouts), with the head's options in the metadata. */
  toSafetensors(): Promise<Uint8Array>;
  /** Loads weights; any name, shape or dtype mismatch is rejected before anything changes. */
  fromSafetensors(bytes: Uint8Array): void;
  save(path: string): Promise<void>;
  load(path: string): Promise<void>;
  dispose(): void;
}

/** Shared machinery: named parameters, safetensors I/O, tap checks, disposal. */
export abstract class BaseHead implements Head {
  readonly name: string;
  abstract readonly tap: TapName;
  abstract readonly kind: HeadKind;
  protected readonly store: ParamStore;
  private disposed = false;

  protected constructor(
    protected readonly where: string,
    name: unknown,
    seed: unknown,
    private readonly options: object,
  ) {
    if (typeof name !== 'string' || name === '') fail(where, 'options.name', 'a non-empty string', name);
    this.name = name;
    this.store = new ParamStore(createRng(checkInt(where, 'options.seed', seed ?? 0, 0)).fork('init'));
  }

  abstract forward(taps: Readonly<Record<string, tf.Tensor>>, ctx?: HeadContext): tf.Tensor;

  private get params(): Param[] {
    return this.store.params;
  }

  get variables(): tf.Variable[] {
    return this.params.map((p) => p.variable);
  }

  get parameterNames(): string[] {
    return this.params.map((p) => p.name);
  }

  parameterCount(): number {
    return this.params.reduce((n, p) => n + p.variable.size, 0);
  }

  async toSafetensors(): Promise<Uint8Array> {
    this.checkAlive('toSafetensors');
    return encodeSafetensors(await paramsToSafeTensors(this.params), this.metadata());
  }

  fromSafetensors(bytes: Uint8Array): void {
    this.fromSafeTensorRecord(decodeSafetensors(bytes).tensors, `${this.label}.fromSafetensors`);
  }

  /** Loads decoded safetensors (`{ name: SafeTensor }`, PyTorch layout) with the same checks. */
  fromSafeTensorRecord(tensors: Record<string, SafeTensor>, where = `${this.label}.fromSafeTensorRecord`): void {
    this.checkAlive('fromSafeTensorRecord');
    assignFromSafeTensors(where, this.params, tensors);
  }

  async save(path: string): Promise<void> {
    this.checkAlive('save');
    await saveSafetensors(path, await paramsToSafeTensors(this.params), this.metadata());
  }

  async load(path: string): Promise<void> {
    this.checkAlive('load');
    const file = await loadSafetensors(path);
    this.fromSafeTensorRecord(file.tensors, `${this.label}.load(${path})`);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.params) p.variable.dispose();
  }

  /** Reads `taps[this.tap]` and checks it is a live float32 `[B, ...shape]` tensor (`-1` = any size). */
  protected readTap(taps: Readonly<Record<string, tf.Tensor>>, shape: readonly number[]): tf.Tensor {
    const where = `${this.label}.forward`;
    this.checkAlive('forward');
    if (taps === null || typeof taps !== 'object') fail(where, 'taps', 'a record of named tensors', taps);
    const x = taps[this.tap];
    const want = `a float32 tensor [B, ${shape.map((d) => (d < 0 ? '?' : String(d))).join(', ')}]`;
    if (!(x instanceof tf.Tensor) || x.dtype !== 'float32' || x.rank !== shape.length + 1 || x.shape[0] < 1) {
      fail(where, `taps.${this.tap}`, want, x);
    }
    if (shape.some((d, i) => d >= 0 && x.shape[i + 1] !== d)) fail(where, `taps.${this.tap}`, want, x);
    if (x.isDisposed) fail(where, `taps.${this.tap}`, 'a live tensor', 'a disposed tensor');
    return x;
  }

  protected get label(): string {
    return `${this.where}(${this.name})`;
  }

  private metadata(): Record<string, string> {
    return { format: 'pt', 'mtd.head.type': this.where, 'mtd.head.options': JSON.stringify(this.options) };
  }

  private checkAlive(method: string): void {
    if (this.disposed) throw new Error(`${this.label}.${method}: this head was disposed`);
  }
}

export function checkKind(where: string, kind: unknown): HeadKind {
  if (kind !== 'gaussian' && kind !== 'categorical') fail(where, 'options.kind', '"gaussian" or "categorical"', kind);
  return kind;
}

export function checkTap(where: string, tap: unknown): TapName {
  if (typeof tap !== 'string' || tap === '') fail(where, 'options.tap', 'a non-empty tap name', tap);
  return tap;
}
