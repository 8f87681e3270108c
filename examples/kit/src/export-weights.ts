import type { SafeTensor } from '@mtd/io';
import { readCheckpoint } from '@mtd/train';
import { saveWeights } from './weights.js';

/**
 * Makes a shipped weights file from a training run: the EMA weights of a trainer checkpoint (what
 * sampling uses; the trained weights when the run kept no EMA), without the optimizer state, with
 * the run config, the step and the training data in the metadata. `dataset` names the training
 * data when the checkpoint's config does not record it.
 */
export async function exportWeights(from: string, to: string, dataset?: string): Promise<{ tensors: number; step: number; ema: boolean; dataset: string }> {
  const checkpoint = await readCheckpoint(from);
  const recorded = (checkpoint.state.config as { dataset?: unknown } | null)?.dataset;
  const data = typeof recorded === 'string' ? recorded : dataset;
  if (data === undefined) throw new RangeError(`exportWeights: ${checkpoint.path} does not record its training data; pass --dataset NAME`);
  const ema = checkpoint.state.ema !== null;
  const prefix = ema ? 'ema/' : 'model/';
  const tensors: Record<string, SafeTensor> = {};
  for (const name of checkpoint.state.variables) {
    const t = checkpoint.tensors[`${prefix}${name}`];
    if (t === undefined) throw new RangeError(`exportWeights: ${checkpoint.path} must hold "${prefix}${name}", got no such tensor`);
    tensors[name] = t;
  }
  await saveWeights(to, tensors, {
    config: JSON.stringify(checkpoint.state.config),
    dataset: data,
    step: String(checkpoint.state.step),
    weights: ema ? 'EMA' : 'trained (no EMA)',
  });
  return { tensors: checkpoint.state.variables.length, step: checkpoint.state.step, ema, dataset: data };
}

