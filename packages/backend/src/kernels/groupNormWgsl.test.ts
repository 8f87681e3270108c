import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { GROUP_NORM_GRAD_KERNEL, GROUP_NORM_KERNEL, GROUP_NORM_SILU_GRAD_KERNEL, GROUP_NORM_SILU_KERNEL, gradStatsThreads } from './groupNormWgsl.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

const EPS = 1e-5;

/** GroupNorm and its gradient in float64: y, per-group mean and 1/sqrt(var+eps), dx, dgamma, dbeta. */
function groupNormRef(x: Float32Array, shape: number[], groups: number, gamma: Float32Array, beta: Float32Array, dy: Float32Array) {
  const c = shape[shape.length - 1]!;
  const b = shape[0]!;
  const positions = x.length / (b * c);
  const per = c / groups;
  const n = positions * per;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  const stats: number[] = [];
  for (let bi = 0; bi < b; bi++) {
    for (let g = 0; g < groups; g++) {
      const idx: number[] = [];
      for (let p = 0; p < positions; p++) for (let k = 0; k < per; k++) idx.push((bi * positions + p) * c + g * per + k);
      const mean = idx.reduce((s, i) => s + x[i]!, 0) / n;
      const v = idx.reduce((s, i) => s + (x[i]! - mean) ** 2, 0) / n;
      const r = 1 / Math.sqrt(v + EPS);
      stats.push(mean, r);
      let s1 = 0;
      let s2 = 0;
      for (const i of idx) {
        const ch = i % c;
        const xh = (x[i]! - mean) * r;
        y[i] = xh * gamma[ch]! + beta[ch]!;
        s1 += dy[i]! * gamma[ch]!;
        s2 += dy[i]! * gamma[ch]! * xh;
        dgamma[ch] = dgamma[ch]! + dy[i]! * xh;
        dbeta[ch] = dbeta[ch]! + dy[i]!;
      }
      for (const i of idx) {
        const ch = i % c;
        const xh = (x[i]! - mean) * r;
        dx[i] = r * (dy[i]! * gamma[ch]! - s1 / n - (xh * s2) / n);
      }
    }
  }
  return { y, stats, dx, dgamma, dbeta };
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("the fused GroupNorm kernels (webgpu, selectBackend's groupNorm: 'wgsl')", () => {
  // NHWC, rank 3, rank 2 (one position), groups of more than 256 elements (several steps a thread).
  const cases: Array<{ shape: number[]; groups: number; offset?: number }> = [
    { shape: [3, 5, 7, 12], groups: 4 },
    { shape: [2, 9, 6], groups: 3 },
    { shape: [4, 16], groups: 2 },
    { shape: [2, 20, 20, 8], groups: 2 },
    // 24 channels a group (refUNet's 192-channel layers): 240-lane gradient statistics; 260: more
    // than a workgroup's 256 lanes, so dgamma and dbeta are full-size sums (and through the SiLU,
    // its gradient is stored first).
    { shape: [2, 6, 5, 48], groups: 2 },
    { shape: [2, 3, 260], groups: 1 },
    // 66,000 (example, group) pairs: more workgroups than one dispatch dimension holds. Only 8
    // values a group, so no offset: float32 cannot hold 40 + small differences to 1e-4.
    { shape: [33000, 16], groups: 2, offset: 0 },
  ];

  it('size the gradient statistics to a multiple of the group width, up to 256 lanes', () => {
    expect([8, 16, 24, 3, 256, 257].map(gradStatsThreads)).toEqual([256, 256, 240, 255, 256, undefined]);
  });

  it('match float64 GroupNorm and its gradient, with offset data, and leak nothing', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(31);
    try {
      await selectBackend('webgpu', { webgpu: { groupNorm: 'wgsl' } });
      for (const { shape, groups, offset = 40 } of cases) {
        const c = shape[shape.length - 1]!;
        const size = shape.reduce((a, b) => a * b, 1);
        // A large common offset: a one-pass E[x^2] - E[x]^2 variance would lose it.
        const xv = rng.fillNormal(new Float32Array(size)).map((v) => 3 * v + offset);
        const gv = rng.fillNormal(new Float32Array(c));
        const bv = rng.fillNormal(new Float32Array(c));
        const dyv = rng.fillNormal(new Float32Array(size));
        const ref = groupNormRef(xv, shape, groups, gv, bv, dyv);
        const [x, gamma, beta, dy] = [tf.tensor(xv, shape), tf.tensor1d(gv), tf.tensor1d(bv), tf.tensor(dyv, shape)];
        const label = `${JSON.stringify(shape)} / ${groups}`;
        const [y, stats] = tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, { groups, epsilon: EPS }) as tf.Tensor[];
        expect(y!.shape, label).toEqual(shape);
        expect(stats!.shape, label).toEqual([shape[0], groups, 2]);
        expectClose(await y!.data(), Array.from(ref.y), { rtol: 1e-4, atol: 1e-4, label: `y ${label}` });
        expectClose(await stats!.data(), ref.stats, { rtol: 1e-4, atol: 1e-4, label: `stats ${label}` });
        const grads = tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x, gamma, stats: stats! }, { groups }) as tf.Tensor[];
        expect(grads.map((t) => t.shape), label).toEqual([shape, [c], [c]]);
        expectClose(await grads[0]!.data(), Array.from(ref.dx), { rtol: 1e-3, atol: 1e-3, label: `dx ${label}` });
        expectClose(await grads[1]!.data(), Array.from(ref.dgamma), { rtol: 1e-4, atol: 1e-3, label: `dgamma ${label}` });
        expectClose(await grads[2]!.data(), Array.from(ref.dbeta), { rtol: 1e-4, atol: 1e-3, label: `dbeta ${label}` });
        // MtdGroupNormSilu: the same statistics, y sigmoid(y) in the apply pass (float64 SiLU of the reference).
        const [ys, statsS] = tf.engine().runKernel(GROUP_NORM_SILU_KERNEL, { x, gamma, beta }, { groups, epsilon: EPS }) as tf.Tensor[];
        expect(ys!.shape, label).toEqual(shape);
        expectClose(await ys!.data(), Array.from(ref.y, (v) => v / (1 + Math.exp(-v))), { rtol: 1e-4, atol: 1e-4, label: `silu y ${label}` });
        expectClose(await statsS!.data(), ref.stats, { rtol: 1e-4, atol: 1e-4, label: `silu stats ${label}` });
        await expectNoLeak(() => tf.engine().runKernel(GROUP_NORM_SILU_KERNEL, { x, gamma, beta }, { groups, epsilon: EPS }) as tf.Tensor[], `silu forward ${label}`);
        // MtdGroupNormSiluGrad: GroupNorm's float64 gradient of dz silu'(y), silu'(y) = s (1 + y (1 - s)).
        // Groups of 260 channels take the path that stores dz silu'(y).
        const dyThrough = Float32Array.from(ref.y, (v, i) => {
          const sg = 1 / (1 + Math.exp(-v));
          return dyv[i]! * sg * (1 + v * (1 - sg));
        });
        const refS = groupNormRef(xv, shape, groups, gv, bv, dyThrough);
        const gradsS = tf.engine().runKernel(GROUP_NORM_SILU_GRAD_KERNEL, { dy, x, gamma, beta, stats: statsS! }, { groups }) as tf.Tensor[];
        expect(gradsS.map((t) => t.shape), label).toEqual([shape, [c], [c]]);
        expectClose(await gradsS[0]!.data(), Array.from(refS.dx), { rtol: 1e-3, atol: 1e-3, label: `silu dx ${label}` });
        expectClose(await gradsS[1]!.data(), Array.from(refS.dgamma), { rtol: 1e-4, atol: 1e-3, label: `silu dgamma ${label}` });
        expectClose(await gradsS[2]!.data(), Array.from(refS.dbeta), { rtol: 1e-4, atol: 1e-3, label: `silu dbeta ${label}` });
        await expectNoLeak(() => tf.engine().runKernel(GROUP_NORM_SILU_GRAD_KERNEL, { dy, x, gamma, beta, stats: statsS! }, { groups }) as tf.Tensor[], `silu gradient ${label}`);
        tf.dispose([ys!, statsS!, ...gradsS]);
        await expectNoLeak(() => tf.engine().runKernel(GROUP_NORM_KERNEL, { x, gamma, beta }, { groups, epsilon: EPS }) as tf.Tensor[], `forward ${label}`);
        await expectNoLeak(() => tf.engine().runKernel(GROUP_NORM_GRAD_KERNEL, { dy, x, gamma, stats: stats! }, { groups }) as tf.Tensor[], `gradient ${label}`);
        tf.dispose([x, gamma, beta, dy, y!, stats!, ...grads]);
      }
      expect(() =>
        tf.tidy(() => tf.engine().runKernel(GROUP_NORM_KERNEL, { x: tf.zeros([2, 6]), gamma: tf.ones([6]), beta: tf.zeros([6]) }, { groups: 4, epsilon: EPS })),
      ).toThrow(
        /MtdGroupNorm: attrs.groups must be a divisor of the 6 channels, got 4/,
      );
      // 'tfjs': nothing registered, so @mtd/nn's groupNorm runs tfjs ops; on by default.
      await selectBackend('webgpu', { webgpu: { groupNorm: 'tfjs' } });
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'webgpu')).toBeUndefined();
      expect(tf.getKernel(GROUP_NORM_SILU_KERNEL, 'webgpu')).toBeUndefined();
      expect(tf.getKernel(GROUP_NORM_SILU_GRAD_KERNEL, 'webgpu')).toBeUndefined();
      await selectBackend('webgpu');
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'webgpu')).toBeDefined();
      expect(tf.getKernel(GROUP_NORM_SILU_GRAD_KERNEL, 'webgpu')).toBeDefined();
      // groupNormSilu: 'separate': GroupNorm's kernels without the GroupNorm + SiLU pair.
      await selectBackend('webgpu', { webgpu: { groupNormSilu: 'separate' } });
      expect(tf.getKernel(GROUP_NORM_KERNEL, 'webgpu')).toBeDefined();
      expect(tf.getKernel(GROUP_NORM_SILU_KERNEL, 'webgpu')).toBeUndefined();
      expect(tf.getKernel(GROUP_NORM_SILU_GRAD_KERNEL, 'webgpu')).toBeUndefined();
      await expect(selectBackend('webgpu', { webgpu: { groupNormSilu: 'yes' as 'fused' } })).rejects.toThrow(/options\.webgpu\.groupNormSilu must be 'fused' or 'separate', got yes/);
      await selectBackend('webgpu');
      expect(tf.getKernel(GROUP_NORM_SILU_KERNEL, 'webgpu')).toBeDefined();
    } finally {
      await selectBackend('webgpu');
    }
  });
});
