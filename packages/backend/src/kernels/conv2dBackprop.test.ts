import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import type { BackendName } from '../selectBackend.js';
import {
  conv2dBackpropFilterViaConv,
  conv2dBackpropFilterViaMatMul,
  conv2dBackpropInputViaConv,
  type Conv2DBackpropFilterArgs,
} from './conv2dBackprop.js';
import { CASES, GPU_CASES, makeData, tfPad, TOL, type Case } from './convCases.testutil.js';
import { conv2dBackpropFilterRef, conv2dBackpropInputRef, convGeometry, f64, type RefPad, type Shape4 } from './reference.js';


/** Both dW formulations are public building blocks; each must match the reference. */
const FILTER_IMPLS: Array<[string, (a: Conv2DBackpropFilterArgs) => tf.Tensor4D]> = [
  ['viaConv', conv2dBackpropFilterViaConv],
  ['viaMatMul', conv2dBackpropFilterViaMatMul],
  // Split-K with a bound that is not a divisor of most row counts (3*7*5 = 105 rows -> 3 slabs).
  ['viaMatMul split<=4', (a) => conv2dBackpropFilterViaMatMul(a, { splits: 4 })],
  ['viaMatMul split<=64', (a) => conv2dBackpropFilterViaMatMul(a, { splits: 64 })],
];

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

describe('conv2dBackpropFilterViaConv / ViaMatMul / conv2dBackpropInputViaConv', () => {
  it('match the float64 references on cpu for odd shapes, strides and paddings', async () => {
    await withBackend('cpu', async () => {
      for (const [i, c] of CASES.entries()) {
        const d = makeData(c, 100 + i);
        const got = tf.tidy(() => {
          const x = tf.tensor4d(d.x, c.x);
          const dy = tf.tensor4d(d.dy, d.dyShape);
          const w = tf.tensor4d(d.w, d.wShape);
          return [
            conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(c.pad) }),
            conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(c.pad) }, { convPads: true }),
            ...FILTER_IMPLS.map(([, f]) => f({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) })),
          ];
        });
        const [dx, dxConvPads, ...dWs] = await Promise.all(got.map((t) => t.data()));
        tf.dispose(got);
        const refW = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
        const refX = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
        expectClose(dx!, refX, { ...TOL, label: `dx ${c.label}` });
        expectClose(dxConvPads!, refX, { ...TOL, label: `dx convPads ${c.label}` });
        dWs.forEach((dW, k) => expectClose(dW, refW, { ...TOL, label: `dW ${FILTER_IMPLS[k]![0]} ${c.label}` }));
      }
    });
  });

  it('handle NCHW by transposing in and out', async () => {
    await withBackend('cpu', async () => {
      const c = CASES[1]!;
      const d = makeData(c, 7);
      const [dx, ...dWs] = tf.tidy(() => {
        const xNchw = tf.tensor4d(d.x, c.x).transpose([0, 3, 1, 2]) as tf.Tensor4D;
        const dyNchw = tf.tensor4d(d.dy, d.dyShape).transpose([0, 3, 1, 2]) as tf.Tensor4D;
        const w = tf.tensor4d(d.w, d.wShape);
        const nchwShape: Shape4 = [c.x[0], c.x[3], c.x[1], c.x[2]];
        return [
          conv2dBackpropInputViaConv({ dy: dyNchw, filter: w, inputShape: nchwShape, strides: c.strides, pad: 'same', dataFormat: 'NCHW' }).transpose([0, 2, 3, 1]),
          ...FILTER_IMPLS.map(([, f]) => f({ x: xNchw, dy: dyNchw, filterShape: d.wShape, strides: c.strides, pad: 'same', dataFormat: 'NCHW' })),
        ];
      });
      const refW = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, 2, 2, 'same');
      const refX = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, 2, 2, 'same');
      expectClose(await dx!.data(), refX, { ...TOL, label: 'dx NCHW' });
      for (const [k, dW] of dWs.entries()) expectClose(await dW.data(), refW, { ...TOL, label: `dW ${FILTER_IMPLS[k]![0]} NCHW` });
      tf.dispose([dx!, ...dWs]);
    });
  });

  it('agree with the references on random geometries (fast-check, cpu)', async () => {
    await withBackend('cpu', async () => {
      const geometry = fc.record({
        n: fc.integer({ min: 1, max: 3 }),
        h: fc.integer({ min: 1, max: 7 }),
        w: fc.integer({ min: 1, max: 7 }),
        ci: fc.integer({ min: 1, max: 3 }),
        co: fc.integer({ min: 1, max: 3 }),
        kh: fc.integer({ min: 1, max: 4 }),
        kw: fc.integer({ min: 1, max: 4 }),
        sh: fc.integer({ min: 1, max: 3 }),
        sw: fc.integer({ min: 1, max: 3 }),
        padKind: fc.constantFrom('same', 'valid', 'explicit'),
        pads: fc.tuple(fc.nat(3), fc.nat(3), fc.nat(3), fc.nat(3)),
        seed: fc.nat(),
      });
      fc.assert(
        fc.property(geometry, (g) => {
          const pad: RefPad =
            g.padKind === 'explicit' ? [[g.pads[0], g.pads[1]], [g.pads[2], g.pads[3]]] : (g.padKind as 'same' | 'valid');
          const c: Case = { label: JSON.stringify(g), x: [g.n, g.h, g.w, g.ci], k: [g.kh, g.kw], outC: g.co, strides: [g.sh, g.sw], pad };
          const geo = convGeometry(c.x, g.kh, g.kw, g.sh, g.sw, pad);
          fc.pre(geo.outH >= 1 && geo.outW >= 1);
          const d = makeData(c, g.seed);
          const [dx, ...dWs] = tf.tidy(() => {
            const x = tf.tensor4d(d.x, c.x);
            const dy = tf.tensor4d(d.dy, d.dyShape);
            const w = tf.tensor4d(d.w, d.wShape);
            return [
              conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(pad) }).dataSync(),
              ...FILTER_IMPLS.map(([, f]) => f({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(pad) }).dataSync()),
            ];
          });
          const refW = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, g.sh, g.sw, pad);
          dWs.forEach((dW, k) => expectClose(dW, refW, { ...TOL, label: `dW ${FILTER_IMPLS[k]![0]} ${c.label}` }));
          const refX = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, g.sh, g.sw, pad);
          expectClose(dx!, refX, { ...TOL, label: `dx ${c.label}` });
          const dxConvPads = tf.tidy(() =>
            conv2dBackpropInputViaConv(
              { dy: tf.tensor4d(d.dy, d.dyShape), filter: tf.tensor4d(d.w, d.wShape), inputShape: c.x, strides: c.strides, pad: tfPad(pad) },
              { convPads: true },
            ).dataSync(),
          );
          expectClose(dxConvPads, refX, { ...TOL, label: `dx convPads ${c.label}` });
        }),
        { numRuns: 100, seed: 3 },
      );
    });
  });

  it('leave no tensors behind', async () => {
    await withBackend('cpu', async () => {
      const c = CASES[4]!;
      const d = makeData(c, 1);
      const x = tf.tensor4d(d.x, c.x);
      const dy = tf.tensor4d(d.dy, d.dyShape);
      const w = tf.tensor4d(d.w, d.wShape);
      for (const [label, f] of FILTER_IMPLS) {
        await expectNoLeak(() => f({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) }), label);
      }
      await expectNoLeak(() => conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(c.pad) }), 'input');
      tf.dispose([x, dy, w]);
    });
  });
});

describe('conv2dBackpropFilterViaMatMul split-K', () => {
  // 4 x 16 x 16 rows = 1024, a 27 x 4 gradient (one 32x32 tile): 'auto' cuts the rows in 4 slabs.
  const c: Case = { label: 'auto split, 3x3 same, C 3->4', x: [4, 16, 16, 3], k: [3, 3], outC: 4, strides: [1, 1], pad: 'same' };

  it("'auto' splits a long reduction and still matches the float64 reference (every backend)", async () => {
    for (const name of backends) {
      await withBackend(name, async () => {
        const d = makeData(c, 11);
        const x = tf.tensor4d(d.x, c.x);
        const dy = tf.tensor4d(d.dy, d.dyShape);
        const args = { x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) };
        const info = await tf.profile(() => conv2dBackpropFilterViaMatMul(args));
        const batched = info.kernels.find((k) => k.name === 'BatchMatMul');
        // The matMul ran as 4 slabs of 256 rows: [4, 256, 27] x [4, 256, 4].
        expect(batched?.inputShapes[0], `${name}: the split matMul's first input`).toEqual([4, 256, 27]);
        const dW = conv2dBackpropFilterViaMatMul(args);
        expectClose(await dW.data(), conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, 1, 1, 'same'), { ...TOL, label: `${name} dW auto split` });
        tf.dispose([x, dy, dW, info.result as tf.Tensor]);
      });
    }
  });

  it('rejects a bad splits option by name', async () => {
    await withBackend('cpu', async () => {
      const x = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
      const dy = tf.zeros([1, 4, 4, 1]) as tf.Tensor4D;
      for (const splits of [0, 1.5, -2]) {
        expect(() => conv2dBackpropFilterViaMatMul({ x, dy, filterShape: [3, 3, 1, 1], strides: 1, pad: 'same' }, { splits })).toThrow(
          /options\.splits must be 'auto' or an integer >= 1/,
        );
      }
      tf.dispose([x, dy]);
    });
  });
});

describe('the ops-based forms on every backend (they must not rely on cpu-only ops)', () => {
  for (const name of ['wasm', 'webgpu'] as const) {
    it(`match the float64 references on ${name}`, async (ctx) => {
      if (!backends.includes(name)) ctx.skip();
      await withBackend(name, async () => {
        for (const [i, c] of GPU_CASES.entries()) {
          const d = makeData(c, 300 + i);
          const x = tf.tensor4d(d.x, c.x);
          const w = tf.tensor4d(d.w, d.wShape);
          const dy = tf.tensor4d(d.dy, d.dyShape);
          const dx = conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(c.pad) });
          const refX = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
          expectClose(await dx.data(), refX, { ...TOL, label: `${name} dx ${c.label}` });
          const dxConvPads = conv2dBackpropInputViaConv({ dy, filter: w, inputShape: c.x, strides: c.strides, pad: tfPad(c.pad) }, { convPads: true });
          expectClose(await dxConvPads.data(), refX, { ...TOL, label: `${name} dx convPads ${c.label}` });
          dxConvPads.dispose();
          const refW = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
          for (const [label, f] of FILTER_IMPLS) {
            const dW = f({ x, dy, filterShape: d.wShape, strides: c.strides, pad: tfPad(c.pad) });
            expectClose(await dW.data(), refW, { ...TOL, label: `${name} dW ${label} ${c.label}` });
            dW.dispose();
          }
          tf.dispose([x, w, dy, dx]);
        }
      });
    });
  }
});

describe('tf.grad through conv2d with the registered kernels', () => {
  for (const name of ['cpu', 'wasm', 'webgpu'] as const) {
    it(`matches the float64 references on ${name}`, async (ctx) => {
      if (!backends.includes(name)) ctx.skip();
      const cases = name === 'webgpu' ? GPU_CASES : CASES;
      await withBackend(name, async () => {
        for (const [i, c] of cases.entries()) {
          const d = makeData(c, 200 + i);
          const x = tf.tensor4d(d.x, c.x);
          const w = tf.tensor4d(d.w, d.wShape);
          const dy = tf.tensor4d(d.dy, d.dyShape);
          // loss = sum(conv2d(x, w) * dy), so dloss/dx and dloss/dw are exactly the two backprops.
          const loss = (xx: tf.Tensor4D, ww: tf.Tensor4D): tf.Scalar => tf.sum(tf.mul(tf.conv2d(xx, ww, c.strides, tfPad(c.pad)), dy));
          const [gx, gw] = tf.grads(loss as (...a: tf.Tensor[]) => tf.Tensor)([x, w]);
          const refX = conv2dBackpropInputRef(f64(d.dy), c.x, f64(d.w), d.wShape, c.strides[0], c.strides[1], c.pad);
          const refW = conv2dBackpropFilterRef(f64(d.x), c.x, f64(d.dy), d.wShape, c.strides[0], c.strides[1], c.pad);
          expectClose(await gx!.data(), refX, { ...TOL, label: `${name} dx ${c.label}` });
          expectClose(await gw!.data(), refW, { ...TOL, label: `${name} dW ${c.label}` });
          tf.dispose([x, w, dy, gx!, gw!]);
        }
      });
    });
  }

  it('is registered: webgpu computes the filter gradient by its WGSL GEMM (no im2col copies)', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await withBackend('webgpu', async () => {
      const x = tf.ones([1, 5, 5, 2]) as tf.Tensor4D;
      const w = tf.ones([3, 3, 2, 3]) as tf.Tensor4D;
      const info = await tf.profile(() => tf.tidy(() => tf.grad((ww: tf.Tensor) => tf.sum(tf.conv2d(x, ww as tf.Tensor4D, 1, 'same')))(w)));
      const names = info.kernels.map((k) => k.name);
      expect(names).toContain('Conv2DBackpropFilter');
      expect(names).not.toContain('BatchMatMul');
      expect(names).not.toContain('StridedSlice');
      // The input gradient: stride 1 as a forward conv of the flipped filter; strided, the built-in.
      const dxKernels = async (stride: number) =>
        (await tf.profile(() => tf.tidy(() => tf.grad((xx: tf.Tensor) => tf.sum(tf.conv2d(xx as tf.Tensor4D, w, stride, 'same')))(x)))).kernels.map((k) => k.name);
      expect(await dxKernels(1)).toContain('Reverse');
      expect(await dxKernels(2)).not.toContain('Reverse');
      tf.dispose([x, w]);
    });
  });

  it('is registered: wasm really has Conv2DBackpropFilter now', async (ctx) => {
    if (!backends.includes('wasm')) ctx.skip();
    await withBackend('wasm', () => {
      expect(tf.getKernel(tf.Conv2DBackpropFilter, 'wasm')).toBeDefined();
    });
  });
});
