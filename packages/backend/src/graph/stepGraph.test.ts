import { createRng } from '@mtd/random';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { availableBackends } from '../harness.js';
import { selectBackend, type BackendName } from '../selectBackend.js';
import { StepGraph, StepGraphError } from './stepGraph.js';
import { startStepRecording, type StepRecording } from './stepRecording.js';

let backends: BackendName[] = [];
beforeAll(async () => {
  backends = await availableBackends();
});

const [B, IN, OUT] = [16, 48, 24];

/** A small training problem: least squares with momentum, its state in two variables. */
function problem(seed: number) {
  const rng = createRng(seed);
  const w0 = rng.fillNormal(new Float32Array(IN * OUT));
  const batches = Array.from({ length: 8 }, () => ({ x: rng.fillNormal(new Float32Array(B * IN)), y: rng.fillNormal(new Float32Array(B * OUT)), lr: new Float32Array([0.01 * (1 + rng.uniform())]) }));
  return { w0, batches };
}

function makeState(w0: Float32Array, tag: string) {
  return { w: tf.variable(tf.tensor2d(w0, [IN, OUT]), true, `w_${tag}`), m: tf.variable(tf.zeros([IN, OUT]), false, `m_${tag}`) };
}

/** One step; `hostScale`: a per-step number the step turns into a tensor itself (not an input). */
function step(s: { w: tf.Variable; m: tf.Variable }, x: tf.Tensor, y: tf.Tensor, lr: tf.Tensor, hostScale?: number): tf.Tensor {
  const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(tf.matMul(x, s.w), y))) as tf.Scalar, [s.w]);
  tf.tidy(() => {
    const g = hostScale === undefined ? grads[s.w.name]! : tf.mul(grads[s.w.name]!, tf.scalar(hostScale));
    s.m.assign(tf.add(tf.mul(s.m, 0.9), g));
    s.w.assign(tf.sub(s.w, tf.mul(lr, s.m)));
  });
  tf.dispose(grads);
  const out = tf.tidy(() => tf.stack([value, tf.sum(s.w)]));
  value.dispose();
  return out;
}

type Batch = ReturnType<typeof problem>['batches'][number];
const tensorsOf = (b: Batch) => [tf.tensor2d(b.x, [B, IN]), tf.tensor2d(b.y, [B, OUT]), tf.tensor1d(b.lr)];

/** Runs one step under a recording; returns the recording and the step's outputs. */
async function recorded(s: ReturnType<typeof makeState>, b: Batch, options: { hostScale?: number; readInside?: boolean } = {}): Promise<{ rec: StepRecording; values: Float32Array }> {
  const inputs = tensorsOf(b);
  const rec = startStepRecording(inputs);
  let out: tf.Tensor;
  try {
    out = step(s, inputs[0]!, inputs[1]!, inputs[2]!, options.hostScale);
    if (options.readInside === true) await out.data();
  } catch (error) {
    rec.abandon();
    throw error;
  }
  rec.finish([out]);
  const values = (await out.data()) as Float32Array;
  tf.dispose([out, ...inputs]);
  return { rec, values };
}

describe('StepGraph (webgpu): a recorded step replayed', () => {
  it('gives the same outputs and variables as running the step, bit for bit, and leaks nothing', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await selectBackend('webgpu');
    const { w0, batches } = problem(3);
    // Reference: every step run through tfjs.
    const ref = makeState(w0, 'ref');
    const refOut: number[][] = [];
    for (const b of batches) {
      const inputs = tensorsOf(b);
      const out = step(ref, inputs[0]!, inputs[1]!, inputs[2]!);
      refOut.push(Array.from(await out.data()));
      tf.dispose([out, ...inputs]);
    }
    const refW = await ref.w.data();
    const refM = await ref.m.data();
    // Two recorded steps, then the rest replayed.
    const s = makeState(w0, 'graph');
    // The first step also uploads the variables' initial values: it differs from the second.
    const zeroth = await recorded(s, batches[0]!);
    const first = await recorded(s, batches[1]!);
    expect(() => StepGraph.fromRecordings(zeroth.rec, first.rec)).toThrow(/two consecutive steps differ: they issued \d+ and \d+ commands/);
    const second = await recorded(s, batches[2]!);
    const pool = (tf.backend() as unknown as { bufferManager: { numFreeBuffers: number } }).bufferManager;
    const freeBefore = pool.numFreeBuffers;
    const graph = StepGraph.fromRecordings(first.rec, second.rec);
    const taken = freeBefore - pool.numFreeBuffers;
    expect(taken).toBeGreaterThan(0);
    expect(graph.current).toBe(true);
    const outs = [zeroth, first, second].map((r) => Array.from(r.values));
    const tensorsBefore = tf.memory().numTensors;
    // A read caches the values on the CPU: replays must not be hidden behind that cache.
    await s.w.data();
    // Replays queued while earlier ones are in flight (the host prepares step k + 1 while the GPU
    // runs step k): each reads what the one before left, each reads back its own outputs.
    const runs = batches.slice(3).map((b) => {
      const inputs = tensorsOf(b);
      const run = graph.run(inputs);
      tf.dispose(inputs);
      return run;
    });
    expect(graph.inFlight).toBe(runs.length);
    for (const [values] of await Promise.all(runs)) outs.push(Array.from(values!));
    expect(graph.inFlight).toBe(0);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
    expect(outs).toEqual(refOut);
    expect(Array.from(await s.w.data())).toEqual(Array.from(refW));
    expect(Array.from(await s.m.data())).toEqual(Array.from(refM));
    // Inputs already on the GPU are copied in; the variables keep following the steps.
    const onGpu = tensorsOf(batches[0]!).map((t) => tf.tidy(() => tf.add(t, 0)));
    const [viaCopy] = await graph.run(onGpu);
    const inputs = tensorsOf(batches[0]!);
    const viaOps = step(ref, inputs[0]!, inputs[1]!, inputs[2]!);
    expect(Array.from(viaCopy!)).toEqual(Array.from(await viaOps.data()));
    tf.dispose([...onGpu, ...inputs, viaOps]);
    // Bad inputs name the argument.
    const wrong = [tf.zeros([B, IN]), tf.zeros([B, OUT + 1]), tf.zeros([1])];
    expect(() => graph.run(wrong)).toThrow(/StepGraph\.run: inputs\[1\] must be a live float32 tensor \[16, 24\], got float32 \[16, 25\]/);
    expect(() => graph.run(wrong.slice(0, 2))).toThrow(/StepGraph\.run: inputs must be 3 tensors, got 2/);
    tf.dispose(wrong);
    // A tensor sharing a variable's data (a clone) would see a replay change it: not current.
    const snapshot = tf.clone(s.m);
    expect(graph.current).toBe(false);
    snapshot.dispose();
    expect(graph.current).toBe(true);
    // Assigning a variable the graph replaces ends it.
    s.w.assign(tf.tensor2d(w0, [IN, OUT]));
    expect(graph.current).toBe(false);
    const fresh = tensorsOf(batches[2]!);
    expect(() => graph.run(fresh)).toThrow(StepGraphError);
    tf.dispose(fresh);
    const freeBeforeDispose = pool.numFreeBuffers;
    graph.dispose();
    graph.dispose();
    expect(pool.numFreeBuffers - freeBeforeDispose).toBe(taken);
    tf.dispose([ref.w, ref.m, s.w, s.m]);
  });

  it('refuses steps that upload a per-step value of their own, read back inside, or keep a tensor they made', async (ctx) => {
    if (!backends.includes('webgpu')) ctx.skip();
    await selectBackend('webgpu');
    const { w0, batches } = problem(5);
    const s = makeState(w0, 'refused');
    tf.dispose(step(s, ...(tensorsOf(batches[7]!) as [tf.Tensor, tf.Tensor, tf.Tensor])));
    const a = await recorded(s, batches[0]!, { hostScale: 1.5 });
    const b = await recorded(s, batches[1]!, { hostScale: 2.5 });
    expect(() => StepGraph.fromRecordings(a.rec, b.rec)).toThrow(/two consecutive steps differ: command \d+ \(an upload of 4 bytes\) uploads other values/);
    const c = await recorded(s, batches[2]!, { readInside: true });
    expect(c.rec.invalid).toMatch(/reads a tensor back/);
    expect(() => StepGraph.fromRecordings(b.rec, c.rec)).toThrow(/the second recorded step cannot be replayed: the step reads a tensor back/);
    // The same step twice, but its output still alive: building must not take its buffer.
    const d = await recorded(s, batches[3]!);
    const inputs = tensorsOf(batches[4]!);
    const rec = startStepRecording(inputs);
    const kept = step(s, inputs[0]!, inputs[1]!, inputs[2]!);
    rec.finish([kept]);
    await kept.data();
    tf.dispose(inputs);
    const free = (tf.backend() as unknown as { bufferManager: { numFreeBuffers: number } }).bufferManager.numFreeBuffers;
    expect(() => StepGraph.fromRecordings(d.rec, rec)).toThrow(/a tensor the step made is still alive after it/);
    expect((tf.backend() as unknown as { bufferManager: { numFreeBuffers: number } }).bufferManager.numFreeBuffers).toBe(free);
    tf.dispose([kept, s.w, s.m]);
    expect(() => startStepRecording([kept])).toThrow(/startStepRecording: inputs must be an array of live tf\.Tensors/);
  });
});
