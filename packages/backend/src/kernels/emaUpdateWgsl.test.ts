import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { EMA_UPDATE_KERNEL } from './emaUpdateWgsl.js';
import { programsOf } from './programs.testutil.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

// webgpu only (see addN.test.ts on Dawn's teardown after a cpu case in the same file).
describe("MtdEmaUpdate (webgpu, selectBackend's optimizer: 'wgsl')", () => {
  it('is one program that matches the float64 step, keeps the shadow where the guard is false, and leaks nothing', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    const rng = createRng(9);
    try {
      await selectBackend('webgpu');
      const n = 777;
      const [sv, vv] = [rng.fillNormal(new Float32Array(n)), rng.fillNormal(new Float32Array(n))];
      const [shadow, values] = [tf.tensor1d(sv), tf.tensor1d(vv)];
      const decay = 0.995;
      for (const guard of [undefined, true, false]) {
        const guardT = guard === undefined ? undefined : tf.scalar(guard, 'bool');
        const run = () => tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values, ...(guardT === undefined ? {} : { guard: guardT }) }, { decay }) as tf.Tensor;
        const { out, programs } = await programsOf(run);
        expect(programs).toEqual(['EmaUpdateProgram']);
        const ref = Array.from(sv, (s, i) => (guard === false ? s : decay * s + (1 - decay) * vv[i]!));
        expectClose(await out.data(), ref, { rtol: 1e-6, atol: 1e-7, label: `guard ${String(guard)}` });
        await expectNoLeak(run, `guard ${String(guard)}`);
        tf.dispose([out, ...(guardT === undefined ? [] : [guardT])]);
      }
      // The decay as an input (a step graph's): the same result bit for bit.
      const coefficients = tf.tensor1d([decay]);
      const fromAttr = tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values }, { decay }) as tf.Tensor;
      const fromInput = tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values, coefficients }, { decay: Number.NaN }) as tf.Tensor;
      expect(Array.from(await fromInput.data())).toEqual(Array.from(await fromAttr.data()));
      expect(() => tf.tidy(() => tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values, coefficients: tf.zeros([2]) }, { decay }))).toThrow(/MtdEmaUpdate: inputs\.coefficients must be float32 \[1\] \(the decay\) when given, got float32 \[2\]/);
      tf.dispose([coefficients, fromAttr, fromInput]);
      // NaN values behind a false guard leave the shadow as it was.
      const [nan, off] = [tf.fill([n], Number.NaN), tf.scalar(false, 'bool')];
      const kept = tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values: nan, guard: off }, { decay }) as tf.Tensor;
      expectClose(await kept.data(), sv, { rtol: 0, atol: 0, label: 'NaN behind a false guard' });
      expect(() => tf.tidy(() => tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values: tf.zeros([3]) }, { decay }))).toThrow(/MtdEmaUpdate: inputs\.values must be float32 \[777\] like inputs\.shadow, got float32 \[3\]/);
      expect(() => tf.engine().runKernel(EMA_UPDATE_KERNEL, { shadow, values }, { decay: 1.5 })).toThrow(/MtdEmaUpdate: attrs\.decay must be in \[0, 1\], got 1\.5/);
      tf.dispose([shadow, values, nan, off, kept]);
      await selectBackend('webgpu', { webgpu: { optimizer: 'ops' } });
      expect(tf.getKernel(EMA_UPDATE_KERNEL, 'webgpu')).toBeUndefined();
    } finally {
      await selectBackend('webgpu');
    }
  });
});
