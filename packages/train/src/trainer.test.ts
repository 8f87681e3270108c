import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { lambdasWithZero } from '@mtd/aggregation';
import { counterNormals, createRng } from '@mtd/random';
import type { ModelOutput } from '@mtd/sampler';
import { expectNoLeak } from '@mtd/testkit';
import { readCheckpoint } from './checkpoint.js';
import { JsonlLog } from './log.js';
import type { TrainableModel, TrainInput } from './model.js';
import { toySetup } from './toy.testutil.js';
import { Trainer, TrainingDivergedError, uniformTimesteps, type TrainerOptions } from './trainer.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const setup = toySetup();
afterAll(() => setup.dispose());
const { toy, label } = setup;

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mtd-train-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const optimizer = { lr: 0.01, warmupSteps: 3, clipGradNorm: 0.5, weightDecay: 0.01, decaySteps: 30 };

function makeTrainer(modelSeed: number, extra: Partial<TrainerOptions> = {}) {
  const model = setup.model(modelSeed);
  const trainer = new Trainer({
    model,
    schedule: toy.schedule,
    modalities: [label],
    data: setup.data({ batchSize: 16, seed: 5 }),
    seed: 11,
    optimizer,
    ema: { decay: 0.9 },
    conditionDropout: 0.5,
    config: { note: 'test' },
    ...extra,
  });
  return { model, trainer, dispose: () => (trainer.dispose(), model.dispose()) };
}

async function snapshot(trainer: Trainer): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const { name, variable } of trainer.model.variables) out[`model/${name}`] = Array.from(await variable.data());
  const emaSlots = trainer.ema!.slots();
  for (const [name, t] of Object.entries(emaSlots)) out[`ema/${name}`] = Array.from(await t.data());
  tf.dispose(Object.values(emaSlots));
  const adamSlots = trainer.adam.slots();
  for (const [name, t] of Object.entries(adamSlots)) out[`adam/${name}`] = Array.from(await t.data());
  tf.dispose(Object.values(adamSlots));
  return out;
}

/**
 * A stopped run's step and Adam/EMA counts are `steps`, and its weights, moments and EMA those of
 * a trainer from `make` after `steps` plain steps. Frees both trainers and their models.
 */
async function expectStateOfSteps(steps: number, make: () => Trainer, trainer: Trainer): Promise<void> {
  const reference = make();
  for (let i = 0; i < steps; i++) await reference.trainStep();
  expect([trainer.step, trainer.adam.count, trainer.ema?.count]).toEqual([steps, steps, steps]);
  const [a, b] = [await snapshot(reference), await snapshot(trainer)];
  for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
  for (const t of [reference, trainer]) {
    t.dispose();
    t.model.dispose?.();
  }
}

describe('the flat optimizer layout in a step', () => {
  test('gathers the gradients once (norm and Adam) and the values once (Adam and the EMA), matches the per-variable layout to float32 rounding, and leaks nothing', async () => {
    const flat = makeTrainer(2, { optimizer: { ...optimizer, layout: 'flat' }, ema: { decay: 0.9, layout: 'flat' } });
    const plain = makeTrainer(2, { optimizer: { ...optimizer, layout: 'per-variable' }, ema: { decay: 0.9, layout: 'per-variable' } });
    await flat.trainer.trainStep();
    await plain.trainer.trainStep();
    let flatLoss = NaN;
    const info = await tf.profile(async () => {
      flatLoss = (await flat.trainer.trainStep()).loss;
      return [];
    });
    // The gradients (once, for the norm and Adam) and the values (once, for Adam; the EMA takes
    // Adam's updated vector).
    expect(info.kernels.filter((k) => k.name === 'MtdFlatConcat')).toHaveLength(2);
    const r = await plain.trainer.trainStep();
    expect(flatLoss).toBeCloseTo(r.loss, 5);
    const [a, b] = [await snapshot(flat.trainer), await snapshot(plain.trainer)];
    for (const [name, values] of Object.entries(b)) values.forEach((v, i) => expect(a[name]![i]!, name).toBeCloseTo(v, 5));
    await expectNoLeak(async () => {
      await flat.trainer.trainStep();
    }, 'flat step');
    flat.dispose();
    plain.dispose();
  });
});

describe('batch values of modalities the trainer does not use', () => {
  test('are freed by the step (a baseline trained without the label on the same batches)', async () => {
    const { trainer, dispose } = makeTrainer(2, { modalities: [] });
    await trainer.trainStep();
    await expectNoLeak(async () => {
      await trainer.trainStep();
    }, 'a step whose batch carries an unused label');
    dispose();
  });
});

describe('resume is bit-exact', () => {
  test('2N steps straight == N steps, checkpoint, load into fresh objects, N steps (losses, weights, EMA, moments; and the log)', async () => {
    const N = 6;
    const straight = makeTrainer(1);
    const lossesA: number[] = [];
    for (let i = 0; i < 2 * N; i++) lossesA.push((await straight.trainer.trainStep()).loss);
    const stateA = await snapshot(straight.trainer);

    const ckptDir = join(dir, 'resume');
    const logPath = join(dir, 'resume', 'log.jsonl');
    const first = makeTrainer(1);
    await first.trainer.train({ steps: N, checkpointDir: ckptDir, logPath, progress: 'off' });
    first.dispose();
    // A crash after the checkpoint: lines past it, and a torn last line.
    const log = new JsonlLog(logPath);
    await log.append({ step: N + 1, loss: 123 });
    const { appendFile } = await import('node:fs/promises');
    await appendFile(logPath, '{"step": 8, "lo');

    const second = makeTrainer(99); // different initial weights: everything must come from the checkpoint
    await second.trainer.restore(ckptDir);
    expect(second.trainer.step).toBe(N);
    await second.trainer.train({ steps: 2 * N, logPath, progress: 'off' });
    const stateB = await snapshot(second.trainer);

    const lossesB = (await log.read()).map((r) => r['loss'] as number);
    expect(lossesB).toEqual(lossesA); // bitwise: the log holds float64 renderings of the same float32 values
    expect((await log.read()).map((r) => r['step'])).toEqual(Array.from({ length: 2 * N }, (_, i) => i + 1));
    expect(Object.keys(stateB).sort()).toEqual(Object.keys(stateA).sort());
    for (const key of Object.keys(stateA)) expect(stateB[key], key).toEqual(stateA[key]);
    straight.dispose();
    second.dispose();
  });

  test('overlapped steps (overlapSteps) give the same losses, weights, moments and EMA as one at a time', async () => {
    const one = makeTrainer(3);
    const seen: Array<{ step: number; loss: number; first: number }> = [];
    await one.trainer.train({
      steps: 7,
      progress: 'off',
      onStep: async (r) => {
        // Not overlapped (the default): the model holds this step's weights.
        seen.push({ step: r.step, loss: r.loss, first: (await one.trainer.model.variables[0]!.variable.data())[0]! });
      },
    });
    const overlapped = makeTrainer(3);
    const logPath = join(dir, 'overlap.jsonl');
    await overlapped.trainer.train({ steps: 7, progress: 'off', logPath, overlapSteps: true });
    const losses = (await new JsonlLog(logPath).read()).map((r) => r['loss'] as number);
    expect(losses).toEqual(seen.map((x) => x.loss));
    expect(overlapped.trainer.step).toBe(7);
    const [a, b] = [await snapshot(one.trainer), await snapshot(overlapped.trainer)];
    for (const key of Object.keys(a)) expect(b[key], key).toEqual(a[key]);
    // The last onStep saw the final weights.
    expect(seen.at(-1)!.first).toBe(a[`model/${one.trainer.model.variables[0]!.name}`]![0]);
    await expect(overlapped.trainer.train({ steps: 8, overlapSteps: 'yes' as unknown as boolean })).rejects.toThrow(/Trainer.train: options.overlapSteps must be a boolean/);
    one.dispose();
    overlapped.dispose();
  });

  test('a checkpoint holds model, EMA, moments, step, RNG, data position and config; only the newest files are kept', async () => {
    const ckptDir = join(dir, 'contents');
    const { trainer, dispose } = makeTrainer(2);
    await trainer.train({ steps: 5, checkpointDir: ckptDir, checkpointEvery: 1, keepCheckpoints: 2, progress: 'off' });
    const files = (await readdir(ckptDir)).filter((f) => f.endsWith('.safetensors')).sort();
    expect(files).toEqual(['checkpoint-00000004.safetensors', 'checkpoint-00000005.safetensors']);
    const ckpt = await readCheckpoint(ckptDir);
    expect(ckpt.state.step).toBe(5);
    expect(ckpt.state.adam.count).toBe(5);
    expect(ckpt.state.ema?.count).toBe(5);
    expect(ckpt.state.config).toEqual({ note: 'test' });
    expect(ckpt.state.rng.algorithm).toBe('xoshiro128**');
    expect(ckpt.state.data).toMatchObject({ kind: 'generator' });
    const names = trainer.model.variables.map((v) => v.name);
    expect(ckpt.state.variables).toEqual(names);
    for (const n of names) {
      for (const prefix of ['model/', 'ema/', 'adam/m/', 'adam/v/']) expect(ckpt.tensors[`${prefix}${n}`], `${prefix}${n}`).toBeDefined();
    }
    dispose();
  });

  test('restore rejects a checkpoint of another model before changing anything', async () => {
    const ckptDir = join(dir, 'other');
    const small = makeTrainer(3);
    await small.trainer.train({ steps: 1, checkpointDir: ckptDir, progress: 'off' });
    small.dispose();
    const bigModel = setup.model(3, 24);
    const big = new Trainer({ model: bigModel, schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: 4, seed: 1 }), seed: 1, optimizer: { lr: 1e-3 } });
    const before = Array.from(await bigModel.variables[0]!.variable.data());
    await expect(big.restore(ckptDir)).rejects.toThrow(/Trainer.restore: the checkpoint's "model\/layers.0.weight" must be a tensor \[14, 24\], got \[14, 16\]$/);
    expect(Array.from(await bigModel.variables[0]!.variable.data())).toEqual(before);
    expect(big.step).toBe(0);
    big.dispose();
    bigModel.dispose();
  });
});

describe('divergence', () => {
  test('a NaN loss stops training with an error naming the step, and the last good checkpoint stays', async () => {
    const ckptDir = join(dir, 'nan');
    const model = setup.model(4);
    const trainer = new Trainer({
      model,
      schedule: toy.schedule,
      modalities: [label],
      data: setup.data({ batchSize: 8, seed: 3, nanAt: 7 }),
      seed: 2,
      optimizer,
    });
    const lines: string[] = [];
    const error = await trainer
      .train({ steps: 20, checkpointDir: ckptDir, checkpointEvery: 3, logPath: join(ckptDir, 'log.jsonl'), progress: 'lines', progressEvery: 1, progressStream: { write: (s: string) => lines.push(s) } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    const message = (error as Error).message;
    expect(message).toMatch(/training diverged at step 7: the loss is NaN; the weights were not updated with it; the last good checkpoint is .*checkpoint-00000006\.safetensors/);
    expect((error as TrainingDivergedError).step).toBe(7);
    expect(trainer.step).toBe(6);
    const ckpt = await readCheckpoint(ckptDir);
    expect(ckpt.state.step).toBe(6);
    // The weights in memory are still the good ones, equal to the checkpoint's.
    for (const { name, variable } of model.variables) {
      const data = await variable.data();
      expect(Array.from(data).every(Number.isFinite), name).toBe(true);
      expect(Array.from(data), name).toEqual(Array.from(ckpt.tensors[`model/${name}`]!.data as Float32Array));
    }
    // The optimizer's and the EMA's counts too: a checkpoint written now holds step 6's.
    await trainer.saveCheckpoint(join(ckptDir, 'after'));
    const after = await readCheckpoint(join(ckptDir, 'after'));
    expect([after.state.step, after.state.adam.count, after.state.ema?.count]).toEqual([6, 6, 6]);
    const logged = await new JsonlLog(join(ckptDir, 'log.jsonl')).read();
    expect(logged.map((r) => r['step'])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(lines.length).toBe(6);
    trainer.dispose();
    model.dispose();
  });

  test('overlapped: a NaN at step 5 (queued while 4 ran) skips 5 and the already-queued 6; the state is step 4\'s', async () => {
    const make = () =>
      new Trainer({ model: setup.model(4), schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: 8, seed: 3, nanAt: 5 }), seed: 2, optimizer });
    const trainer = make();
    const error = await trainer.train({ steps: 20, progress: 'off', overlapSteps: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingDivergedError);
    expect((error as TrainingDivergedError).step).toBe(5);
    await expectStateOfSteps(4, make, trainer);
  });

  test('overlapped: a bad batch for step 4 (recorded while 3 ran) is reported after step 3 completes, as without overlap', async () => {
    const make = () => {
      const inner = setup.data({ batchSize: 8, seed: 3 });
      let drawn = 0;
      const next = () => {
        if (++drawn === 4) throw new Error('bad batch 4');
        return inner.next();
      };
      const data = { ...inner, next, state: () => inner.state(), restore: (st: unknown) => inner.restore(st) };
      return new Trainer({ model: setup.model(4), schedule: toy.schedule, modalities: [label], data, seed: 2, optimizer });
    };
    const trainer = make();
    const logPath = join(dir, 'bad-batch.jsonl');
    await expect(trainer.train({ steps: 10, progress: 'off', overlapSteps: true, logPath })).rejects.toThrow('bad batch 4');
    expect((await new JsonlLog(logPath).read()).map((r) => r['step'])).toEqual([1, 2, 3]);
    await expectStateOfSteps(3, make, trainer);
  });

  test('overlapped: an onStep that throws at step 2 leaves the queued step 3 completed (weights and count agree)', async () => {
    const make = () => new Trainer({ model: setup.model(4), schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: 8, seed: 3 }), seed: 2, optimizer });
    const trainer = make();
    const onStep = (r: { step: number }) => {
      if (r.step === 2) throw new Error('onStep failed at 2');
    };
    await expect(trainer.train({ steps: 10, progress: 'off', overlapSteps: true, onStep })).rejects.toThrow('onStep failed at 2');
    await expectStateOfSteps(3, make, trainer);
  });

  test('an infinite gradient norm with a finite loss stops too', async () => {
    const w = tf.variable(tf.scalar(1));
    const blowUp = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      const x = args[0] as tf.Tensor;
      return { value: tf.clone(x), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.mul(dy as tf.Tensor, Infinity) };
    }) as (x: tf.Tensor) => tf.Tensor;
    const model: TrainableModel = {
      variables: [{ name: 'w', variable: w }],
      forward: ({ zt }) => ({ eps: tf.mul(zt, blowUp(w)), heads: {} }),
    };
    const trainer = new Trainer({ model, schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: 4, seed: 1 }), seed: 1, optimizer: { lr: 1e-3 }, ema: false });
    await expect(trainer.trainStep()).rejects.toThrow('training diverged at step 1: the gradient norm is Infinity; the weights were not updated with it; no checkpoint was written yet');
    expect(w.dataSync()[0]).toBe(1);
    trainer.dispose();
    w.dispose();
  });
});

describe('Algorithm 2, step by step', () => {
  /**
   * A linear model whose loss is easy to write in float64: eps = a z_t, label logits =
   * z_t M + b (present one-hot) (it reads the known label through its "conditioning path").
   */
  function linearModel() {
    const a = tf.variable(tf.scalar(0.3));
    const M = tf.variable(tf.tensor2d([[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]]));
    const b = tf.variable(tf.scalar(0.7));
    const model: TrainableModel = {
      variables: [
        { name: 'a', variable: a },
        { name: 'M', variable: M },
        { name: 'b', variable: b },
      ],
      forward: ({ zt, known, present }: TrainInput): ModelOutput => {
        const p = known['label'];
        let logits = tf.matMul(zt as tf.Tensor2D, M);
        if (p) logits = tf.add(logits, tf.mul(b, tf.mul(p, tf.reshape(present?.['label'] ?? tf.ones([zt.shape[0]!]), [-1, 1]))));
        return { eps: tf.mul(a, zt), heads: { label: logits } };
      },
    };
    return { model, dispose: () => tf.dispose([a, M, b]), a: 0.3, M: [[0.5, -0.2, 0.1], [0.3, 0.4, -0.6]], b: 0.7 };
  }

  test.each([
    ['head loss on dropped examples only', false, 0.5, 1],
    ['head loss on every example, rho 0.3, head weight 2', true, 0.5, 2],
    ['never dropped', false, 0, 1],
  ] as const)('the reported loss equals the float64 loss of MATH.md 4 (%s)', async (_name, headLossOnKnown, dropout, headWeight) => {
    const B = 12;
    const rho = headWeight === 2 ? 0.3 : 0.1;
    const lin = linearModel();
    const data = setup.data({ batchSize: B, seed: 8 });
    // The batch the trainer will see: replay the source from a copy of its state.
    const peek = setup.data({ batchSize: B, seed: 8 });
    const batch = peek.next();
    const x = Array.from(await batch.z0.data());
    const k = Array.from(await batch.values['label']!.data());
    tf.dispose([batch.z0, batch.values['label']!]);
    const trainer = new Trainer({
      model: lin.model, schedule: toy.schedule, modalities: [label], data, seed: 21, optimizer: { lr: 1e-3 }, ema: false,
      rho, headWeights: { label: headWeight }, conditionDropout: dropout, headLossOnKnown,
    });
    const result = await trainer.trainStep();

    // The trainer's stream, replayed: timesteps, one uniform per example for the dropout, the noise key.
    const rng = createRng(21).fork('train');
    const { t } = uniformTimesteps(rng, B, toy.schedule);
    const present = Array.from({ length: B }, () => (rng.uniform() < dropout ? 0 : 1));
    const noise = counterNormals([rng.nextUint32(), rng.nextUint32()], 0, 2 * B, new Float64Array(2 * B));
    const lambda = lambdasWithZero(toy.schedule, [toy.labelWeight])[0]!;
    let noiseSum = 0;
    let headSum = 0;
    for (let i = 0; i < B; i++) {
      const ti = t[i]!;
      const ab = toy.schedule.alphaBars[ti - 1]!;
      const e = toy.embeddings[k[i]!]!;
      const n = [Math.fround(noise[2 * i]!), Math.fround(noise[2 * i + 1]!)];
      const z = [0, 1].map((d) => Math.sqrt(ab) * x[2 * i + d]! + lambda[ti]! * e[d]! + Math.sqrt(1 - ab) * n[d]!);
      noiseSum += ((n[0]! - lin.a * z[0]!) ** 2 + (n[1]! - lin.a * z[1]!) ** 2) / 2;
      const logits = [0, 1, 2].map((c) => z[0]! * lin.M[0]![c]! + z[1]! * lin.M[1]![c]! + (dropout < 1 && c === k[i] ? lin.b * present[i]! : 0));
      const max = Math.max(...logits);
      const lse = max + Math.log(logits.reduce((s, l) => s + Math.exp(l - max), 0));
      const ce = lse - logits[k[i]!]!;
      headSum += (headLossOnKnown ? 1 : 1 - present[i]!) * ce;
    }
    const expectedNoise = noiseSum / B;
    const expectedHead = headSum / B;
    expect(result.noise).toBeCloseTo(expectedNoise, 5);
    expect(result.terms['label']).toBeCloseTo(expectedHead, 5);
    expect(result.loss).toBeCloseTo(expectedNoise + rho * headWeight * expectedHead, 5);
    expect(result.step).toBe(1);
    expect(result.examples).toBe(B);
    trainer.dispose();
    lin.dispose();
  });

  test('the timestep sampler and example-weight hooks: weights multiply the per-example terms', async () => {
    const B = 6;
    const seen: number[][] = [];
    const run = async (extra: Partial<TrainerOptions>) => {
      const lin = linearModel();
      const trainer = new Trainer({
        model: lin.model, schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: B, seed: 8 }), seed: 3, optimizer: { lr: 1e-3 }, ema: false, conditionDropout: 1, ...extra,
      });
      const r = await trainer.trainStep();
      trainer.dispose();
      lin.dispose();
      return r;
    };
    const fixed = (rng: { uniform(): number }, batch: number) => {
      rng.uniform(); // keeps the stream moving like a real sampler
      return { t: Int32Array.from({ length: batch }, (_, i) => 10 * (i + 1)) };
    };
    const plain = await run({ timestepSampler: fixed });
    const doubled = await run({ timestepSampler: (rng, batch) => ({ ...fixed(rng, batch), weights: new Float32Array(batch).fill(2) }) });
    expect(doubled.noise).toBeCloseTo(2 * plain.noise, 5);
    expect(doubled.terms['label']).toBeCloseTo(2 * plain.terms['label']!, 5);
    const minSnr = await run({
      timestepSampler: fixed,
      exampleWeights: (t) => {
        seen.push(Array.from(t));
        return new Float32Array(t.length).fill(0.5);
      },
    });
    expect(seen).toEqual([[10, 20, 30, 40, 50, 60]]);
    expect(minSnr.noise).toBeCloseTo(0.5 * plain.noise, 5);
    expect(minSnr.terms['label']).toBeCloseTo(plain.terms['label']!, 5);
    await expect(run({ timestepSampler: () => ({ t: new Int32Array(B).fill(0) }) })).rejects.toThrow('Trainer.trainStep: timestepSampler(...).t[0] must be a timestep in 1..200, got 0');
  });

  test('no tensors leak over training steps, checkpoints and a restore', async () => {
    const { trainer, dispose } = makeTrainer(6);
    await trainer.trainStep();
    await expectNoLeak(async () => {
      await trainer.train({ steps: 10, checkpointDir: join(dir, 'leak'), checkpointEvery: 4, progress: 'off' });
      await trainer.restore(join(dir, 'leak'));
    }, 'train + checkpoint + restore');
    dispose();
  });

  test('bad options are named', () => {
    const model = setup.model(0);
    const base = { model, schedule: toy.schedule, modalities: [label], data: setup.data({ batchSize: 2, seed: 0 }), seed: 0, optimizer: { lr: 1e-3 } } as TrainerOptions;
    expect(() => new Trainer({ ...base, seed: -1 })).toThrow('Trainer: options.seed must be an integer >= 0, got -1');
    expect(() => new Trainer({ ...base, conditionDropout: 1.5 })).toThrow('Trainer: options.conditionDropout must be a finite number >= 0 and <= 1, got 1.5');
    expect(() => new Trainer({ ...base, conditionDropout: { lable: 0.1 } })).toThrow(/options.conditionDropout must be keyed by modality names \(label\), got "lable"/);
    expect(() => new Trainer({ ...base, optimizer: { lr: 1e-3, clipGradNorm: 0 } })).toThrow('Trainer: options.optimizer.clipGradNorm must be a finite number > 0, got 0');
    expect(() => new Trainer({ ...base, model: {} as TrainableModel })).toThrow('Trainer: options.model.forward must be a function, got undefined');
    expect(() => new Trainer({ ...base, data: {} as never })).toThrow(/options.data must be a DataSource/);
    expect(() => new Trainer({ ...base, rho: -1 })).toThrow('Trainer: options.rho must be a finite number >= 0, got -1');
    model.dispose();
  });
});
