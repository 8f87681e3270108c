import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import { beforeAll, describe, expect, it } from 'vitest';
import { FEATURE_NET_SHAPES, featureNetForward, initFeatureNet, type FeatureNetParams } from './feature-net.js';

/**
 * The feature network on the wasm backend, which trains it (PLATFORM.md: the fast CPU backend, and
 * the one without a Conv2DBackpropFilter kernel, which the custom gradients avoid).
 */

function images(n: number, seed: number): tf.Tensor4D {
  const rng = createRng(seed);
  return tf.tensor4d(rng.fillUniform(new Float32Array(n * 784), -1, 1), [n, 28, 28, 1]);
}

describe('feature network on wasm', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  it('gets the same loss gradients on cpu and on wasm (the training backend), and leaks nothing', async () => {
    const p = initFeatureNet(5);
    const x = images(4, 6);
    const y = tf.oneHot(tf.tensor1d([0, 3, 7, 9], 'int32'), 10);
    const lossFn = (): tf.Scalar => tf.losses.softmaxCrossEntropy(y, featureNetForward(p as FeatureNetParams, x).logits) as tf.Scalar;
    const gradsOn = async (backend: string): Promise<Record<string, Float32Array>> => {
      await tf.setBackend(backend);
      const { value, grads } = tf.variableGrads(lossFn, Object.values(p));
      const out: Record<string, Float32Array> = {};
      for (const [name, v] of Object.entries(p)) out[name] = (await grads[v.name]!.data()) as Float32Array;
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const cpu = await gradsOn('cpu');
    const wasm = await gradsOn('wasm');
    for (const name of Object.keys(FEATURE_NET_SHAPES)) {
      const scale = cpu[name]!.reduce((m, v) => Math.max(m, Math.abs(v)), 1e-6);
      expectClose(wasm[name]!, cpu[name]!, { rtol: 1e-3, atol: 1e-4 * scale, label: `d loss / d ${name}` });
    }
    await tf.setBackend('cpu');
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(lossFn, Object.values(p));
      return [value, ...Object.values(grads)];
    }, 'featureNet gradients');
    tf.dispose([...Object.values(p), x, y]);
  });

  it('a few Adam steps on wasm lower the loss on a small batch', async () => {
    // On wasm, the backend training uses (the cpu backend needs ~2 s per step here). Tensors are
    // made after the switch, as in the training script: tfjs-backend-wasm 4.22 can fail with
    // "detached ArrayBuffer" when tensors moved over from the cpu backend make its heap grow.
    await tf.setBackend('wasm');
    const p = initFeatureNet(7);
    const x = images(16, 8);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 10), 'int32'), 10);
    const optimizer = tf.train.adam(1e-3);
    const losses: number[] = [];
    for (let s = 0; s < 6; s++) {
      const loss = optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, featureNetForward(p as FeatureNetParams, x).logits) as tf.Scalar,
        true,
      )!;
      losses.push(loss.dataSync()[0]!);
      loss.dispose();
    }
    expect(losses[5]!).toBeLessThan(losses[0]! * 0.8);
    optimizer.dispose();
    tf.dispose([...Object.values(p), x, y]);
    await tf.setBackend('cpu');
  });

});
