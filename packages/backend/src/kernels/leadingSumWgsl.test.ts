import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { programsOf } from './programs.testutil.js';
import { leadingSumSplits } from './leadingSumWgsl.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

/** The sum over the first `leading` axes in float64. */
function leadingSumRef(values: Float32Array, shape: number[], leading: number): number[] {
  const cols = shape.slice(leading).reduce((a, b) => a * b, 1);
  const out = new Array<number>(cols).fill(0);
  for (let i = 0; i < values.length; i++) out[i % cols]! += values[i]!;
  return out;
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("webgpu Sum with reductions: 'wgsl' (leading axes, split across workgroups)", () => {
  // Narrow and wide rows, a row count that leaves a short last slab, a whole-tensor sum, keepDims.
  const cases: Array<{ shape: number[]; axes: number[]; keepDims?: boolean }> = [
    { shape: [4, 9, 9, 37], axes: [0, 1, 2] },
    { shape: [3, 17, 13, 1], axes: [0, 1, 2] },
    { shape: [1111, 3], axes: [0] },
    { shape: [70001], axes: [0] },
    { shape: [50, 7, 11, 13], axes: [0, 1], keepDims: true },
    { shape: [300, 2, 2], axes: [0, 1, 2] },
  ];

  it('matches the float64 sum, runs no transpose, and leaves other reductions to tfjs', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(12);
    try {
      await selectBackend('webgpu', { webgpu: { reductions: 'wgsl' } });
      for (const c of cases) {
        const values = rng.fillNormal(new Float32Array(c.shape.reduce((a, b) => a * b, 1)));
        const x = tf.tensor(values, c.shape);
        const { out, programs } = await programsOf(() => tf.sum(x, c.axes, c.keepDims));
        const label = `sum ${JSON.stringify(c)}`;
        const rest = c.shape.slice(c.axes.length);
        expect(out.shape, label).toEqual(c.keepDims ? [...c.axes.map(() => 1), ...rest] : rest);
        expectClose(await out.data(), leadingSumRef(values, c.shape, c.axes.length), { rtol: 1e-5, atol: 1e-4, label });
        expect(programs, label).toContain('LeadingSumProgram');
        expect(programs, label).not.toContain('TransposeProgram');
        await expectNoLeak(() => tf.sum(x, c.axes, c.keepDims), label);
        tf.dispose([x, out]);
      }
      // Not a leading prefix: tfjs's kernel (which transposes first).
      const x = tf.tensor(rng.fillNormal(new Float32Array(4 * 300 * 5)), [4, 300, 5]);
      const inner = await programsOf(() => tf.sum(x, [1]));
      expect(inner.programs).toContain('TransposeProgram');
      expect(inner.programs).not.toContain('LeadingSumProgram');
      tf.dispose([x, inner.out]);
      // 'tfjs': tfjs's kernel for the leading sums too (the default is 'wgsl').
      await selectBackend('webgpu', { webgpu: { reductions: 'tfjs' } });
      const lead = tf.tensor(rng.fillNormal(new Float32Array(300 * 5)), [300, 5]);
      const plain = await programsOf(() => tf.sum(lead, [0]));
      expect(plain.programs).not.toContain('LeadingSumProgram');
      tf.dispose([lead, plain.out]);
      await expect(selectBackend('webgpu', { webgpu: { reductions: 'fast' as 'wgsl' } })).rejects.toThrow(
        /options\.webgpu\.reductions must be 'tfjs' or 'wgsl', got fast/,
      );
    } finally {
      await selectBackend('webgpu');
    }
  });

  it('splits by rows: about 1024 workgroups, 256 rows a slab at least', () => {
    expect(leadingSumSplits(256 * 32 * 32, 64)).toBe(1024);
    expect(leadingSumSplits(6472195, 1)).toBe(1024);
    expect(leadingSumSplits(300, 4)).toBe(1);
    expect(leadingSumSplits(100000, 130)).toBe(342);
  });
});
