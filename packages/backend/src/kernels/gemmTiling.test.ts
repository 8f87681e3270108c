import { expectClose } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { conv2dBackpropFilterWgsl } from './conv2dFilterGradWgsl.js';
import { conv2dBackpropInputWgsl, conv2dWgsl } from './conv2dWgsl.js';
import { makeData, tfPad, TOL, type Case } from './convCases.testutil.js';
import {
  DEFAULT_CONV_TILING,
  DEFAULT_FILTER_GRADIENT_TILING,
  DEFAULT_INPUT_GRADIENT_TILING,
  GEMM_TILING_CANDIDATES,
  gemmTilingName,
  parseGemmTiling,
  tilingThreads,
  tilingWorkgroupBytes,
} from './gemmTiling.js';
import { conv2dBackpropFilterRef, conv2dBackpropInputRef, conv2dRef, f64 } from './reference.js';
import type { WebgpuBackendLike } from './wgslProgram.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

describe('parseGemmTiling', () => {
  it('reads every candidate back to its name, the defaults among them', () => {
    for (const name of GEMM_TILING_CANDIDATES) expect(gemmTilingName(parseGemmTiling(name, 'tiling'))).toBe(name);
    expect(parseGemmTiling('64x64/8x8/k16+p', 'tiling')).toEqual(DEFAULT_CONV_TILING);
    expect(parseGemmTiling('128x64/8x4/k16+p', 'tiling')).toEqual(DEFAULT_INPUT_GRADIENT_TILING);
    expect(parseGemmTiling('64x64/4x4/k16+p', 'tiling')).toEqual(DEFAULT_FILTER_GRADIENT_TILING);
    for (const t of [DEFAULT_CONV_TILING, DEFAULT_INPUT_GRADIENT_TILING, DEFAULT_FILTER_GRADIENT_TILING]) expect(GEMM_TILING_CANDIDATES).toContain(gemmTilingName(t));
    const t = parseGemmTiling('128x64/8x4/k16+p', 'tiling');
    expect(t).toEqual({ tileM: 128, tileN: 64, rowsPerThread: 8, colsPerThread: 4, step: 16, prefetch: true });
    expect(tilingThreads(t)).toEqual({ threadsM: 16, threadsN: 16, threads: 256 });
    // (128 + 64) * 16 floats; every candidate fits WebGPU's guaranteed 16 KiB.
    expect(tilingWorkgroupBytes(t)).toBe(12288);
    for (const name of GEMM_TILING_CANDIDATES) expect(tilingWorkgroupBytes(parseGemmTiling(name, 'tiling'))).toBeLessThanOrEqual(16384);
  });

  it('names the option and what it expects for a malformed or impossible tiling', () => {
    expect(() => parseGemmTiling('64x64', 'options.webgpu.gemmTiles.conv')).toThrow(/options\.webgpu\.gemmTiles\.conv must be a tiling like '64x64\/4x4\/k16'.*got 64x64/);
    expect(() => parseGemmTiling(64, 'opt')).toThrow(/opt must be a tiling/);
    expect(() => parseGemmTiling('64x64/4x4/k8', 'opt')).toThrow(/opt must be a tiling/);
    // 2 x 2 threads: too few.
    expect(() => parseGemmTiling('16x16/8x8/k16', 'opt')).toThrow(/opt: 16x16\/8x8\/k16 gives 2 x 2 threads/);
    // 512 threads: too many.
    expect(() => parseGemmTiling('128x64/4x4/k16', 'opt')).toThrow(/gives 32 x 16 threads/);
    // 60 rows do not split into threads of 8.
    expect(() => parseGemmTiling('60x64/8x4/k16', 'opt')).toThrow(/whole threads/);
  });
});

// Rows not a multiple of any tile's (2 x 9 x 7 = 126, 3 x 10 x 11 = 330, 45 rows), output channels
// past one 64- and one 128-wide tile (68, 144), reduced channels that k32 tilings take (32, 64)
// and that send them back to 16 (48, 144), a stride, uneven explicit padding, and for the filter gradient a reduction
// long enough to be split (3 x 28 x 28 rows) with scalar loads (odd channels).
const CONV: Case[] = [
  { label: '3x3 same s1, 48 -> 68', x: [2, 9, 7, 48], k: [3, 3], outC: 68, strides: [1, 1], pad: 'same' },
  { label: '4x2 explicit s1, 64 -> 144', x: [2, 7, 6, 64], k: [4, 2], outC: 144, strides: [1, 1], pad: [[1, 2], [0, 1]] },
  { label: '3x3 valid s2, 32 -> 8', x: [3, 10, 11, 32], k: [3, 3], outC: 8, strides: [2, 2], pad: 'valid' },
  { label: '3x3 same s1, 32 -> 64', x: [1, 5, 9, 32], k: [3, 3], outC: 64, strides: [1, 1], pad: 'same' },
];
const FILTER: Case[] = [
  { label: 'split, vec4 loads, partial tiles', x: [3, 28, 28, 20], k: [3, 3], outC: 68, strides: [1, 1], pad: 'same' },
  { label: 'scalar loads, 2 tiles of 64 each way', x: [1, 9, 8, 67], k: [3, 3], outC: 70, strides: [2, 2], pad: 'same' },
];

/**
 * lavapipe compiles an unrolled 8x8-per-thread shader in 5-25 s, so CI runs a set that covers every
 * code path (prefetch and not, 1/2/4 loads per operand and thread, 4 and 8 rows and columns per
 * thread, 64 and 256 threads, k32 with its fallback to 16; the filter gradient's default among
 * them; each kernel's default on its own below and in conv2dWgsl.test.ts and
 * conv2dFilterGradWgsl.test.ts); MTD_ALL_TILINGS=1 runs every candidate (about 75 s here).
 */
const TILINGS: readonly string[] = process.env.MTD_ALL_TILINGS === '1' ? GEMM_TILING_CANDIDATES : ['64x64/4x4/k16+p', '128x64/8x4/k32+p', '128x128/8x8/k16+p', '32x32/4x4/k16'];

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe('the WGSL conv GEMMs under every candidate tiling', () => {
  it('match the float64 conv (with bias), stride-1 input gradient and filter gradient', { timeout: 180_000 }, async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    try {
      await selectBackend('webgpu');
      const backend = tf.backend() as unknown as WebgpuBackendLike;
      const data = CONV.map((c, i) => makeData(c, 900 + i));
      const filterData = FILTER.map((c, i) => makeData(c, 950 + i));
      for (const name of TILINGS) {
        const tiling = parseGemmTiling(name, 'tiling');
        for (const [i, c] of CONV.entries()) {
          const d = data[i]!;
          const label = `${name} ${c.label}`;
          const [x, w, dy] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape), tf.tensor4d(d.dy, d.dyShape)];
          const biasValues = Float32Array.from({ length: c.outC }, (_, j) => 0.5 - 0.125 * j);
          const bias = tf.tensor1d(biasValues);
          const attrs = { strides: c.strides, pad: tfPad(c.pad) };
          const y = tf.engine().makeTensorFromTensorInfo(conv2dWgsl(backend, x, w, attrs, undefined, bias, tiling)) as tf.Tensor4D;
          const ref = conv2dRef(f64(d.x), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
          expect(y.shape, label).toEqual(ref.shape);
          expectClose(await y.data(), ref.y.map((v, j) => v + biasValues[j % c.outC]!), { ...TOL, label: `conv ${label}` });
          tf.dispose([y, bias]);
          const dxInfo = conv2dBackpropInputWgsl(backend, dy, w, c.x, attrs, tiling);
          // The input gradient reduces over the conv's output channels: it takes strides of 1 and
          // multiples of 16.
          expect(dxInfo === undefined, label).toBe(c.strides[0] !== 1 || c.outC % 16 !== 0);
          if (dxInfo !== undefined) {
            const dx = tf.engine().makeTensorFromTensorInfo(dxInfo!);
            const dxRef = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
            expectClose(await dx.data(), dxRef, { ...TOL, label: `dx ${label}` });
            dx.dispose();
          }
          tf.dispose([x, w, dy]);
        }
        for (const [i, c] of FILTER.entries()) {
          const d = filterData[i]!;
          const [x, dy] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.dy, d.dyShape)];
          const dW = conv2dBackpropFilterWgsl({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) }, tiling);
          const ref = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
          expectClose(await dW.data(), ref, { ...TOL, label: `dW ${name} ${c.label}` });
          tf.dispose([x, dy, dW]);
        }
      }
    } finally {
      await selectBackend('webgpu');
    }
  });

  // Partial tiles for each default: conv rows 198 = 3 x 64 + 6 and 48 of 64 columns; the input
  // gradient's rows 198 = 128 + 70 and 80 = 64 + 16 columns (dx's columns are x's channels);
  // the filter gradient's 80 = 64 + 16 rows and 48 of 64 columns.
  const GRADS: Case = { label: '3x3 same s1, 80 -> 48', x: [2, 11, 9, 80], k: [3, 3], outC: 48, strides: [1, 1], pad: 'same' };

  /**
   * The forward conv, input gradient and filter gradient through the registered kernels (tf.grads
   * of a conv), checked against float64; returns the WGSL GEMMs' shader keys (they name their
   * tilings) in dispatch order.
   */
  async function gradsThroughKernels(seed: number): Promise<string[]> {
    const c = GRADS;
    const d = makeData(c, seed);
    const [x, w, dy] = [tf.tensor4d(d.x, c.x), tf.tensor4d(d.w, d.wShape), tf.tensor4d(d.dy, d.dyShape)];
    const seen: string[] = [];
    const gpu = tf.backend() as unknown as { runWebGPUProgram: (p: { shaderKey: string }, ...rest: unknown[]) => unknown };
    const run = gpu.runWebGPUProgram;
    gpu.runWebGPUProgram = function (p, ...rest) {
      if (p.shaderKey.startsWith('mtdConv2D')) seen.push(p.shaderKey);
      return run.call(this, p, ...rest);
    };
    try {
      const loss = (xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, 1, 'same'), dy));
      const [dx, dW] = tf.grads(loss)([x, w]) as [tf.Tensor, tf.Tensor];
      const dxRef = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, 1, 1, c.pad);
      const dWRef = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, 1, 1, c.pad);
      expectClose(await dx.data(), dxRef, { ...TOL, label: 'dx through the registered kernels' });
      expectClose(await dW.data(), dWRef, { ...TOL, label: 'dW through the registered kernels' });
      tf.dispose([dx, dW]);
    } finally {
      gpu.runWebGPUProgram = run;
      tf.dispose([x, w, dy]);
    }
    return seen;
  }

  // Shader keys: mtdConv2D_<flipped: the input gradient>..._<tiling>_<step>, mtdConv2DFilterGrad_..._<tiling>.
  const keysFor = (seen: string[], conv: string, inputGradient: string, filterGradient: string) => {
    expect(seen.filter((k) => k.startsWith('mtdConv2D_false_')), 'forward conv').toEqual([`mtdConv2D_false_${conv}_16`]);
    expect(seen.filter((k) => k.startsWith('mtdConv2D_true_')), 'input gradient').toEqual([`mtdConv2D_true_${inputGradient}_16`]);
    expect(seen.filter((k) => k.startsWith('mtdConv2DFilterGrad_')), 'filter gradient').toEqual([`mtdConv2DFilterGrad_true_true_${filterGradient}`]);
  };

  it('by default: 64x64/8x8/k16+p for the conv, 128x64/8x4/k16+p for the input gradient, 64x64/4x4/k16+p for the filter gradient, on partial tiles', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await selectBackend('webgpu');
    keysFor(await gradsThroughKernels(980), '64x64/8x8/k16+p', '128x64/8x4/k16+p', '64x64/4x4/k16+p');
  });

  it("are chosen by selectBackend's gemmTiles, each on its own, which is checked", async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    try {
      await selectBackend('webgpu', { webgpu: { gemmTiles: { conv: '128x64/8x4/k16+p', inputGradient: '64x64/4x4/k16', filterGradient: '64x64/8x8/k16+p' } } });
      keysFor(await gradsThroughKernels(990), '128x64/8x4/k16+p', '64x64/4x4/k16', '64x64/8x8/k16+p');
      // One given, the others keep their defaults.
      await selectBackend('webgpu', { webgpu: { gemmTiles: { inputGradient: '64x64/4x4/k16' } } });
      keysFor(await gradsThroughKernels(991), '64x64/8x8/k16+p', '64x64/4x4/k16', '64x64/4x4/k16+p');
      await expect(selectBackend('webgpu', { webgpu: { gemmTiles: { conv: '64x64/4x4' } } })).rejects.toThrow(/options\.webgpu\.gemmTiles\.conv must be a tiling/);
      await expect(selectBackend('webgpu', { webgpu: { gemmTiles: { inputGradient: '128x64/8x4/k8+p' } } })).rejects.toThrow(/options\.webgpu\.gemmTiles\.inputGradient must be a tiling/);
      await expect(selectBackend('webgpu', { webgpu: { gemmTiles: { inputGradient: '128x128/4x4/k16' } } })).rejects.toThrow(/options\.webgpu\.gemmTiles\.inputGradient: 128x128\/4x4\/k16 gives 32 x 32 threads/);
      await expect(selectBackend('webgpu', { webgpu: { gemmTiles: { filterGradient: '8x8/8x8/k16' } } })).rejects.toThrow(/options\.webgpu\.gemmTiles\.filterGradient: 8x8\/8x8\/k16/);
      await expect(selectBackend('webgpu', { webgpu: { gemmTiles: { dx: '64x64/4x4/k16' } as { conv?: string } } })).rejects.toThrow(
        /options\.webgpu\.gemmTiles takes conv, inputGradient and filterGradient, got dx/,
      );
    } finally {
      await selectBackend('webgpu');
    }
  });
});
