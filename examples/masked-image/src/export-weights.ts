/**
 * Makes the shipped weights file from a training run: the EMA weights of a trainer checkpoint
 * (what sampling uses), without the optimizer state, with the run config in the metadata.
 *
 *   pnpm export-weights -- --from out/masked-image/mt/checkpoints --to weights/mt-diffusion-u-cpu.safetensors
 */
import { parseArgs } from 'node:util';
import { saveWeights } from '@mtd/example-kit';
import type { SafeTensor } from '@mtd/io';
import { readCheckpoint } from '@mtd/train';

/** `dataset` names the training data when the checkpoint's config does not (runs before it was recorded). */
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

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { from: { type: 'string' }, to: { type: 'string' }, dataset: { type: 'string' } } });
  if (values.from === undefined || values.to === undefined) {
    console.error('usage: pnpm export-weights -- --from CHECKPOINT_DIR_OR_FILE --to WEIGHTS.safetensors [--dataset NAME]');
    process.exit(2);
  }
  exportWeights(values.from, values.to, values.dataset).then(
    (r) => console.log(`wrote ${values.to}: ${r.tensors} tensors, ${r.ema ? 'EMA' : 'trained'} weights of step ${r.step}, trained on ${r.dataset}`),
    (e: unknown) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(2);
    },
  );
}
