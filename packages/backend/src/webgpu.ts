import * as tf from '@tensorflow/tfjs';
import { setWebgpuGroupNorm } from './kernels/groupNormWgsl.js';
import { setWebgpuSilu } from './kernels/siluWgsl.js';
import { setWebgpuCounterNormal } from './kernels/counterNormalWgsl.js';
import { setWebgpuFlatCopies } from './kernels/flatCopies.js';
import { setLeadingSumWgsl } from './kernels/leadingSumWgsl.js';
import { setConv2dBackpropInputWgslTiling, setConv2dWgsl, setConv2dWgslTiling } from './kernels/conv2dWgsl.js';
import { setConv2dFilterGradWgslTiling } from './kernels/conv2dFilterGradWgsl.js';
import { DEFAULT_CONV_TILING, DEFAULT_FILTER_GRADIENT_TILING, DEFAULT_INPUT_GRADIENT_TILING, parseGemmTiling, type GemmTiling } from './kernels/gemmTiling.js';
import { setMatMulWgsl } from './kernels/matMulWgsl.js';
import { setWebgpuAdamUpdate } from './kernels/adamUpdateWgsl.js';
import { setWebgpuEmaUpdate } from './kernels/emaUpdateWgsl.js';
import { setWebgpuFilterGradient, type WebgpuFilterGradient } from './kernels/register.js';
import { activeRecording, RECORDING_HOOKS, type GpuCommandEncoderLike } from './graph/stepRecording.js';

/**
 * WebGPU under Node through Dawn (the npm package `webgpu`, which ships `dawn.node`).
 *
 * tfjs-backend-webgpu registers its factory at import time only if `navigator.gpu` exists, and a
 * later `tf.removeBackend('webgpu')` deletes that factory for good (the module is cached). So this
 * file registers its own factory, equivalent to the package's, that it can register again after a
 * release and that remembers the `GPUDevice` so `releaseWebgpu` can destroy it: a live device keeps
 * Node's event loop running (PLATFORM.md), so a CLI that used WebGPU never exits without it.
 */

/** Options for the WebGPU probe. */
export interface WebgpuOptions {
  /**
   * Dawn instance flags passed to `create()`, e.g. `'enable-dawn-features=allow_unsafe_apis'`
   * (needed for GPU timestamps in `tf.profile`). Only used when the Dawn instance is created, i.e.
   * the first time WebGPU initialises after the process started or after `releaseBackend()`.
   */
  dawnFlags?: readonly string[];
  /**
   * Accept a software adapter (llvmpipe/lavapipe, SwiftShader) in `'auto'` mode. Off by default
   * because such an adapter is ~10x slower than the wasm backend on the same CPU (PLATFORM.md);
   * an explicit `'webgpu'` choice always accepts it.
   */
  allowSoftwareAdapter?: boolean;
  /**
   * Dispatches tfjs records before it submits them to the GPU (tfjs's flag
   * `WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE`). Unset: tfjs's own default, 15. Measured on an H100
   * (BENCHMARKS.md): a refUNet step at batch 64, bound by CPU time, ran 10-17% faster with 256; at
   * batch 256, bound by the GPU, 8-21% slower (the GPU waits for the first submit). Set each time
   * WebGPU is selected.
   */
  submitBatchSize?: number;
  /**
   * How the registered `Conv2DBackpropFilter` computes: `'wgsl'` (default; an implicit-GEMM WGSL
   * program that never stores the patches) or `'im2col'` (patches copied out, then a split-K
   * matMul). On an H200 a refUNet step at batch 256 ran 630 -> 925 img/s with `'wgsl'`
   * (BENCHMARKS.md).
   */
  filterGradient?: WebgpuFilterGradient;
  /**
   * `'wgsl'` (default): sums over leading axes (bias gradients, GroupNorm's dgamma/dbeta, the
   * gradient norm) by WGSL programs that skip tfjs's transpose and split long reductions across
   * workgroups; a refUNet step at batch 256 ran 16% faster on an H200 (BENCHMARKS.md). `'tfjs'`:
   * tfjs's own kernel.
   */
  reductions?: 'tfjs' | 'wgsl';
  /**
   * `'wgsl'` (default): registers the fused GroupNorm kernels (`MtdGroupNorm`, `MtdGroupNormGrad`)
   * that `@mtd/nn`'s `groupNorm` then uses: 2 dispatches forward and 4 backward instead of ~35; a
   * refUNet step ran 18% (batch 64) and 26% (batch 256) faster on an H200 (BENCHMARKS.md).
   * `'tfjs'`: none registered, so `groupNorm` runs as tfjs ops.
   */
  groupNorm?: 'tfjs' | 'wgsl';
  /**
   * `'wgsl'` (default): the registered `Conv2D` runs NHWC convs with 16k input and 4k output
   * channels as a WGSL implicit GEMM in `gemmTiles.conv` tiles (also the stride-1 input gradient,
   * computed as a forward conv, in `gemmTiles.inputGradient` tiles); others stay with tfjs's
   * kernel. On an H200 a refUNet step's forward convs took 30 ms of GPU time instead of 43, its
   * input gradients 32 instead of 45 (batch 256, both in 64x64/4x4/k16 tiles; BENCHMARKS.md).
   * `'tfjs'`: tfjs's kernel for all.
   */
  conv2d?: 'tfjs' | 'wgsl';
  /**
   * `'wgsl'` (default): registers the fused SiLU kernels (`MtdSilu`, `MtdSiluGrad`) that
   * `@mtd/nn`'s `silu` then uses: one dispatch forward and one backward instead of 2 and 5, and
   * no saved sigmoid (counted on lavapipe; not yet timed on a GPU). `'tfjs'`: tfjs ops.
   */
  silu?: 'tfjs' | 'wgsl';
  /**
   * `'wgsl'` (default): registers `MtdCounterNormal`, so `@mtd/sampler`'s `counterNormal` (the
   * trainer's and the samplers' noise) draws on the GPU instead of computing every normal on the
   * host and uploading it; the values are the host's up to float32 rounding of log, sin and cos.
   * `'host'`: none registered, the host draws.
   */
  noise?: 'host' | 'wgsl';
  /**
   * `'copies'` (default): registers `MtdFlatConcat` / `MtdFlatSplit` as GPU buffer copies, which
   * `@mtd/train`'s flat Adam, EMA and gradient norm use to flatten the parameters and write them
   * back (1 command per tensor instead of tfjs's slice and concat programs: 475 of a refUNet
   * step's 1,605 dispatches). `'programs'`: `@mtd/train` registers its own, on tfjs's Concat
   * and Slice programs.
   */
  flatCopies?: 'copies' | 'programs';
  /**
   * The register-blocked tilings of the WGSL conv GEMMs (`GemmTiling`), each a name
   * `<tile M>x<tile N>/<per thread M>x<per thread N>/k<16|32>[+p]` (`+p`: the next step's loads
   * issued before this step's arithmetic); `GEMM_TILING_CANDIDATES` lists the forms `bench:conv`
   * times. Defaults, the best measured on an H100 (refUNet, batch 256):
   * - `conv`, the forward conv: `'64x64/8x8/k16+p'` (64x64 output tiles, 8x8 per thread, 16
   *   values of k a step, prefetching);
   * - `inputGradient`, the stride-1 input gradient (the same GEMM over `dy` with the flipped
   *   filter; it has its own tiling because its best differs): `'128x64/8x4/k16+p'`;
   * - `filterGradient`, the filter gradient and the long-K `a^T b` of `matMul: 'wgsl'`:
   *   `'64x64/4x4/k16+p'`.
   * A k32 tiling runs at 16 values of k for reduced channel counts that are not multiples of 32;
   * partial tiles at the edges are masked. Any valid name is accepted; an invalid one throws.
   */
  gemmTiles?: { conv?: string; inputGradient?: string; filterGradient?: string };
  /**
   * `'wgsl'` (default): the registered `BatchMatMul` computes a long-K `a^T b` with a small result
   * (a dense layer's weight gradient over a large batch of rows, e.g. refUNet's attention
   * projections) by the split-K filter-gradient GEMM instead of tfjs's kernel, which gives it one
   * workgroup per 32x32 output tile (48 for a 128 x 384 result). `'tfjs'`: tfjs's kernel for all.
   */
  matMul?: 'tfjs' | 'wgsl';
  /**
   * With `groupNorm: 'wgsl'`: `'fused'` (default) registers `MtdGroupNormSilu` and its gradient
   * `MtdGroupNormSiluGrad`, so `@mtd/nn`'s `groupNormSilu` runs as one kernel in sampling and
   * in training (the SiLU's derivative folded into GroupNorm's gradient passes: per layer one
   * dispatch forward and one backward fewer, and neither the normalised value nor its gradient
   * stored); `'separate'`: neither, so it runs GroupNorm then SiLU.
   */
  groupNormSilu?: 'fused' | 'separate';
  /**
   * `'wgsl'` (default): registers `MtdAdamUpdate` and `MtdEmaUpdate`, which `@mtd/train`'s flat
   * `Adam` and `Ema` then use: a whole Adam step (clip scale, moments, bias-corrected update,
   * weight decay, the finite-loss guard) as one program reading 4 parameter-sized vectors and
   * writing 3, instead of ~20 elementwise programs and a Tile per guarded select; an EMA step as
   * one instead of 5. `'ops'`: none registered, tfjs ops.
   */
  optimizer?: 'ops' | 'wgsl';
}

/** The options that apply each time WebGPU is selected: all checked before any is applied. */
function applyWebgpuSettings(options: WebgpuOptions): void {
  const filterGradient = oneOf('filterGradient', options.filterGradient ?? 'wgsl', ['im2col', 'wgsl'] as const);
  const reductions = oneOf('reductions', options.reductions ?? 'wgsl', ['tfjs', 'wgsl'] as const);
  const groupNorm = oneOf('groupNorm', options.groupNorm ?? 'wgsl', ['tfjs', 'wgsl'] as const);
  const conv2d = oneOf('conv2d', options.conv2d ?? 'wgsl', ['tfjs', 'wgsl'] as const);
  const silu = oneOf('silu', options.silu ?? 'wgsl', ['tfjs', 'wgsl'] as const);
  const noise = oneOf('noise', options.noise ?? 'wgsl', ['host', 'wgsl'] as const);
  const groupNormSilu = oneOf('groupNormSilu', options.groupNormSilu ?? 'fused', ['fused', 'separate'] as const);
  const optimizer = oneOf('optimizer', options.optimizer ?? 'wgsl', ['ops', 'wgsl'] as const);
  const matMul = oneOf('matMul', options.matMul ?? 'wgsl', ['tfjs', 'wgsl'] as const);
  const flatCopies = oneOf('flatCopies', options.flatCopies ?? 'copies', ['copies', 'programs'] as const);
  const tiles = options.gemmTiles ?? {};
  const unknownTiles = Object.keys(tiles).filter((k) => !['conv', 'inputGradient', 'filterGradient'].includes(k));
  if (unknownTiles.length > 0) {
    throw new RangeError(`selectBackend: options.webgpu.gemmTiles takes conv, inputGradient and filterGradient, got ${unknownTiles.join(', ')}`);
  }
  const tiling = (key: keyof NonNullable<WebgpuOptions['gemmTiles']>, fallback: GemmTiling): GemmTiling =>
    tiles[key] === undefined ? fallback : parseGemmTiling(tiles[key], `selectBackend: options.webgpu.gemmTiles.${key}`);
  const convTiling = tiling('conv', DEFAULT_CONV_TILING);
  const inputGradTiling = tiling('inputGradient', DEFAULT_INPUT_GRADIENT_TILING);
  const filterGradTiling = tiling('filterGradient', DEFAULT_FILTER_GRADIENT_TILING);
  const size = options.submitBatchSize;
  if (size !== undefined && (!Number.isInteger(size) || size < 1)) {
    throw new RangeError(`selectBackend: options.webgpu.submitBatchSize must be an integer >= 1, got ${String(size)}`);
  }
  setWebgpuFilterGradient(filterGradient);
  setLeadingSumWgsl(reductions === 'wgsl');
  setWebgpuGroupNorm(groupNorm === 'wgsl', groupNormSilu === 'fused');
  setConv2dWgsl(conv2d === 'wgsl');
  setConv2dWgslTiling(convTiling);
  setConv2dBackpropInputWgslTiling(inputGradTiling);
  setMatMulWgsl(matMul === 'wgsl');
  setWebgpuAdamUpdate(optimizer === 'wgsl');
  setWebgpuEmaUpdate(optimizer === 'wgsl');
  setConv2dFilterGradWgslTiling(filterGradTiling);
  setWebgpuSilu(silu === 'wgsl');
  setWebgpuCounterNormal(noise === 'wgsl');
  setWebgpuFlatCopies(flatCopies === 'copies');
  if (size !== undefined) tf.env().set('WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE', size);
}

function oneOf<T extends string>(name: string, value: unknown, allowed: readonly T[]): T {
  if (!allowed.includes(value as T)) {
    throw new RangeError(`selectBackend: options.webgpu.${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${String(value)}`);
  }
  return value as T;
}

/** What the probe learnt about the adapter; `software` is true for CPU rasterisers. */
export interface AdapterSummary {
  description: string;
  software: boolean;
}

/*
 * Just the parts of the WebGPU API this file touches, so the package needs no `@webgpu/types`
 * (the DOM typings would otherwise leak into every consumer's compilation).
 */
interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
}
interface GpuDeviceLike {
  destroy(): void;
  readonly queue?: { onSubmittedWorkDone(): Promise<void> };
  readonly lost?: Promise<unknown>;
}
interface GpuAdapterLike {
  readonly features: { has(name: string): boolean };
  readonly limits: Record<string, number>;
  readonly info?: GpuAdapterInfoLike;
  readonly isFallbackAdapter?: boolean;
  requestDevice(descriptor?: {
    requiredFeatures?: string[];
    requiredLimits?: Record<string, number | undefined>;
  }): Promise<GpuDeviceLike>;
}
interface GpuLike {
  requestAdapter(options?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

interface WebgpuState {
  /** The `navigator` property we replaced, so release can restore it. */
  hadNavigator: boolean;
  previousNavigator: unknown;
  previousGpu: PropertyDescriptor | undefined;
  gpu: GpuLike;
  device: GpuDeviceLike | null;
}

let state: WebgpuState | null = null;
/** The adapter behind the live backend, from the probe that created it. */
let liveAdapter: AdapterSummary | null = null;
let lastFactoryError: unknown = null;

/** The `GPU` object we installed as `navigator.gpu`, if any. */
function installedGpu(): GpuLike | null {
  return state?.gpu ?? null;
}

/** Loads Dawn and installs `navigator.gpu` and the WebGPU globals (`GPUBufferUsage`, ...). */
async function installDawn(flags: readonly string[]): Promise<GpuLike> {
  const existing = installedGpu();
  if (existing !== null) return existing;
  // Dynamic so that a missing or broken native module is a reported reason, not an import crash.
  const webgpu = (await import('webgpu')) as unknown as {
    create: (flags: string[]) => GpuLike;
    globals: Record<string, unknown>;
  };
  const gpu = webgpu.create([...flags]);
  for (const [name, value] of Object.entries(webgpu.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  const g = globalThis as { navigator?: Record<string, unknown> };
  const hadNavigator = 'navigator' in globalThis && g.navigator != null;
  const previousNavigator = g.navigator;
  let previousGpu: PropertyDescriptor | undefined;
  if (hadNavigator) {
    previousGpu = Object.getOwnPropertyDescriptor(g.navigator, 'gpu');
    Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true, writable: true });
  } else {
    Object.defineProperty(globalThis, 'navigator', {
      value: { gpu },
      configurable: true,
      writable: true,
    });
  }
  state = { hadNavigator, previousNavigator, previousGpu, gpu, device: null };
  return gpu;
}

/** Puts `navigator` back as it was before `installDawn`. */
function uninstallDawn(): void {
  if (state === null) return;
  const g = globalThis as { navigator?: Record<string, unknown> };
  if (state.hadNavigator) {
    const nav = state.previousNavigator as Record<string, unknown>;
    if (state.previousGpu) Object.defineProperty(nav, 'gpu', state.previousGpu);
    else delete nav.gpu;
    if (g.navigator !== nav) {
      Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
    }
  } else {
    delete g.navigator;
  }
  state = null;
}

const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|swiftshader|software/i;

function summarise(adapter: GpuAdapterLike): AdapterSummary {
  const info = adapter.info;
  const parts = [info?.vendor, info?.architecture, info?.description || info?.device]
    .filter((s): s is string => typeof s === 'string' && s.length > 0);
  const description = parts.length > 0 ? parts.join(' / ') : 'unnamed adapter';
  const fallback = adapter.isFallbackAdapter === true;
  return { description, software: fallback || SOFTWARE_ADAPTER.test(parts.join(' ')) };
}

/** The parts of tfjs's WebGPUBackend that `withQueuedUploads` touches. */
interface UploadingBackend {
  tensorMap: { get(dataId: object): { resource: unknown; values: ArrayLike<number> | null; dtype: tf.DataType; shape: number[] } };
  bufferManager: { acquireBuffer(size: number, usage: number): unknown };
  queue: { writeBuffer(buffer: unknown, offset: number, data: ArrayBufferView): void };
  commandEncoder: GpuCommandEncoderLike | null;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  getBufferData(buffer: unknown): Promise<ArrayBuffer>;
}

/**
 * tfjs's WebGPU backend with one method replaced: a tensor made from JS values (every
 * `tf.scalar`, every number passed to an op, every batch) goes to the GPU by `queue.writeBuffer`
 * into a pooled buffer. tfjs creates a mapped staging buffer for each such upload, copies it in the
 * command stream and destroys it after the submit: a refUNet training step made 173 of them
 * (BENCHMARKS.md), and buffer creation was the third-largest CPU cost of a step on an H100.
 * `writeBuffer` is ordered before any later submit, like the uniforms tfjs already writes this way.
 */
function withQueuedUploads(Base: unknown): new (device: unknown, info: unknown) => tf.KernelBackend {
  const Parent = Base as new (device: unknown, info: unknown) => UploadingBackend;
  class QueuedUploadBackend extends Parent {
    /** Marks the class whose hooks a `StepRecording` relies on (stepRecording.ts). */
    readonly [RECORDING_HOOKS] = true;

    override uploadToGPU(dataId: object): void {
      this.queuedUpload(dataId);
      const recording = activeRecording();
      if (recording !== null) recording.owner(this.tensorMap.get(dataId).resource, dataId);
    }

    override ensureCommandEncoderReady(): void {
      const before = this.commandEncoder;
      super.ensureCommandEncoderReady();
      const recording = activeRecording();
      if (recording !== null && this.commandEncoder !== before && this.commandEncoder !== null) recording.encoder(this.commandEncoder);
    }

    override getBufferData(buffer: unknown): Promise<ArrayBuffer> {
      activeRecording()?.readBack();
      return super.getBufferData(buffer);
    }

    private queuedUpload(dataId: object): void {
      const data = this.tensorMap.get(dataId);
      if (data.resource != null || data.values == null || (data.dtype !== 'float32' && data.dtype !== 'int32' && data.dtype !== 'bool')) {
        if (data.resource == null && data.values != null) activeRecording()?.unsupported(`an upload of a ${data.dtype} tensor`);
        super.uploadToGPU(dataId);
        return;
      }
      const given = data.values;
      const values =
        data.dtype === 'float32'
          ? given instanceof Float32Array ? given : Float32Array.from(given)
          : given instanceof Int32Array ? given : Int32Array.from(given);
      if (values.byteLength === 0) {
        super.uploadToGPU(dataId);
        return;
      }
      const usage = GPU_BUFFER_USAGE.STORAGE | GPU_BUFFER_USAGE.COPY_SRC | GPU_BUFFER_USAGE.COPY_DST;
      const buffer = this.bufferManager.acquireBuffer(values.byteLength, usage);
      this.queue.writeBuffer(buffer, 0, values);
      data.values = null;
      data.resource = buffer;
    }
  }
  return QueuedUploadBackend as unknown as new (device: unknown, info: unknown) => tf.KernelBackend;
}

/** WebGPU's buffer usage bits (the spec's values; Node has no GPUBufferUsage global until Dawn loads). */
const GPU_BUFFER_USAGE = { COPY_SRC: 0x0004, COPY_DST: 0x0008, STORAGE: 0x0080 } as const;

/**
 * Mirrors tfjs-backend-webgpu's own factory (same features and limits), keeping the device.
 * Errors are stashed because `tf.setBackend` swallows them into a console warning.
 */
async function webgpuFactory(): Promise<tf.KernelBackend> {
  try {
    const gpu = installedGpu();
    if (gpu === null) throw new Error('navigator.gpu is not installed');
    const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
    const adapter = await gpu.requestAdapter({
      powerPreference: tf.env().get('WEBGPU_USE_LOW_POWER_GPU') ? 'low-power' : 'high-performance',
    });
    if (adapter === null) throw new Error('requestAdapter() returned null');
    const requiredFeatures: string[] = [];
    if (adapter.features.has('timestamp-query')) requiredFeatures.push('timestamp-query');
    const limits = adapter.limits;
    const device = await adapter.requestDevice({
      requiredFeatures,
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      },
    });
    if (state !== null) state.device = device;
    return new (withQueuedUploads(WebGPUBackend))(device, adapter.info);
  } catch (err) {
    lastFactoryError = err;
    throw err;
  }
}

/**
 * Installs Dawn, checks for an adapter, registers the `webgpu` factory and switches to it.
 * Returns the adapter summary; throws an Error whose message is the reason it cannot run.
 */
export async function initWebgpu(options: WebgpuOptions & { requireHardware: boolean }): Promise<AdapterSummary> {
  if (tf.findBackend('webgpu') !== null) {
    // Already initialised (by us, or by the caller's own setup): reuse it as it is.
    const summary = liveAdapter ?? { description: 'a webgpu backend initialised elsewhere', software: false };
    rejectSoftware(summary, options);
    applyWebgpuSettings(options);
    if (!(await tf.setBackend('webgpu'))) throw new Error("tf.setBackend('webgpu') returned false");
    return summary;
  }
  let gpu: GpuLike;
  try {
    gpu = await installDawn(options.dawnFlags ?? []);
  } catch (err) {
    throw new Error(`the 'webgpu' package (Dawn for Node) did not load: ${message(err)}`);
  }
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (adapter === null) {
    uninstallDawn();
    throw new Error(
      'Dawn found no GPU adapter (no usable Vulkan/Metal/D3D12 device; for WebGPU on the CPU ' +
        'install mesa-vulkan-drivers >= 24, which provides lavapipe)',
    );
  }
  const summary = summarise(adapter);
  try {
    rejectSoftware(summary, options);
  } catch (err) {
    uninstallDawn();
    throw err;
  }
  // The package must be imported after navigator.gpu exists or it leaves WebGPU unregistered,
  // and if it did register its own factory that factory is replaced by ours (same settings).
  await import('@tensorflow/tfjs-backend-webgpu');
  try {
    // The submit-size flag exists once the package is loaded.
    applyWebgpuSettings(options);
  } catch (err) {
    uninstallDawn();
    throw err;
  }
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  tf.registerBackend('webgpu', webgpuFactory, 3);
  lastFactoryError = null;
  const ok = await tf.setBackend('webgpu');
  if (!ok) {
    const why = lastFactoryError === null ? 'see the warning above' : message(lastFactoryError);
    tf.removeBackend('webgpu');
    uninstallDawn();
    throw new Error(`the WebGPU backend failed to initialise on ${summary.description}: ${why}`);
  }
  await tf.ready();
  liveAdapter = summary;
  return summary;
}

function rejectSoftware(summary: AdapterSummary, options: WebgpuOptions & { requireHardware: boolean }): void {
  if (summary.software && options.requireHardware && !options.allowSoftwareAdapter) {
    throw new Error(
      `the adapter Dawn offers is a software rasteriser (${summary.description}), slower than wasm; ` +
        "choose 'webgpu' explicitly or pass webgpu.allowSoftwareAdapter to use it",
    );
  }
}

/** True while a WebGPU device created here is alive. */
export function webgpuIsLive(): boolean {
  return state !== null && state.device !== null;
}

/**
 * Disposes the `webgpu` backend, destroys the device and restores `navigator`, so Node can exit.
 * If `webgpu` was the active backend the caller must switch to another one first.
 */
export async function releaseWebgpu(): Promise<void> {
  const device = state?.device ?? null;
  // An orderly end: the GPU finishes what was submitted before the buffers and the device go,
  // and the device is gone before Dawn is dropped. Tearing down with work in flight is the
  // likeliest cause of the rare exit-time aborts ("std::system_error") and hangs seen in test
  // workers on lavapipe.
  if (device?.queue) await settle(device.queue.onSubmittedWorkDone());
  if (tf.findBackendFactory('webgpu') !== null) tf.removeBackend('webgpu');
  device?.destroy();
  if (device?.lost) await settle(device.lost);
  uninstallDawn();
  liveAdapter = null;
}

/** Waits for `promise`, at most 5 s, ignoring its outcome. */
async function settle(promise: Promise<unknown>): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, 5000);
  });
  await Promise.race([promise.then(() => undefined, () => undefined), limit]);
  clearTimeout(timer);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
