/**
 * The examples' `pnpm export-weights` command:
 *
 *   pnpm export-weights -- --from out/masked-image/mt/checkpoints --to weights/mt-diffusion-u-cpu.safetensors [--dataset NAME]
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { exportWeights } from './export-weights.js';

const { values } = parseArgs({ args: process.argv.slice(2).filter((a) => a !== '--'), options: { from: { type: 'string' }, to: { type: 'string' }, dataset: { type: 'string' } } });
if (values.from === undefined || values.to === undefined) {
  console.error('usage: pnpm export-weights -- --from CHECKPOINT_DIR_OR_FILE --to WEIGHTS.safetensors [--dataset NAME]');
  process.exit(2);
}
// Relative to where the user ran the command (pnpm runs scripts inside the package folder).
const base = process.env['INIT_CWD'] ?? process.cwd();
exportWeights(resolve(base, values.from), resolve(base, values.to), values.dataset).then(
  (r) => console.log(`wrote ${values.to}: ${r.tensors} tensors, ${r.ema ? 'EMA' : 'trained'} weights of step ${r.step}, trained on ${r.dataset}`),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(2);
  },
);
