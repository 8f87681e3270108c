import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import type { BackendName } from '../selectBackend.js';
import { registerTrainingKernels, trainingKernelNames, unregisterTrainingKernels } from './register.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe('registerTrainingKernels', () => {
  it('names what each backend gets', () => {
    expect(trainingKernelNames('wasm').sort()).toEqual(
      ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'OneHot', 'ResizeNearestNeighborGrad', 'UnsortedSegmentSum'].sort(),
    );
    expect(trainingKernelNames('cpu').sort()).toEqual(['Conv2DBackpropFilter', 'ResizeNearestNeighborGrad']);
    expect(trainingKernelNames('webgpu')).toEqual(['ResizeNearestNeighborGrad', 'Conv2DBackpropFilter', 'Conv2DBackpropInput', 'AddN', 'Sum', 'Conv2D', 'FusedConv2D', 'BatchMatMul']);
    expect(trainingKernelNames('tensorflow')).toEqual([]);
  });

  it('replaces the kernels, is idempotent and silent, and unregister restores the built-ins', () => {
    const warn = vi.spyOn(console, 'warn');
    registerTrainingKernels('cpu');
    const ours = tf.getKernel(tf.ResizeNearestNeighborGrad, 'cpu')!.kernelFunc;
    registerTrainingKernels('cpu');
    expect(tf.getKernel(tf.ResizeNearestNeighborGrad, 'cpu')!.kernelFunc).toBe(ours);
    unregisterTrainingKernels('cpu');
    const builtin = tf.getKernel(tf.ResizeNearestNeighborGrad, 'cpu')!.kernelFunc;
    expect(builtin).not.toBe(ours);
    registerTrainingKernels('cpu');
    expect(tf.getKernel(tf.ResizeNearestNeighborGrad, 'cpu')!.kernelFunc).not.toBe(builtin);
    expect(warn).not.toHaveBeenCalled();
  });

  it('does nothing for a backend without replacements', () => {
    expect(() => registerTrainingKernels('tensorflow')).not.toThrow();
  });

  it('rejects a bad backend name', () => {
    expect(() => registerTrainingKernels('')).toThrow(/registerTrainingKernels: backendName must be a non-empty string/);
    // @ts-expect-error bad input on purpose
    expect(() => registerTrainingKernels(3)).toThrow(TypeError);
  });

  it("fixes wasm's OneHot for float outputs (fractional on/off values too); int32 still uses the built-in", async (ctx) => {
    if (!backends.includes('wasm')) ctx.skip();
    await withBackend('wasm', async () => {
      const ids = tf.tensor2d([[2, 0], [1, 7]], [2, 2], 'int32');
      const expected = [
        [[0.1, 0.1, 0.9], [0.9, 0.1, 0.1]],
        [[0.1, 0.9, 0.1], [0.1, 0.1, 0.1]],
      ];
      const f = tf.oneHot(ids, 3, 0.9, 0.1, 'float32');
      const got = (await f.array()) as number[][][];
      got.flat(2).forEach((v, i) => expect(v).toBeCloseTo(expected.flat(2)[i]!, 6));
      const n = tf.oneHot(ids, 3);
      expect(n.dtype).toBe('int32');
      expect(await n.array()).toEqual([
        [[0, 0, 1], [1, 0, 0]],
        [[0, 1, 0], [0, 0, 0]],
      ]);
      unregisterTrainingKernels('wasm');
      try {
        const broken = tf.oneHot(ids, 3, 1, 0, 'float32');
        expect((await broken.data())[2]).not.toBe(1);
        broken.dispose();
      } finally {
        registerTrainingKernels('wasm');
      }
      tf.dispose([ids, f, n]);
    });
  });
});
