import { availableBackends, withBackend } from '@mtd/backend';
import { cosineSchedule } from '@mtd/schedule';
import { expectNoLeak } from '@mtd/testkit';
import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tinyUNetData, tinyUNetModel } from './tiny-unet.testutil.js';
import { Trainer, TrainingDivergedError, type StepGraphStatus, type StepResult } from './trainer.js';

const schedule = cosineSchedule({ T: 50 });

/** A tiny two-modality U-Net trainer; `poisonAt`: the batch (1-based) whose image is NaN. */
function setup(options: { stepGraph: 'auto' | 'off'; dropout?: number; poisonAt?: number }) {
  const { model, modalities } = tinyUNetModel({ ...(options.dropout !== undefined ? { dropout: options.dropout } : {}) });
  const data = tinyUNetData({ batchSize: 3, ...(options.poisonAt !== undefined ? { poisonAt: options.poisonAt } : {}) });
  const trainer = new Trainer({ model, schedule, modalities, data, seed: 1, optimizer: { lr: 1e-3, clipGradNorm: 1, warmupSteps: 3 }, ema: { decay: 0.99 }, stepGraph: options.stepGraph });
  return { model, trainer };
}

/** Every number of the training state: weights, Adam moments and EMA shadows. */
async function stateOf(s: ReturnType<typeof setup>): Promise<number[]> {
  const slots = { ...s.trainer.adam.slots(), ...(s.trainer.ema?.slots() ?? {}) };
  const values = [...(await Promise.all(s.model.variables.map(({ variable }) => variable.data()))), ...(await Promise.all(Object.values(slots).map((t) => t.data())))];
  tf.dispose(Object.values(slots));
  return values.flatMap((v) => Array.from(v));
}

async function run(options: Parameters<typeof setup>[0], steps: number, midway?: (s: ReturnType<typeof setup>) => Promise<void>, overlapSteps?: boolean) {
  const s = setup(options);
  const results: StepResult[] = [];
  const statuses: StepGraphStatus['state'][] = [];
  const onStep = (r: StepResult) => {
    results.push(r);
    statuses.push(s.trainer.graphStatus.state);
  };
  const loop = { progress: 'off' as const, onStep, ...(overlapSteps !== undefined ? { overlapSteps } : {}) };
  await s.trainer.train({ steps: Math.ceil(steps / 2), ...loop });
  // Reading the state caches it on the CPU; later steps must not be hidden behind that cache.
  await stateOf(s);
  await midway?.(s);
  await s.trainer.train({ steps, ...loop });
  const state = await stateOf(s);
  const status = s.trainer.graphStatus;
  return { s, results, statuses, state, status };
}

function dispose(s: ReturnType<typeof setup>): void {
  s.trainer.dispose();
  s.model.dispose();
}

describe('Trainer on webgpu: steps replayed from a recorded step graph', () => {
  it('train the same as steps run through tfjs, bit for bit (losses, norms, weights, moments, EMA), and leak nothing', async (ctx) => {
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    await withBackend('webgpu', async () => {
      const plain = await run({ stepGraph: 'off' }, 9);
      const graph = await run({ stepGraph: 'auto' }, 9);
      expect(plain.status.state).toBe('off');
      // Steps 1-3 are recorded (the first also uploads the initial weights, so 2 and 3 make the graph).
      expect(graph.statuses).toEqual(['recording', 'recording', 'replaying', 'replaying', 'replaying', 'replaying', 'replaying', 'replaying', 'replaying']);
      expect(graph.results).toEqual(plain.results);
      expect(graph.state).toEqual(plain.state);
      // Replays queued behind the step in flight (overlapSteps: the default when there is no onStep).
      const overlapped = await run({ stepGraph: 'auto' }, 9, undefined, true);
      expect(overlapped.statuses).toEqual(graph.statuses);
      expect(overlapped.results).toEqual(plain.results);
      expect(overlapped.state).toEqual(plain.state);
      dispose(overlapped.s);
      // A clone of a weight keeps its values: the graph is dropped while the clone shares the
      // variable's data, and the trainer records and replays again.
      const snapshot = tf.clone(graph.s.model.variables[0]!.variable);
      const snapped = Array.from(await snapshot.data());
      await expectNoLeak(() => graph.s.trainer.train({ steps: 12, progress: 'off' }), 'replayed steps');
      expect(Array.from(await snapshot.data())).toEqual(snapped);
      snapshot.dispose();
      expect(graph.s.trainer.graphStatus.state).toBe('replaying');
      expect(graph.s.trainer.graphStatus.commands).toBeGreaterThan(50);
      dispose(plain.s);
      dispose(graph.s);
    });
  }, 120_000);

  it('records again after a restore, stops on a diverged replayed step with the weights untouched, and says why a step with host-drawn dropout is not replayed', async (ctx) => {
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    const dir = mkdtempSync(join(tmpdir(), 'mtd-graph-'));
    try {
      await withBackend('webgpu', async () => {
        // A checkpoint written after step 4 and restored: the graph is dropped and made again.
        const restoreMidway = async (s: ReturnType<typeof setup>) => {
          const path = await s.trainer.saveCheckpoint(dir);
          const replaying = s.trainer.graphStatus.state === 'replaying';
          await s.trainer.restore(path);
          if (replaying) expect(s.trainer.graphStatus).toEqual({ state: 'recording', reason: 'recording again after a restore' });
        };
        const plain = await run({ stepGraph: 'off' }, 8, restoreMidway);
        const graph = await run({ stepGraph: 'auto' }, 8, restoreMidway);
        expect(graph.statuses.slice(-4)).toEqual(['recording', 'recording', 'replaying', 'replaying']);
        expect(graph.results).toEqual(plain.results);
        expect(graph.state).toEqual(plain.state);
        dispose(plain.s);
        dispose(graph.s);
        // Batch 6 holds a NaN: step 6 is replayed, diverges, and changes nothing; step 7, replayed
        // behind it (overlapped: no onStep), skips its update too. Training then goes on from
        // step 5 with batches 8 on, recording again, as a run through tfjs does.
        const diverge = async (stepGraph: 'auto' | 'off') => {
          const s = setup({ stepGraph, poisonAt: 6 });
          await s.trainer.train({ steps: 5, progress: 'off', overlapSteps: true });
          if (stepGraph === 'auto') expect(s.trainer.graphStatus.state).toBe('replaying');
          const before = await stateOf(s);
          const error = await s.trainer.train({ steps: 8, progress: 'off', overlapSteps: true }).catch((e: unknown) => e);
          expect(error).toBeInstanceOf(TrainingDivergedError);
          expect((error as TrainingDivergedError).step).toBe(6);
          expect([s.trainer.step, s.trainer.adam.count, s.trainer.ema?.count]).toEqual([5, 5, 5]);
          expect(await stateOf(s)).toEqual(before);
          if (stepGraph === 'auto') expect(s.trainer.graphStatus.state).toBe('recording');
          await s.trainer.train({ steps: 10, progress: 'off', overlapSteps: true });
          const after = await stateOf(s);
          expect(after).not.toEqual(before);
          if (stepGraph === 'auto') expect(s.trainer.graphStatus.state).toBe('replaying');
          dispose(s);
          return after;
        };
        expect(await diverge('auto')).toEqual(await diverge('off'));
        // Dropout masks drawn on the host each step: not a static step.
        const dropout = setup({ stepGraph: 'auto', dropout: 0.3 });
        await dropout.trainer.train({ steps: 5, progress: 'off' });
        expect(dropout.trainer.graphStatus.state).toBe('unavailable');
        expect(dropout.trainer.graphStatus.reason).toMatch(/two consecutive steps differ/);
        dispose(dropout);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 180_000);
});
