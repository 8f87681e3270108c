import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { availableBackends, countSyncDownloads, withBackend } from './harness.js';

const savedEnv = process.env.MTD_TEST_BACKENDS;
afterEach(() => {
  if (savedEnv === undefined) delete process.env.MTD_TEST_BACKENDS;
  else process.env.MTD_TEST_BACKENDS = savedEnv;
});

describe('availableBackends', () => {
  it('finds cpu and wasm here (and webgpu where Dawn has an adapter), and restores the active backend', async () => {
    await tf.setBackend('cpu');
    const found = await availableBackends();
    expect(found.slice(0, 2)).toEqual(['cpu', 'wasm']);
    expect(found.every((b) => ['cpu', 'wasm', 'webgpu'].includes(b))).toBe(true);
    expect(tf.getBackend()).toBe('cpu');
  });

  it('is limited by MTD_TEST_BACKENDS, and rejects unknown names there', async () => {
    process.env.MTD_TEST_BACKENDS = 'wasm, cpu';
    expect(await availableBackends()).toEqual(['wasm', 'cpu']);
    process.env.MTD_TEST_BACKENDS = 'cpu,tpu';
    await expect(availableBackends()).rejects.toThrow(/MTD_TEST_BACKENDS entries must be one of cpu, wasm, webgpu, got "tpu"/);
  });
});

describe('withBackend', () => {
  it('runs fn on the backend, returns its value and restores the previous backend', async () => {
    await tf.setBackend('cpu');
    const seen = await withBackend('wasm', () => tf.getBackend());
    expect(seen).toBe('wasm');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('restores the previous backend when fn throws', async () => {
    await tf.setBackend('cpu');
    await expect(
      withBackend('wasm', () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(tf.getBackend()).toBe('cpu');
  });

  it('rejects a non-function', async () => {
    // @ts-expect-error bad input on purpose
    await expect(withBackend('cpu', 3)).rejects.toThrow(/withBackend: fn must be a function, got number/);
  });
});

describe('countSyncDownloads', () => {
  it('returns the result and counts nothing on cpu, whose memory is the CPU', async () => {
    await withBackend('cpu', async () => {
      const t = tf.tensor1d([1, 2, 3]);
      const { result, downloads } = await countSyncDownloads(() => Array.from(tf.mul(t, 2).dataSync()));
      expect(result).toEqual([2, 4, 6]);
      expect(downloads).toBe(0);
      t.dispose();
    });
  });

  it('restores readSync afterwards, also when fn throws', async () => {
    await withBackend('cpu', async () => {
      const backend = tf.backend() as unknown as { readSync: unknown };
      const before = backend.readSync;
      await expect(countSyncDownloads(() => Promise.reject(new Error('x')))).rejects.toThrow('x');
      expect(backend.readSync).toBe(before);
    });
  });

  it('rejects a non-function', async () => {
    // @ts-expect-error bad input on purpose
    await expect(countSyncDownloads(null)).rejects.toThrow(/countSyncDownloads: fn must be a function/);
  });
});
