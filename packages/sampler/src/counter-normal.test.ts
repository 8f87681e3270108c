import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { counterNormals } from '@mtd/random';
import { COUNTER_NORMAL_KERNEL, counterNormal } from './counter-normal.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A cpu implementation of the kernel contract, so the op's kernel path runs here too. */
const calls: Array<{ keys: number[]; counter: number; size: number }> = [];
function registerCpuKernel(): void {
  tf.registerKernel({
    kernelName: COUNTER_NORMAL_KERNEL,
    backendName: 'cpu',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { keys } = inputs as { keys: tf.TensorInfo };
      const { counter, size } = attrs as unknown as { counter: number; size: number };
      const bits = Array.from((backend as unknown as { readSync(id: object): Int32Array }).readSync(keys.dataId), (w) => w >>> 0);
      calls.push({ keys: bits, counter, size });
      const values = counterNormals(bits, counter, size);
      return (backend as unknown as { makeTensorInfo(shape: number[], dtype: string, values: Float32Array): tf.TensorInfo }).makeTensorInfo([keys.shape[0]!, size], 'float32', values);
    },
  });
}

afterEach(() => {
  if (tf.getKernel(COUNTER_NORMAL_KERNEL, 'cpu') !== undefined) tf.unregisterKernel(COUNTER_NORMAL_KERNEL, 'cpu');
  calls.length = 0;
});

const word = fc.integer({ min: 0, max: 0xffffffff });

describe('counterNormal', () => {
  it("splits the tensor into one row per key, each row @mtd/random's counterNormals, on the host or through the kernel alike", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(word, word), { minLength: 1, maxLength: 3 }), word, fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 3 }), (pairs, counter, inner) => {
        const keys = pairs.flat();
        const shape = [pairs.length, ...inner];
        const rowSize = inner.reduce((a, d) => a * d, 1);
        const expected = pairs.flatMap((key) => Array.from(counterNormals(key, counter, rowSize)));
        const host = counterNormal(keys, counter, shape);
        expect(host.shape).toEqual(shape);
        expect(Array.from(host.dataSync())).toEqual(expected);
        registerCpuKernel();
        const device = counterNormal(Uint32Array.from(keys), counter, shape);
        tf.unregisterKernel(COUNTER_NORMAL_KERNEL, 'cpu');
        expect(device.shape).toEqual(shape);
        expect(Array.from(device.dataSync())).toEqual(expected);
        expect(calls.pop()).toEqual({ keys, counter, size: rowSize });
        // The keys as an int32 tensor of their bits (a step graph's input): the same, either path.
        const bits = tf.tensor2d(new Int32Array(Uint32Array.from(keys).buffer), [pairs.length, 2], 'int32');
        const fromTensorHost = counterNormal(bits, counter, shape);
        registerCpuKernel();
        const fromTensorDevice = counterNormal(bits, counter, shape);
        tf.unregisterKernel(COUNTER_NORMAL_KERNEL, 'cpu');
        expect(Array.from(fromTensorHost.dataSync())).toEqual(expected);
        expect(Array.from(fromTensorDevice.dataSync())).toEqual(expected);
        tf.dispose([host, device, bits, fromTensorHost, fromTensorDevice]);
      }),
      { numRuns: 60 },
    );
  });

  it('one key over a whole tensor is one row; a zero-size shape gives an empty tensor', () => {
    const t = counterNormal([9, 10], 4, [2, 3]);
    expect(Array.from(t.dataSync())).toEqual(Array.from(counterNormals([9, 10], 4, 6)));
    const empty = counterNormal([1, 2], 0, [0, 5]);
    expect(empty.shape).toEqual([0, 5]);
    tf.dispose([t, empty]);
  });

  it('leaks nothing, on either path', () => {
    for (const kernel of [false, true]) {
      if (kernel) registerCpuKernel();
      const before = tf.memory().numTensors;
      counterNormal([1, 2, 3, 4], 0, [2, 3]).dispose();
      const keys = tf.tensor2d([1, 2, 3, 4], [2, 2], 'int32');
      counterNormal(keys, 0, [2, 3]).dispose();
      keys.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('names the bad argument', () => {
    expect(() => counterNormal([1, 2, 3, 4], 0, [3, 1])).toThrow(/counterNormal: keys must hold two words for each of R rows, R >= 1 dividing the 3 elements of shape \[3, 1\], got 4 words/);
    expect(() => counterNormal([], 0, [2])).toThrow(/counterNormal: keys must hold two words/);
    expect(() => counterNormal([1, 2 ** 32], 0, [2])).toThrow(/counterNormal: keys\[1\] must be an integer in 0\.\.2\^32-1/);
    expect(() => counterNormal([1, 2], 0.5, [2])).toThrow(/counterNormal: counter must be an integer in 0\.\.2\^32-1, got 0.5/);
    const floatKeys = tf.zeros([1, 2]);
    expect(() => counterNormal(floatKeys, 0, [2])).toThrow(/counterNormal: keys as a tensor must be int32 \[R, 2\] \(the words' bits\), R >= 1 dividing the 2 elements of shape \[2\], got float32 \[1, 2\]/);
    floatKeys.dispose();
    expect(() => counterNormal([1, 2], 0, [2, -1])).toThrow(/counterNormal: shape must be an array of integers >= 0, got \[2,-1\]/);
  });
});
