import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, test } from 'vitest';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { Adam } from './adam.js';
import { createRng } from '@mtd/random';
import { Ema, EMA_UPDATE_KERNEL } from './ema.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('Ema', () => {
  test('shadow = d shadow + (1 - d) p, with the warm-up min(d, (1 + k) / (10 + k)), against float64', () => {
    const v = tf.variable(tf.tensor1d([1, -2]));
    for (const warmup of [true, false]) {
      v.assign(tf.tensor1d([1, -2]));
      const ema = new Ema([{ name: 'w', variable: v }], { decay: 0.9, warmup });
      let ref = [1, -2];
      for (let k = 1; k <= 30; k++) {
        const p = [Math.sin(k), Math.cos(k)];
        tf.tidy(() => v.assign(tf.tensor1d(p)));
        ema.update();
        const d = warmup ? Math.min(0.9, (1 + k) / (10 + k)) : 0.9;
        expect(ema.decayAt(k)).toBe(d);
        ref = ref.map((s, i) => d * s + (1 - d) * p[i]!);
      }
      const slots = ema.slots();
      expectClose(slots['w']!.dataSync(), ref, { rtol: 1e-5, atol: 1e-6 });
      tf.dispose(Object.values(slots));
      expect(ema.count).toBe(30);
      ema.dispose();
    }
    v.dispose();
  });

  test('onlyIf: true is the plain update bit for bit, false keeps the shadows; rewindCount takes the count back', () => {
    const v = tf.variable(tf.tensor1d([1, -2, 0.5]));
    for (const layout of ['flat', 'per-variable'] as const) {
      const [a, b] = [new Ema([{ name: 'w', variable: v }], { decay: 0.9, layout }), new Ema([{ name: 'w', variable: v }], { decay: 0.9, layout })];
      const shadow = (e: Ema) => tf.tidy(() => Array.from(e.slots()['w']!.dataSync()));
      tf.tidy(() => v.assign(tf.tensor1d([0.3, 0.1, -4])));
      a.update();
      tf.tidy(() => b.update({ onlyIf: tf.scalar(true, 'bool') }));
      expect(shadow(b), layout).toEqual(shadow(a));
      const before = shadow(b);
      tf.tidy(() => v.assign(tf.tensor1d([NaN, 2, 3])));
      tf.tidy(() => b.update({ onlyIf: tf.scalar(false, 'bool') }));
      expect(shadow(b), layout).toEqual(before);
      expect(b.count).toBe(2);
      b.rewindCount();
      expect(b.count).toBe(1);
      expect(() => tf.tidy(() => b.update({ onlyIf: tf.scalar(0) }))).toThrow(/Ema.update: options.onlyIf must be a bool scalar tensor/);
      [a, b].forEach((e) => e.dispose());
    }
    const fresh = new Ema([{ name: 'w', variable: v }], { decay: 0.9 });
    expect(() => fresh.rewindCount()).toThrow('Ema.rewindCount: no update to take back (the count is 0)');
    fresh.dispose();
    v.dispose();
  });

  test('withWeights swaps the EMA weights in and restores the trained ones, also on a throw', async () => {
    const v = tf.variable(tf.tensor1d([0, 0]));
    const ema = new Ema([{ name: 'w', variable: v }], { decay: 0.5, warmup: false });
    tf.tidy(() => v.assign(tf.tensor1d([2, 4])));
    ema.update(); // shadow = [1, 2]
    const inside = await ema.withWeights(() => Array.from(v.dataSync()));
    expect(inside).toEqual([1, 2]);
    expect(Array.from(v.dataSync())).toEqual([2, 4]);
    await expect(ema.withWeights(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(Array.from(v.dataSync())).toEqual([2, 4]);
    await expectNoLeak(() => ema.withWeights(() => ema.update()), 'withWeights + update');
    ema.copyToModel();
    const slots = ema.slots();
    expect(Array.from(v.dataSync())).toEqual(Array.from(slots['w']!.dataSync()));
    tf.dispose(Object.values(slots));
    ema.dispose();
    v.dispose();
  });

  test('flat and per-variable layouts give the same shadows bit for bit; restore and copyToModel work in both, without leaks', async () => {
    const shapes = [[2, 3], [4], [1, 2, 2]];
    const make = () => shapes.map((s, i) => ({ name: `w${i}`, variable: tf.variable(tf.fill(s, i + 0.5)) }));
    const flatVars = make();
    const perVars = make();
    const flat = new Ema(flatVars, { decay: 0.97, layout: 'flat' });
    const per = new Ema(perVars, { decay: 0.97 });
    expect([flat.layout, per.layout]).toEqual(['flat', 'per-variable']);
    const before = tf.memory().numTensors;
    for (let k = 1; k <= 5; k++) {
      for (const vars of [flatVars, perVars]) vars.forEach(({ variable }, i) => tf.tidy(() => variable.assign(tf.mul(variable, tf.scalar(Math.cos(k + i))))));
      flat.update();
      per.update();
    }
    expect(tf.memory().numTensors).toBe(before);
    const a = flat.slots();
    const b = per.slots();
    for (const { name } of flatVars) expect(Array.from(a[name]!.dataSync()), name).toEqual(Array.from(b[name]!.dataSync()));
    expect(a['w2']!.shape).toEqual([1, 2, 2]);
    // Restore the per-variable shadows into a fresh flat EMA, then copy them into the model.
    const saved = Object.fromEntries(Object.entries(b).map(([k, t]) => [k, { shape: t.shape, data: t.dataSync() as Float32Array }]));
    const again = new Ema(flatVars, { decay: 0.97, layout: 'flat' });
    again.restore(5, saved);
    again.copyToModel();
    for (const { name, variable } of flatVars) expect(Array.from(variable.dataSync()), name).toEqual(Array.from(saved[name]!.data));
    expect(again.count).toBe(5);
    tf.dispose([...Object.values(a), ...Object.values(b)]);
    for (const e of [flat, per, again]) e.dispose();
    [...flatVars, ...perVars].forEach(({ variable }) => variable.dispose());
  });

  test("values: Adam's flat result taken as the current values, the same shadows bit for bit; a wrong size is named", async () => {
    const shapes = [[2, 2], [3]];
    const make = () => shapes.map((s, i) => ({ name: `w${i}`, variable: tf.variable(tf.fill(s, 0.5 * (i + 1))) }));
    const [a, b] = [make(), make()];
    const [emaA, emaB] = [new Ema(a, { decay: 0.9, layout: 'flat' }), new Ema(b, { decay: 0.9, layout: 'flat' })];
    const [adamA, adam] = [new Adam(a, { lr: 0.1, layout: 'flat' }), new Adam(b, { lr: 0.1, layout: 'flat' })];
    const grads = { w0: tf.tensor2d([1, -3, 0.5, 2], [2, 2]), w1: tf.tensor1d([-2, 0.25, 4]) };
    for (let k = 0; k < 3; k++) {
      adamA.apply(grads);
      emaA.update();
      const values = adam.apply(grads, 1, { returnValues: true })!;
      expect(Array.from(await values.data())).toEqual((await Promise.all(b.map(({ variable }) => variable.data()))).flatMap((v) => Array.from(v)));
      emaB.update({ values });
      values.dispose();
    }
    const [sa, sb] = [emaA.slots(), emaB.slots()];
    for (const name of Object.keys(sa)) expect(Array.from(await sb[name]!.data())).toEqual(Array.from(await sa[name]!.data()));
    expect(() => emaB.update({ values: tf.zeros([6]) })).toThrow(/Ema\.update: options\.values must be the flat layout's 7 current values/);
    expect(adam.apply(grads)).toBeUndefined();
    tf.dispose([...Object.values(sa), ...Object.values(sb), ...Object.values(grads)]);
    for (const x of [emaA, emaB, adamA, adam]) x.dispose();
    for (const { variable } of [...a, ...b]) variable.dispose();
  });

  test('bad options are named', () => {
    const v = tf.variable(tf.tensor1d([0]));
    expect(() => new Ema([{ name: 'w', variable: v }], { decay: 1.5 })).toThrow('Ema: options.decay must be a finite number >= 0 and <= 1, got 1.5');
    expect(() => new Ema([{ name: '', variable: v }], { decay: 0.9 })).toThrow(/variables\[0\].name must be a non-empty string/);
    expect(() => new Ema([{ name: 'w', variable: v }], { decay: 0.9, layout: 'wide' as 'flat' })).toThrow(/Ema: options.layout must be 'flat' or 'per-variable'/);
    v.dispose();
  });
});

describe('Ema on webgpu (lavapipe in CI)', () => {
  test("matches the cpu update, with @mtd/backend's one-kernel step (MtdEmaUpdate) and with tfjs ops, guard included", async (ctx) => {
    const { availableBackends, withBackend } = await import('@mtd/backend');
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    const shapes = [[2, 3], [5]];
    const rng = createRng(12);
    const steps = [0, 1, 2].map(() => shapes.map((s) => Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal())));
    const run = async (): Promise<{ shadows: number[][]; kernelSteps: number }> => {
      const vars = shapes.map((s, i) => ({ name: `w${i}`, variable: tf.variable(tf.zeros(s)) }));
      const ema = new Ema(vars, { decay: 0.9, layout: 'flat' });
      let kernelSteps = 0;
      for (const [k, values] of steps.entries()) {
        vars.forEach(({ variable }, i) => variable.assign(tf.tensor(values[i]!, shapes[i]!)));
        // Step 1 is guarded off (the shadows stay; the count is taken back as the Trainer does).
        const guard = k === 1 ? tf.scalar(false, 'bool') : undefined;
        const info = await tf.profile(() => ema.update(guard === undefined ? {} : { onlyIf: guard }));
        if (info.kernels.some((kernel) => kernel.name === EMA_UPDATE_KERNEL)) kernelSteps += 1;
        if (k === 1) ema.rewindCount();
        guard?.dispose();
      }
      const named = ema.slots();
      const shadows = await Promise.all(vars.map(async ({ name }) => Array.from(await named[name]!.data())));
      tf.dispose(Object.values(named));
      ema.dispose();
      vars.forEach(({ variable }) => variable.dispose());
      return { shadows, kernelSteps };
    };
    const cpu = await run();
    const gpu = await withBackend('webgpu', run);
    const gpuOps = await withBackend('webgpu', run, { webgpu: { optimizer: 'ops' } });
    await tf.setBackend('cpu');
    expect([cpu.kernelSteps, gpu.kernelSteps, gpuOps.kernelSteps]).toEqual([0, 3, 0]);
    gpu.shadows.forEach((v, i) => expectClose(v, cpu.shadows[i]!, { rtol: 1e-6, atol: 1e-7, label: `w${i}` }));
    gpuOps.shadows.forEach((v, i) => expectClose(v, cpu.shadows[i]!, { rtol: 1e-6, atol: 1e-7, label: `ops w${i}` }));
  });
});
