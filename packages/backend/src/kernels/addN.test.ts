import { createRng } from '@mtd/random';
import { expectClose, expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, it } from 'vitest';
import { availableBackends, withBackend } from '../harness.js';
import type { BackendName } from '../selectBackend.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

// webgpu only: no other backend gets a replacement AddN. (With a cpu case first in this file,
// Dawn's teardown crashed the worker: "std::system_error: Invalid argument" at exit.)
describe('tf.addN with the registered kernels', () => {
  for (const name of ['webgpu'] as const) {
    it(`sums 30 tensors (more than a WebGPU shader may bind) like the float64 reference on ${name}, without leaks`, async (ctx) => {
      if (!backends.includes(name)) ctx.skip();
      const rng = createRng(4);
      const values = Array.from({ length: 30 }, () => rng.fillNormal(new Float32Array(5)));
      const want = Array.from({ length: 5 }, (_, j) => values.reduce((s, v) => s + v[j]!, 0));
      await withBackend(name, async () => {
        const inputs = values.map((v) => tf.tensor1d(v));
        const sum = tf.addN(inputs);
        expectClose(await sum.data(), want, { rtol: 1e-5, atol: 1e-5, label: `${name} addN of 30` });
        await expectNoLeak(() => tf.addN(inputs), 'addN');
        tf.dispose([...inputs, sum]);
      });
    });
  }
});
