import * as tf from '@tensorflow/tfjs';
import { registerTrainingKernels } from './kernels/register.js';
import { initTensorflow } from './tensorflowNode.js';
import { initWasm } from './wasm.js';
import { initWebgpu, releaseWebgpu, type WebgpuOptions } from './webgpu.js';

/** A backend `selectBackend` can be asked for; `'auto'` picks the fastest that works. */
export type BackendChoice = 'auto' | 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** A concrete tfjs backend name `selectBackend` can end on. */
export type BackendName = Exclude<BackendChoice, 'auto'>;

/** One backend `selectBackend` considered: whether it runs, and why (or why not). */
export interface BackendAttempt {
  name: BackendName;
  ok: boolean;
  reason: string;
}

export interface BackendSelection {
  /** The backend now active (`tf.getBackend()`). */
  name: BackendName;
  /** Every backend considered, in order; exactly one has `ok: true` (the last). */
  tried: BackendAttempt[];
}

export interface SelectBackendOptions {
  webgpu?: WebgpuOptions;
  /**
   * Register the replacement kernels training needs (default true). Off only to compare against
   * tfjs's own kernels.
   */
  registerKernels?: boolean;
}

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'tensorflow', 'webgpu', 'wasm', 'cpu'];

/** The order `'auto'` tries backends in: native TensorFlow, then GPU, then wasm SIMD, then pure JS. */
const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

/**
 * Switches TensorFlow.js to the requested backend, registers the kernels it lacks for training
 * (see `registerTrainingKernels`) and reports what it tried.
 *
 * `'auto'` tries, in order: `tensorflow` (only if the user installed `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node`), `webgpu` through Dawn (hardware adapters only, unless
 * `webgpu.allowSoftwareAdapter`), `wasm` (SIMD, one thread), then `cpu`. A named choice that cannot
 * run throws an Error that says why.
 *
 * A process that initialised WebGPU does not exit by itself: call `releaseBackend()` when done.
 */
export async function selectBackend(
  choice: BackendChoice,
  options: SelectBackendOptions = {},
): Promise<BackendSelection> {
  if (typeof choice !== 'string' || !BACKEND_CHOICES.includes(choice)) {
    throw new RangeError(
      `selectBackend: choice must be one of ${BACKEND_CHOICES.map((c) => `'${c}'`).join(', ')}, got ${describe(choice)}`,
    );
  }
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`selectBackend: options must be an object, got ${describe(options)}`);
  }
  const tried: BackendAttempt[] = [];
  const candidates = choice === 'auto' ? AUTO_ORDER : [choice];
  for (const name of candidates) {
    const attempt = await tryBackend(name, choice === 'auto', options);
    tried.push(attempt);
    if (attempt.ok) {
      if (options.registerKernels !== false) registerTrainingKernels(name);
      return { name, tried };
    }
  }
  const last = tried[tried.length - 1];
  if (choice !== 'auto') {
    throw new Error(`selectBackend: backend '${choice}' is not available: ${last?.reason ?? 'unknown reason'}`);
  }
  // Unreachable in practice: cpu is always registered by @tensorflow/tfjs.
  throw new Error(`selectBackend: no backend could be initialised: ${tried.map((t) => `${t.name}: ${t.reason}`).join('; ')}`);
}

async function tryBackend(name: BackendName, auto: boolean, options: SelectBackendOptions): Promise<BackendAttempt> {
  try {
    switch (name) {
      case 'tensorflow':
        await initTensorflow();
        return { name, ok: true, reason: 'native TensorFlow (tfjs-node) is installed' };
      case 'webgpu': {
        const adapter = await initWebgpu({ ...options.webgpu, requireHardware: auto });
        const kind = adapter.software ? 'software adapter, for correctness checks only' : 'hardware adapter';
        return { name, ok: true, reason: `WebGPU via Dawn on ${adapter.description} (${kind})` };
      }
      case 'wasm':
        await initWasm();
        return {
          name,
          ok: true,
          reason: `wasm${tf.env().getBool('WASM_HAS_SIMD_SUPPORT') ? ' with SIMD' : ''}, one thread (tfjs has no wasm threads under Node)`,
        };
      case 'cpu':
        if (!(await tf.setBackend('cpu'))) throw new Error("tf.setBackend('cpu') returned false");
        await tf.ready();
        return { name, ok: true, reason: 'pure-JavaScript backend, always available (slow)' };
    }
  } catch (err) {
    return { name, ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * Lets Node exit after WebGPU was used: disposes the `webgpu` backend and its device and removes
 * the `navigator.gpu` that `selectBackend` installed. Tensors that lived on WebGPU are gone after
 * this. If WebGPU was active, `cpu` becomes the active backend. Safe to call more than once and
 * when WebGPU was never initialised; a later `selectBackend('webgpu')` starts it afresh.
 * CLIs and test workers must call it (or `process.exit`) before they finish.
 */
export async function releaseBackend(): Promise<void> {
  const wasActive = tf.getBackend() === 'webgpu';
  if (wasActive) await tf.setBackend('cpu');
  await releaseWebgpu();
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  return typeof value;
}
