import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { fromTorchLayout, toTorchLayout, torchShape, type Layout } from './layout.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('torchShape', () => {
  it('gives PyTorch shapes: OIHW convs, [out, in, 1] Conv1d, [out, in] Linear, plain unchanged', () => {
    expect(torchShape('conv2d', [3, 3, 4, 8])).toEqual([8, 4, 3, 3]);
    expect(torchShape('conv1d', [4, 12])).toEqual([12, 4, 1]);
    expect(torchShape('linear', [4, 12])).toEqual([12, 4]);
    expect(torchShape('plain', [5, 7])).toEqual([5, 7]);
  });

  it('rejects an unknown layout or a shape of the wrong rank', () => {
    expect(() => torchShape('dense' as Layout, [2, 2])).toThrow('torchShape: layout must be "conv2d", "conv1d", "linear" or "plain", got "dense"');
    expect(() => torchShape('conv2d', [3, 3, 4])).toThrow('torchShape: shape must be a rank-4 tfjs shape for layout "conv2d", got [3, 3, 4]');
    expect(() => torchShape('linear', [4])).toThrow(/torchShape: shape must be a rank-2/);
  });
});

describe('layout conversion', () => {
  it('fromTorchLayout inverts toTorchLayout for every layout (property, 100 runs)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<Layout>('conv2d', 'conv1d', 'linear', 'plain'),
        fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 4, maxLength: 4 }),
        (layout, dims) => {
          const shape = layout === 'conv2d' ? dims : layout === 'plain' ? dims.slice(0, 1) : dims.slice(0, 2);
          const n = shape.reduce((a, b) => a * b, 1);
          const data = Float32Array.from({ length: n }, (_, i) => i + 0.5);
          const torch = toTorchLayout(layout, shape, data);
          const ts = torchShape(layout, shape);
          expect(ts.reduce((a, b) => a * b, 1)).toBe(n);
          expect(Array.from(fromTorchLayout(layout, shape, torch))).toEqual(Array.from(data));
        },
      ),
      { numRuns: 100, seed: 1 },
    );
  });

  it('agrees with tf.transpose', async () => {
    const hwio = tf.randomNormal([3, 2, 4, 5]);
    const torch = toTorchLayout('conv2d', hwio.shape, (await hwio.data()) as Float32Array);
    expect(Array.from(torch)).toEqual(Array.from(await tf.transpose(hwio, [3, 2, 0, 1]).data()));
    const lin = tf.randomNormal([4, 6]);
    expect(Array.from(toTorchLayout('conv1d', lin.shape, (await lin.data()) as Float32Array))).toEqual(Array.from(await tf.transpose(lin).data()));
    expect(Array.from(toTorchLayout('linear', lin.shape, (await lin.data()) as Float32Array))).toEqual(Array.from(await tf.transpose(lin).data()));
    tf.dispose([hwio, lin]);
  });

  it('puts tfjs [y][x][i][o] at file [o][i][y][x] (index arithmetic, non-square kernel)', () => {
    const [kh, kw, ci, co] = [2, 3, 4, 5];
    const data = Float32Array.from({ length: kh * kw * ci * co }, (_, i) => i);
    const torch = toTorchLayout('conv2d', [kh, kw, ci, co], data);
    for (const [y, x, i, o] of [[0, 0, 0, 0], [1, 2, 3, 4], [1, 0, 2, 3], [0, 2, 1, 0]] as const) {
      expect(torch[((o * ci + i) * kh + y) * kw + x]).toBe(data[((y * kw + x) * ci + i) * co + o]);
    }
  });

  it('copies plain data (the result never aliases the input)', () => {
    const data = new Float32Array([1, 2, 3]);
    const out = toTorchLayout('plain', [3], data);
    out[0] = 9;
    expect(data[0]).toBe(1);
  });

  it('rejects data that does not fill the shape', () => {
    expect(() => toTorchLayout('linear', [2, 3], new Float32Array(5))).toThrow('toTorchLayout: data must be a Float32Array of 6 values for tfjs shape [2, 3], got 5 values');
    expect(() => fromTorchLayout('conv2d', [1, 1, 2, 2], new Float64Array(4) as unknown as Float32Array)).toThrow('fromTorchLayout: data must be a Float32Array of 4 values for tfjs shape [1, 1, 2, 2], got Float64Array');
  });
});
