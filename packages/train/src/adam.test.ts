import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { createRng } from '@mtd/random';
import { Adam, ADAM_UPDATE_KERNEL, learningRateAt, type AdamOptions } from './adam.js';
import type { NamedVariable } from './variables.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** PyTorch's Adam/AdamW step, literally, in float64 on plain arrays. */
function referenceAdam(p0: number[], grads: number[][], scales: number[], o: Required<Omit<AdamOptions, 'decaySteps' | 'layout'>> & { decaySteps?: number }) {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  grads.forEach((g, j) => {
    const k = j + 1;
    let lr = o.lr;
    if (o.warmupSteps > 0 && k < o.warmupSteps) lr = (o.lr * k) / o.warmupSteps;
    else if (o.decaySteps !== undefined && o.decaySteps > o.warmupSteps) {
      const q = Math.min(1, (k - o.warmupSteps) / (o.decaySteps - o.warmupSteps));
      lr = o.lr * (o.finalFraction + (1 - o.finalFraction) * 0.5 * (1 + Math.cos(Math.PI * q)));
    }
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! * scales[j]!;
      p[i] = p[i]! * (1 - lr * o.weightDecay);
      m[i] = o.beta1 * m[i]! + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i]! + (1 - o.beta2) * gi * gi;
      const mHat = m[i]! / (1 - o.beta1 ** k);
      const denom = Math.sqrt(v[i]!) / Math.sqrt(1 - o.beta2 ** k) + o.epsilon;
      p[i] = p[i]! - (lr * mHat) / denom;
    }
  });
  return { p, m, v };
}

function variables(values: number[][]): NamedVariable[] {
  return values.map((v, i) => ({ name: `v${i}`, variable: tf.variable(tf.tensor1d(v)) }));
}

describe('Adam', () => {
  test('matches the float64 reference (bias correction, warm-up, cosine decay, AdamW decay, gradient scale): 100 fast-check cases', () => {
    fc.assert(
      fc.property(
        fc.record({
          lr: fc.double({ min: 1e-4, max: 0.1, noNaN: true }),
          beta1: fc.constantFrom(0, 0.5, 0.9),
          beta2: fc.constantFrom(0.9, 0.999),
          epsilon: fc.constantFrom(1e-8, 1e-3),
          weightDecay: fc.constantFrom(0, 0.01, 0.1),
          warmupSteps: fc.integer({ min: 0, max: 4 }),
          finalFraction: fc.constantFrom(0, 0.1),
          decay: fc.boolean(),
          steps: fc.integer({ min: 1, max: 6 }),
          seed: fc.integer({ min: 0, max: 1e6 }),
          layout: fc.constantFrom('flat' as const, 'per-variable' as const),
        }),
        (c) => {
          const rng = createRng(c.seed);
          const p0 = Array.from({ length: 5 }, () => rng.normal());
          const grads = Array.from({ length: c.steps }, () => Array.from({ length: 5 }, () => rng.normal()));
          const scales = Array.from({ length: c.steps }, () => (rng.uniform() < 0.5 ? 1 : rng.uniform()));
          const options = {
            lr: c.lr,
            beta1: c.beta1,
            beta2: c.beta2,
            epsilon: c.epsilon,
            weightDecay: c.weightDecay,
            warmupSteps: c.warmupSteps,
            finalFraction: c.finalFraction,
            ...(c.decay ? { decaySteps: c.steps + 2 } : {}),
          };
          const ref = referenceAdam(p0, grads, scales, options);
          const vars = variables([p0.slice(0, 2), p0.slice(2)]);
          const adam = new Adam(vars, { ...options, layout: c.layout });
          grads.forEach((g, j) => {
            tf.tidy(() => adam.apply({ v0: tf.tensor1d(g.slice(0, 2)), v1: tf.tensor1d(g.slice(2)) }, scales[j]));
          });
          const got = [...vars[0]!.variable.dataSync(), ...vars[1]!.variable.dataSync()];
          expectClose(got, ref.p, { rtol: 1e-5, atol: 1e-6, label: 'parameters' });
          const slots = adam.slots();
          expectClose([...slots['m/v0']!.dataSync(), ...slots['m/v1']!.dataSync()], ref.m, { rtol: 1e-5, atol: 1e-7, label: 'm' });
          expectClose([...slots['v/v0']!.dataSync(), ...slots['v/v1']!.dataSync()], ref.v, { rtol: 1e-5, atol: 1e-9, label: 'v' });
          tf.dispose(Object.values(slots));
          expect(adam.count).toBe(c.steps);
          adam.dispose();
          vars.forEach((v) => v.variable.dispose());
        },
      ),
      { numRuns: 100 },
    );
  });

  test('the first update moves every coordinate by about lr (Adam is scale-free)', () => {
    const vars = variables([[0, 0, 0]]);
    const adam = new Adam(vars, { lr: 0.01 });
    tf.tidy(() => adam.apply({ v0: tf.tensor1d([1e-3, -5, 300]) }));
    expectClose(vars[0]!.variable.dataSync(), [-0.01, 0.01, -0.01], { rtol: 1e-4 });
    adam.dispose();
    vars[0]!.variable.dispose();
  });

  test('a variable without a gradient is left alone, moments included', () => {
    const vars = variables([[1, 2], [3]]);
    const adam = new Adam(vars, { lr: 0.1 });
    tf.tidy(() => adam.apply({ v0: tf.tensor1d([1, 1]) }));
    expect(Array.from(vars[1]!.variable.dataSync())).toEqual([3]);
    const slots = adam.slots();
    expect(Array.from(slots['m/v1']!.dataSync())).toEqual([0]);
    expect(slots['m/v0']!.dataSync()[0]).toBeGreaterThan(0);
    tf.dispose(Object.values(slots));
    expect(vars[0]!.variable.dataSync()[0]).toBeCloseTo(0.9, 5);
    adam.dispose();
    vars.forEach((v) => v.variable.dispose());
  });

  test('learning-rate schedule: linear warm-up, then constant or cosine to the final fraction', () => {
    expect(learningRateAt(1, { lr: 1, warmupSteps: 4 })).toBe(0.25);
    expect(learningRateAt(4, { lr: 1, warmupSteps: 4 })).toBe(1);
    expect(learningRateAt(100, { lr: 1, warmupSteps: 4 })).toBe(1);
    expect(learningRateAt(1, { lr: 2 })).toBe(2);
    expect(learningRateAt(10, { lr: 1, decaySteps: 10, finalFraction: 0.1 })).toBeCloseTo(0.1, 12);
    expect(learningRateAt(5, { lr: 1, decaySteps: 10 })).toBeCloseTo(0.5, 12);
    expect(learningRateAt(12, { lr: 1, warmupSteps: 2, decaySteps: 12, finalFraction: 0 })).toBeCloseTo(0, 12);
    expect(learningRateAt(50, { lr: 1, warmupSteps: 2, decaySteps: 12, finalFraction: 0.2 })).toBeCloseTo(0.2, 12);
  });

  test('restore puts back moments and count; a later update equals the unbroken one bit for bit', () => {
    const a = variables([[0.5, -1]]);
    const b = variables([[0.5, -1]]);
    const o = { lr: 0.05, warmupSteps: 2, weightDecay: 0.01 };
    const adamA = new Adam(a, o);
    const adamB = new Adam(b, o);
    const g = (x: number) => ({ v0: tf.tensor1d([x, -2 * x]) });
    for (const x of [1, 0.3]) {
      tf.tidy(() => adamA.apply(g(x)));
      tf.tidy(() => adamB.apply(g(x)));
    }
    const slotsA = adamA.slots();
    const saved = Object.fromEntries(Object.entries(slotsA).map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }]));
    tf.dispose(Object.values(slotsA));
    const fresh = new Adam(b, o);
    fresh.restore(adamA.count, saved);
    tf.tidy(() => adamA.apply(g(0.7)));
    tf.tidy(() => fresh.apply(g(0.7)));
    expect(Array.from(b[0]!.variable.dataSync())).toEqual(Array.from(a[0]!.variable.dataSync()));
    expect(() => fresh.restore(1, {})).toThrow(/Adam.restore: slots\["m\/v0"\] must be present/);
    [adamA, adamB, fresh].forEach((x) => x.dispose());
    [...a, ...b].forEach((v) => v.variable.dispose());
  });

  test('onlyIf: true updates bit for bit as unguarded, false keeps values and moments (NaN gradients too); a tensor gradScale equals the number; rewindCount', () => {
    for (const layout of ['flat', 'per-variable'] as const) {
      const o = { lr: 0.05, warmupSteps: 2, weightDecay: 0.01, layout };
      const [a, b] = [variables([[0.5, -1], [2]]), variables([[0.5, -1], [2]])];
      const [adamA, adamB] = [new Adam(a, o), new Adam(b, o)];
      const g = (x: number) => ({ v0: tf.tensor1d([x, -2 * x]), v1: tf.tensor1d([3 * x]) });
      const values = (vars: NamedVariable[]) => vars.flatMap((v) => Array.from(v.variable.dataSync()));
      const moments = (adam: Adam) => tf.tidy(() => Object.values(adam.slots()).flatMap((t) => Array.from(t.dataSync())));
      tf.tidy(() => adamA.apply(g(1), 0.5));
      tf.tidy(() => adamB.apply(g(1), tf.scalar(0.5), { onlyIf: tf.scalar(true, 'bool') }));
      expect(values(b), layout).toEqual(values(a));
      expect(moments(adamB), layout).toEqual(moments(adamA));
      const before = { p: values(b), m: moments(adamB) };
      for (const bad of [NaN, Infinity]) {
        tf.tidy(() => adamB.apply(g(bad), 1, { onlyIf: tf.scalar(false, 'bool') }));
        expect(adamB.count).toBe(2);
        adamB.rewindCount();
        expect(values(b), layout).toEqual(before.p);
        expect(moments(adamB), layout).toEqual(before.m);
      }
      expect(adamB.count).toBe(1);
      // After a skipped update the next one is update 2 on both: the same bit for bit.
      tf.tidy(() => adamA.apply(g(0.3)));
      tf.tidy(() => adamB.apply(g(0.3)));
      expect(values(b), layout).toEqual(values(a));
      expect(() => tf.tidy(() => adamB.apply(g(1), 1, { onlyIf: tf.scalar(1) }))).toThrow(/Adam.apply: options.onlyIf must be a bool scalar tensor/);
      expect(() => tf.tidy(() => adamB.apply(g(1), tf.tensor1d([1, 2]) as unknown as tf.Scalar))).toThrow(/Adam.apply: gradScale must be a number or a float32 scalar tensor/);
      [adamA, adamB].forEach((x) => x.dispose());
      [...a, ...b].forEach((v) => v.variable.dispose());
    }
    const lone = new Adam(variables([[1]]), { lr: 0.1 });
    expect(() => lone.rewindCount()).toThrow('Adam.rewindCount: no update to take back (the count is 0)');
    lone.dispose();
  });

  test('leaves no tensors behind', async () => {
    const vars = variables([[1, 2, 3]]);
    const adam = new Adam(vars, { lr: 0.1, weightDecay: 0.1 });
    const g = { v0: tf.tensor1d([1, 2, 3]) };
    await expectNoLeak(() => {
      for (let i = 0; i < 5; i++) adam.apply(g, 0.5);
    }, 'Adam.apply');
    const [scale, guard] = [tf.scalar(0.5), tf.scalar(true, 'bool')];
    await expectNoLeak(() => adam.apply(g, scale, { onlyIf: guard }), 'Adam.apply guarded');
    tf.dispose([scale, guard]);
    tf.dispose(g);
    adam.dispose();
    vars[0]!.variable.dispose();
  });

  test('bad options and gradients are named', () => {
    const vars = variables([[1, 2]]);
    expect(() => new Adam(vars, { lr: 0 })).toThrow('Adam: options.lr must be a finite number > 0, got 0');
    expect(() => new Adam(vars, { lr: 1, beta1: 1 })).toThrow(/options.beta1 must be a finite number >= 0 and < 1, got 1/);
    expect(() => new Adam(vars, { lr: 1, warmupSteps: 1.5 })).toThrow(/options.warmupSteps must be an integer >= 0, got 1.5/);
    expect(() => new Adam([...vars, ...vars], { lr: 1 })).toThrow(/variables\[1\].name must be unique/);
    const adam = new Adam(vars, { lr: 1 });
    expect(() => tf.tidy(() => adam.apply({ v0: tf.tensor1d([1, 2, 3]) }))).toThrow(/grads\["v0"\] must be shaped like the variable \[2\]/);
    expect(() => tf.tidy(() => adam.apply({ v0: tf.tensor1d([1, 2]) }, -1))).toThrow(/gradScale must be a finite number >= 0/);
    adam.dispose();
    vars[0]!.variable.dispose();
  });
});

describe('Adam over flat moments', () => {
  /** The per-variable float32 update (what Adam did before its moments were flattened). */
  function perVariableStep(vars: NamedVariable[], m: tf.Tensor[], v: tf.Tensor[], grads: Record<string, tf.Tensor>, scale: number, o: { beta1: number; beta2: number; epsilon: number; stepSize: number; inv: number; decay: number; wd: number }): void {
    vars.forEach(({ name, variable }, i) => {
      const g0 = grads[name];
      if (g0 === undefined) return;
      tf.tidy(() => {
        const g = scale === 1 ? g0 : tf.mul(g0, tf.scalar(scale));
        const mNew = tf.add(tf.mul(tf.scalar(o.beta1), m[i]!), tf.mul(tf.scalar(1 - o.beta1), g));
        const vNew = tf.add(tf.mul(tf.scalar(o.beta2), v[i]!), tf.mul(tf.scalar(1 - o.beta2), tf.square(g)));
        const denom = tf.add(tf.mul(tf.sqrt(vNew), tf.scalar(o.inv)), tf.scalar(o.epsilon));
        const decayed = o.wd > 0 ? tf.mul(variable, tf.scalar(o.decay)) : variable;
        variable.assign(tf.sub(decayed, tf.mul(tf.scalar(o.stepSize), tf.div(mNew, denom))));
        tf.keep(mNew);
        tf.keep(vNew);
        m[i]!.dispose();
        v[i]!.dispose();
        m[i] = mNew;
        v[i] = vNew;
      });
    });
  }

  test.each(['flat', 'per-variable'] as const)('%s layout: the per-variable float32 update bit for bit (odd shapes, clipping scales, weight decay, a missing gradient), without leaks', async (layout) => {
    const shapes = [[3, 2], [5], [1, 1, 4], [2]];
    const rng = createRng(21);
    const init = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
    const make = () => init.map((vals, i) => ({ name: `w${i}`, variable: tf.variable(tf.tensor(vals, shapes[i]!)) }));
    const flatVars = make();
    const refVars = make();
    const o = { lr: 0.01, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, epsilon: 1e-8 };
    const adam = new Adam(flatVars, { ...o, layout });
    expect(adam.layout).toBe(layout);
    const m = refVars.map(({ variable }) => tf.zerosLike(variable));
    const v = refVars.map(({ variable }) => tf.zerosLike(variable));
    const before = tf.memory().numTensors;
    for (let k = 1; k <= 6; k++) {
      const scale = k % 2 === 0 ? 0.37 : 1;
      const grads: Record<string, tf.Tensor> = {};
      shapes.forEach((s, i) => {
        if (k === 3 && i === 1) return; // w1 not connected to this step's loss
        grads[`w${i}`] = tf.tensor(Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()), s);
      });
      const lr = adam.nextLearningRate();
      adam.apply(grads, scale);
      perVariableStep(refVars, m, v, grads, scale, { ...o, stepSize: lr / (1 - o.beta1 ** k), inv: 1 / Math.sqrt(1 - o.beta2 ** k), decay: 1 - lr * o.weightDecay, wd: o.weightDecay });
      tf.dispose(Object.values(grads));
    }
    expect(tf.memory().numTensors).toBe(before);
    const slots = adam.slots();
    flatVars.forEach(({ variable }, i) => {
      expect(Array.from(variable.dataSync()), `w${i}`).toEqual(Array.from(refVars[i]!.variable.dataSync()));
      expect(Array.from(slots[`m/w${i}`]!.dataSync()), `m/w${i}`).toEqual(Array.from(m[i]!.dataSync()));
      expect(Array.from(slots[`v/w${i}`]!.dataSync()), `v/w${i}`).toEqual(Array.from(v[i]!.dataSync()));
      expect(slots[`m/w${i}`]!.shape).toEqual(shapes[i]);
    });
    tf.dispose([...Object.values(slots), ...m, ...v]);
    adam.dispose();
    [...flatVars, ...refVars].forEach(({ variable }) => variable.dispose());
  });

  test.each(['flat', 'per-variable'] as const)('%s layout: constructing, updating and disposing leaves no tensor behind', (layout) => {
    const vars = variables([[1, 2], [3]]);
    const before = tf.memory().numTensors;
    const adam = new Adam(vars, { lr: 0.1, layout });
    expect(tf.memory().numTensors).toBe(before + (layout === 'flat' ? 2 : 4)); // m and v of each block
    tf.tidy(() => adam.apply({ v0: tf.tensor1d([1, 1]), v1: tf.tensor1d([2]) }));
    adam.dispose();
    expect(tf.memory().numTensors).toBe(before);
    vars.forEach((v) => v.variable.dispose());
  });

  test('an unknown layout is named', () => {
    const vars = variables([[1]]);
    expect(() => new Adam(vars, { lr: 0.1, layout: 'wide' as 'flat' })).toThrow(/Adam: options.layout must be 'flat' or 'per-variable'/);
    vars[0]!.variable.dispose();
  });

  test('flatGradients: gathered once, the same update bit for bit; undefined off the flat layout or with a gradient missing', async () => {
    const shapes = [[2, 3], [4], [1, 5]];
    const init = shapes.map((s, i) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, j) => 0.1 * (i + 1) * (j - 2)));
    const make = () => shapes.map((s, i) => ({ name: `w${i}`, variable: tf.variable(tf.tensor(init[i]!, s)) }));
    const grads = Object.fromEntries(shapes.map((s, i) => [`w${i}`, tf.tensor(init[i]!.map((v) => 0.3 - v), s)]));
    const [a, b] = [make(), make()];
    const [adamA, adamB] = [new Adam(a, { lr: 0.1, layout: 'flat' }), new Adam(b, { lr: 0.1, layout: 'flat' })];
    const flat = adamB.flatGradients(grads)!;
    expect(flat.shape).toEqual([15]);
    for (let k = 0; k < 2; k++) {
      adamA.apply(grads, 0.5);
      const info = await tf.profile(() => adamB.apply(grads, 0.5, { flatGradients: flat }));
      // Only the values are gathered: the gradients came flat.
      expect(info.kernels.filter((kk) => kk.name === 'MtdFlatConcat')).toHaveLength(1);
    }
    for (const [i, { variable }] of a.entries()) expect(Array.from(await b[i]!.variable.data())).toEqual(Array.from(await variable.data()));
    expect(() => adamB.apply(grads, 1, { flatGradients: tf.zeros([14]) })).toThrow(/Adam\.apply: options\.flatGradients must be flatGradients\(grads\)'s result \(the flat layout's 15 gradients\)/);
    const c = make();
    const perVariable = new Adam(c, { lr: 0.1, layout: 'per-variable' });
    expect(perVariable.flatGradients(grads)).toBeUndefined();
    expect(adamB.flatGradients({ w0: grads['w0']!, w1: grads['w1']! })).toBeUndefined();
    tf.dispose([flat, ...Object.values(grads)]);
    for (const x of [adamA, adamB, perVariable]) x.dispose();
    for (const { variable } of [...a, ...b, ...c]) variable.dispose();
  });

  test('flat layout: a fixed number of engine kernels whatever the variable count, not a dozen per variable', async () => {
    const vars = Array.from({ length: 30 }, (_, i) => ({ name: `w${i}`, variable: tf.variable(tf.ones([2, 3])) }));
    const adam = new Adam(vars, { lr: 0.1, weightDecay: 0.01, layout: 'flat' });
    const grads = Object.fromEntries(vars.map(({ name }) => [name, tf.ones([2, 3])]));
    const info = await tf.profile(() => adam.apply(grads, 0.5));
    // Two flat concats (gradients, values), the clipping scale, a dozen elementwise ops, one flat
    // split back into the variables; no reshape or slice per variable.
    const names = info.kernels.map((k) => k.name);
    expect(names.length, names.join(' ')).toBeLessThanOrEqual(20);
    expect(names.filter((n) => n === 'MtdFlatConcat')).toHaveLength(2);
    expect(names.filter((n) => n === 'MtdFlatSplit')).toHaveLength(1);
    // (tf.profile reuses its kernel list: read one profile before taking the next.)
    const perVariable = new Adam(vars, { lr: 0.1, weightDecay: 0.01 });
    expect(perVariable.layout).toBe('per-variable'); // the default off webgpu
    const infoPer = await tf.profile(() => perVariable.apply(grads, 0.5));
    expect(infoPer.kernels.filter((k) => k.name !== 'Reshape').length).toBeGreaterThanOrEqual(12 * vars.length);
    perVariable.dispose();
    tf.dispose(Object.values(grads));
    adam.dispose();
    vars.forEach(({ variable }) => variable.dispose());
  });
});

describe('Adam on webgpu (lavapipe in CI)', () => {
  test("defaults to the flat layout there and matches the cpu update, with @mtd/backend's one-kernel step (MtdAdamUpdate) and with tfjs ops", async (ctx) => {
    const { availableBackends, withBackend } = await import('@mtd/backend');
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    const shapes = [[3, 3, 2, 4], [4], [7]];
    const rng = createRng(5);
    const init = shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal()));
    const gradients = [1, 2, 3, 4].map(() => shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal())));
    const run = async (): Promise<{ layout: string; values: number[][]; kernelSteps: number }> => {
      const vars = init.map((vals, i) => ({ name: `w${i}`, variable: tf.variable(tf.tensor(vals, shapes[i]!)) }));
      const adam = new Adam(vars, { lr: 0.01, weightDecay: 0.01 });
      let kernelSteps = 0;
      for (const [k, gs] of gradients.entries()) {
        // Step 1 lacks w2's gradient (the ops path); step 2 is guarded off (nothing changes, the
        // count is taken back as the Trainer does); step 3 takes its clip scale as a tensor.
        const grads = Object.fromEntries(gs.flatMap((g, i) => (k === 1 && i === 2 ? [] : [[`w${i}`, tf.tensor(g, shapes[i]!)]])));
        const guard = k === 2 ? tf.scalar(false, 'bool') : k === 0 ? tf.scalar(true, 'bool') : undefined;
        const scale = k === 3 ? tf.scalar(0.6) : 0.8;
        const info = await tf.profile(() => {
          adam.apply(grads, scale, guard === undefined ? {} : { onlyIf: guard });
        });
        if (info.kernels.some((kernel) => kernel.name === ADAM_UPDATE_KERNEL)) kernelSteps += 1;
        if (k === 2) adam.rewindCount();
        tf.dispose([...Object.values(grads), ...(guard === undefined ? [] : [guard]), ...(typeof scale === 'number' ? [] : [scale])]);
      }
      const values = await Promise.all(vars.map(async ({ variable }) => Array.from(await variable.data())));
      const layout = adam.layout;
      adam.dispose();
      vars.forEach(({ variable }) => variable.dispose());
      return { layout, values, kernelSteps };
    };
    const cpu = await run();
    const gpu = await withBackend('webgpu', run);
    const gpuOps = await withBackend('webgpu', run, { webgpu: { optimizer: 'ops' } });
    await tf.setBackend('cpu');
    expect(cpu.layout).toBe('per-variable');
    expect(gpu.layout).toBe('flat');
    // Every step with all gradients present ran the kernel; none without it registered.
    expect([cpu.kernelSteps, gpu.kernelSteps, gpuOps.kernelSteps]).toEqual([0, 3, 0]);
    gpu.values.forEach((v, i) => expectClose(v, cpu.values[i]!, { rtol: 1e-5, atol: 1e-6, label: `w${i}` }));
    gpuOps.values.forEach((v, i) => expectClose(v, cpu.values[i]!, { rtol: 1e-5, atol: 1e-6, label: `ops w${i}` }));
  });
});
