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

/** The sum over the axes `from..to` (inclusive) in float64, row-major over the remaining ones. */
function middleSumRef(values: Float32Array, shape: number[], from: number, to: number): number[] {
  const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
  const [outer, rows, cols] = [product(shape.slice(0, from)), product(shape.slice(from, to + 1)), product(shape.slice(to + 1))];
  const out = new Array<number>(outer * cols).fill(0);
  for (let o = 0; o < outer; o++) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[o * cols + c]! += values[(o * rows + r) * cols + c]!;
  return out;
}

/** The sum over the first `leading` axes in float64. */
function leadingSumRef(values: Float32Array, shape: number[], leading: number): number[] {
  const cols = shape.slice(leading).reduce((a, b) => a * b, 1);
  const out = new Array<number>(cols).fill(0);
  for (let i = 0; i < values.length; i++) out[i % cols]! += values[i]!;
  return out;
}

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("webgpu Sum with reductions: 'wgsl' (leading or middle axes, split across workgroups)", () => {
  // Narrow and wide rows, a row count that leaves a short last slab, a whole-tensor sum, keepDims.
  const cases: Array<{ shape: number[]; axes: number[]; keepDims?: boolean }> = [
    { shape: [4, 9, 9, 37], axes: [0, 1, 2] },
    { shape: [3, 17, 13, 1], axes: [0, 1, 2] },
    { shape: [1111, 3], axes: [0] },
    { shape: [70001], axes: [0] },
    { shape: [50, 7, 11, 13], axes: [0, 1], keepDims: true },
    { shape: [300, 2, 2], axes: [0, 1, 2] },
    // Many slabs for few outputs: the slabs are added up by lanes too (a second LeadingSumProgram).
    { shape: [32, 16, 16, 64], axes: [0, 1, 2] },
    { shape: [9000, 20], axes: [0] },
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
        const rows = c.shape.slice(0, c.axes.length).reduce((a, b) => a * b, 1);
        const slabs = leadingSumSplits(rows, rest.reduce((a, b) => a * b, 1));
        expect(programs.filter((p) => p === 'LeadingSumProgram').length, label).toBe(slabs > 16 ? 2 : 1);
        await expectNoLeak(() => tf.sum(x, c.axes, c.keepDims), label);
        tf.dispose([x, out]);
      }
      // A run of middle axes: one leading sum per outer index (the time embedding's gradient
      // [B, H, W, C] -> [B, C]; few rows, many; a short last slab; keepDims).
      const middle: Array<{ shape: number[]; axes: number[]; keepDims?: boolean }> = [
        { shape: [3, 8, 8, 37], axes: [1, 2] },
        { shape: [2, 700, 5], axes: [1], keepDims: true },
        { shape: [2, 3, 33, 17, 4], axes: [2, 3] },
        { shape: [5, 1, 6], axes: [1] },
      ];
      for (const c of middle) {
        const values = rng.fillNormal(new Float32Array(c.shape.reduce((a, b) => a * b, 1)));
        const x = tf.tensor(values, c.shape);
        const { out, programs } = await programsOf(() => tf.sum(x, c.axes, c.keepDims));
        const label = `sum ${JSON.stringify(c)}`;
        const [from, to] = [c.axes[0]!, c.axes[c.axes.length - 1]!];
        expect(out.shape, label).toEqual(c.shape.flatMap((d, i) => (i >= from && i <= to ? (c.keepDims ? [1] : []) : [d])));
        expectClose(await out.data(), middleSumRef(values, c.shape, from, to), { rtol: 1e-5, atol: 1e-4, label });
        expect(programs, label).toContain('LeadingSumProgram');
        expect(programs, label).not.toContain('TransposeProgram');
        await expectNoLeak(() => tf.sum(x, c.axes, c.keepDims), label);
        tf.dispose([x, out]);
      }
      // The last axis alone (tfjs reduces it in place) and axes that are not one run: tfjs's kernel.
      const xv = rng.fillNormal(new Float32Array(4 * 300 * 5));
      const x = tf.tensor(xv, [4, 300, 5]);
      const last = await programsOf(() => tf.sum(x, [2]));
      const gapped = await programsOf(() => tf.sum(x, [0, 2]));
      for (const { programs } of [last, gapped]) expect(programs).not.toContain('LeadingSumProgram');
      expectClose(await gapped.out.data(), Array.from({ length: 300 }, (_, r) => {
        let total = 0;
        for (let b = 0; b < 4; b++) for (let c = 0; c < 5; c++) total += xv[(b * 300 + r) * 5 + c]!;
        return total;
      }), { rtol: 1e-5, atol: 1e-4, label: 'gapped' });
      tf.dispose([x, last.out, gapped.out]);
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
