import * as tf from '@tensorflow/tfjs';
import { selectBackend, type BackendName, type SelectBackendOptions } from './selectBackend.js';

/**
 * Helpers for running the same test on every backend this machine has.
 *
 * WebGPU under Node cannot `dataSync()` (it needs OffscreenCanvas), so a test body that must run
 * on every backend reads results with `await t.data()` / `await t.array()`. A test process that
 * initialised WebGPU must call `releaseBackend()` at the end (a vitest `afterAll`), or it never exits.
 */

/** The backends a shared test runs on, in order; 'tensorflow' is never probed here. */
export const TEST_BACKENDS: readonly BackendName[] = ['cpu', 'wasm', 'webgpu'];

const probed = new Map<BackendName, boolean>();

/**
 * Which of cpu, wasm and webgpu initialise on this machine (webgpu includes software adapters such
 * as lavapipe). Probed once per process; the active backend is restored afterwards. The
 * environment variable `MTD_TEST_BACKENDS` (comma-separated, e.g. `cpu,wasm`) limits the list,
 * e.g. to skip WebGPU where lavapipe is too slow.
 */
export async function availableBackends(options: SelectBackendOptions = {}): Promise<BackendName[]> {
  const wanted = wantedBackends();
  const previous = tf.getBackend() as string | undefined;
  const found: BackendName[] = [];
  for (const name of wanted) {
    if (!probed.has(name)) {
      try {
        await selectBackend(name, options);
        probed.set(name, true);
      } catch {
        probed.set(name, false);
      }
    }
    if (probed.get(name) === true) found.push(name);
  }
  if (previous != null && previous !== tf.getBackend()) await tf.setBackend(previous);
  return found;
}

function wantedBackends(): BackendName[] {
  const raw = process.env.MTD_TEST_BACKENDS;
  if (raw === undefined || raw.trim() === '') return [...TEST_BACKENDS];
  const names = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  for (const n of names) {
    if (!(TEST_BACKENDS as readonly string[]).includes(n)) {
      throw new RangeError(
        `availableBackends: MTD_TEST_BACKENDS entries must be one of ${TEST_BACKENDS.join(', ')}, got ${JSON.stringify(n)}`,
      );
    }
  }
  return names as BackendName[];
}

/**
 * Switches to `name` (through `selectBackend`, so the training kernels are registered), runs `fn`,
 * and switches back to the backend that was active before, even if `fn` throws. Tensors made
 * inside stay on `name`'s memory; read them inside `fn`.
 */
export async function withBackend<T>(
  name: BackendName,
  fn: () => T | Promise<T>,
  options: SelectBackendOptions = {},
): Promise<T> {
  if (typeof fn !== 'function') throw new TypeError(`withBackend: fn must be a function, got ${typeof fn}`);
  const previous = tf.getBackend() as string | undefined;
  await selectBackend(name, options);
  try {
    return await fn();
  } finally {
    if (previous != null && previous !== tf.getBackend()) await tf.setBackend(previous);
  }
}

/**
 * Runs `fn` and counts the synchronous GPU-to-CPU downloads the active backend made: `readSync`
 * calls for data that has no CPU copy, which `dataSync()` and a few kernels trigger (on WebGPU:
 * Tile, BroadcastTo and Concat take a CPU path when their inputs still live on the CPU, which is
 * harmless; for GPU-resident inputs that path would download). Under Node the WebGPU download
 * needs OffscreenCanvas and fails, and on any GPU it stalls the queue, so a training step should
 * make none. Always 0 on backends whose memory is the CPU's (cpu, wasm).
 */
export async function countSyncDownloads<T>(fn: () => T | Promise<T>): Promise<{ result: T; downloads: number }> {
  if (typeof fn !== 'function') throw new TypeError(`countSyncDownloads: fn must be a function, got ${typeof fn}`);
  const backend = tf.backend() as unknown as {
    readSync: (dataId: object) => unknown;
    tensorMap?: { get(dataId: object): { values?: unknown } | undefined };
  };
  const original = backend.readSync;
  let downloads = 0;
  backend.readSync = function (this: unknown, dataId: object) {
    // GPU backends keep a `tensorMap` whose entries hold `values` once the data is on the CPU.
    const entry = backend.tensorMap?.get(dataId);
    if (entry !== undefined && entry.values == null) downloads++;
    return original.call(this, dataId);
  };
  try {
    const result = await fn();
    return { result, downloads };
  } finally {
    backend.readSync = original;
  }
}
