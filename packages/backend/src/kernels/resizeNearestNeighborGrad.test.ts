import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak, maxAbsDiff } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import type { BackendName } from '../selectBackend.js';
import { registerTrainingKernels, unregisterTrainingKernels } from './register.js';
import { nearestSourceIndices, resizeNearestGradArrays, resizeNearestGradViaMatMul, type ResizeNearestAttrs } from './resizeNearestNeighborGrad.js';

type Shape4 = [number, number, number, number];

interface Case {
  label: string;
  x: Shape4;
  size: [number, number];
  attrs: ResizeNearestAttrs;
}

const PLAIN = { alignCorners: false, halfPixelCenters: false };
const CASES: Case[] = [
  { label: '2x upsample, batch 3, C 5', x: [3, 5, 7, 5], size: [10, 14], attrs: PLAIN },
  { label: 'non-integer upsample, batch 2, C 3', x: [2, 4, 5, 3], size: [7, 9], attrs: PLAIN },
  { label: 'downsample, batch 3, C 1', x: [3, 9, 7, 1], size: [4, 3], attrs: PLAIN },
  { label: 'alignCorners, batch 2', x: [2, 4, 4, 3], size: [7, 9], attrs: { alignCorners: true, halfPixelCenters: false } },
  { label: 'halfPixelCenters, batch 2', x: [2, 3, 3, 1], size: [5, 4], attrs: { alignCorners: false, halfPixelCenters: true } },
  { label: 'halfPixelCenters downsample, batch 3', x: [3, 6, 7, 2], size: [3, 3], attrs: { alignCorners: false, halfPixelCenters: true } },
];

/** Float64 forward straight from the index rule, and its adjoint written as a second loop. */
function forwardRef(x: ArrayLike<number>, s: Shape4, size: [number, number], a: ResizeNearestAttrs): Float64Array {
  const [n, h, w, c] = s;
  const rows = nearestSourceIndices(h, size[0], a);
  const cols = nearestSourceIndices(w, size[1], a);
  const y = new Float64Array(n * size[0] * size[1] * c);
  let k = 0;
  for (let b = 0; b < n; b++)
    for (let r = 0; r < size[0]; r++)
      for (let q = 0; q < size[1]; q++)
        for (let d = 0; d < c; d++) y[k++] = x[((b * h + rows[r]!) * w + cols[q]!) * c + d]!;
  return y;
}

/** The adjoint by brute force: dx[i] = sum over outputs j of dy[j] * [forward copies i to j]. */
function gradRef(dy: ArrayLike<number>, s: Shape4, size: [number, number], a: ResizeNearestAttrs): Float64Array {
  const [n, h, w, c] = s;
  const dx = new Float64Array(n * h * w * c);
  const basis = new Float64Array(dx.length);
  for (let i = 0; i < dx.length; i++) {
    basis[i] = 1;
    const col = forwardRef(basis, s, size, a);
    let acc = 0;
    for (let j = 0; j < col.length; j++) acc += col[j]! * dy[j]!;
    dx[i] = acc;
    basis[i] = 0;
  }
  return dx;
}

function data(c: Case, seed: number): { x: Float32Array; dy: Float32Array; dyShape: Shape4 } {
  const rng = createRng(seed);
  const dyShape: Shape4 = [c.x[0], c.size[0], c.size[1], c.x[3]];
  return {
    x: rng.fillNormal(new Float32Array(c.x.reduce((p, q) => p * q, 1))),
    dy: rng.fillNormal(new Float32Array(dyShape.reduce((p, q) => p * q, 1))),
    dyShape,
  };
}

async function gradThroughResize(c: Case, d: ReturnType<typeof data>): Promise<Float32Array> {
  const x = tf.tensor4d(d.x, c.x);
  const dy = tf.tensor4d(d.dy, d.dyShape);
  const g = tf.grad((xx: tf.Tensor) =>
    tf.sum(tf.mul(tf.image.resizeNearestNeighbor(xx as tf.Tensor4D, c.size, c.attrs.alignCorners, c.attrs.halfPixelCenters), dy)),
  )(x);
  const out = (await g.data()) as Float32Array;
  tf.dispose([x, dy, g]);
  return out;
}

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

describe('resizeNearestGradArrays / resizeNearestGradViaMatMul', () => {
  it('equal the brute-force adjoint of the forward index rule', async () => {
    await withBackend('cpu', async () => {
      for (const [i, c] of CASES.entries()) {
        const d = data(c, 10 + i);
        const ref = gradRef(d.dy, c.x, c.size, c.attrs);
        expectClose(resizeNearestGradArrays(d.dy, d.dyShape, c.x, c.attrs), ref, { rtol: 1e-6, atol: 1e-6, label: `arrays ${c.label}` });
        const viaOps = tf.tidy(() => resizeNearestGradViaMatMul(tf.tensor4d(d.dy, d.dyShape), c.x, c.attrs));
        expectClose(await viaOps.data(), ref, { rtol: 1e-6, atol: 1e-6, label: `matMul ${c.label}` });
        viaOps.dispose();
      }
    });
  });

  it('leaves no tensors behind', async () => {
    await withBackend('cpu', async () => {
      const c = CASES[0]!;
      const d = data(c, 1);
      const dy = tf.tensor4d(d.dy, d.dyShape);
      await expectNoLeak(() => resizeNearestGradViaMatMul(dy, c.x, c.attrs));
      dy.dispose();
    });
  });
});

describe('tf.grad through resizeNearestNeighbor', () => {
  it("cpu's built-in kernel is wrong for batch > 1 (why the override exists)", async () => {
    await withBackend('cpu', async () => {
      const c = CASES[0]!;
      const d = data(c, 5);
      const ref = gradRef(d.dy, c.x, c.size, c.attrs);
      unregisterTrainingKernels('cpu');
      try {
        const builtin = await gradThroughResize(c, d);
        const perImage = c.x[1] * c.x[2] * c.x[3];
        // Image 0 is right; the later ones read dy at the wrong offset.
        expect(maxAbsDiff(builtin.subarray(0, perImage), ref.subarray(0, perImage))).toBeLessThan(1e-5);
        expect(maxAbsDiff(builtin, ref)).toBeGreaterThan(0.1);
      } finally {
        registerTrainingKernels('cpu');
      }
    });
  });

  for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
    it(`forward and gradient match the float64 references on ${name}`, async (ctx) => {
      if (!backends.includes(name)) ctx.skip();
      // Lavapipe compiles shaders per shape: a subset keeps WebGPU quick, halfPixelCenters included.
      const cases = name === 'webgpu' ? [CASES[0]!, CASES[4]!] : CASES;
      await withBackend(name, async () => {
        for (const [i, c] of cases.entries()) {
          const d = data(c, 20 + i);
          const x = tf.tensor4d(d.x, c.x);
          const y = tf.image.resizeNearestNeighbor(x, c.size, c.attrs.alignCorners, c.attrs.halfPixelCenters);
          expectClose(await y.data(), forwardRef(d.x, c.x, c.size, c.attrs), { rtol: 0, atol: 0, label: `${name} forward ${c.label}` });
          tf.dispose([x, y]);
          const g = await gradThroughResize(c, d);
          expectClose(g, gradRef(d.dy, c.x, c.size, c.attrs), { rtol: 1e-5, atol: 1e-5, label: `${name} grad ${c.label}` });
        }
      });
    });
  }
});
