import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { writeJsonAtomic } from '@mtd/io';
import { backendOption, intOption, numberOption, parse, requiredString, stringOption } from './args.js';
import { generate, loadExperiment } from './generate.js';
import { writeImageGrid } from './png.js';

export const SAMPLE_USAGE = `sample options:
  --checkpoint PATH          a run's checkpoints/ folder (its latest) or a checkpoint file
  --out DIR                  where samples.png / <modality>.png / samples.json go (default mtd-samples)
  --n N                      samples (default 16)
  --batch N                  samples per sampler call (default 64; results do not depend on it)
  --steps N                  timesteps visited (default: all T)
  --method ddpm|ddim         (default ddpm); --eta X for DDIM (default 0)
  --label K                  condition on class K (models with a label modality)
  --guidance S               classifier-free guidance scale on the given condition
  --weights ema|raw          which weights to sample with (default ema)
  --seed N, --backend NAME   (defaults 0, auto)`;

export async function sampleCommand(args: readonly string[], log: (line: string) => void): Promise<number> {
  const c = 'sample';
  const values = parse(c, args, ['checkpoint', 'out', 'n', 'batch', 'steps', 'method', 'eta', 'label', 'guidance', 'weights', 'seed', 'backend']);
  const path = requiredString(c, values, 'checkpoint');
  const out = typeof values['out'] === 'string' ? values['out'] : 'mtd-samples';
  const n = intOption(c, values, 'n', 16, 1);
  const batchSize = intOption(c, values, 'batch', 64, 1);
  const steps = intOption(c, values, 'steps', undefined, 1);
  const method = stringOption(c, values, 'method', ['ddpm', 'ddim'] as const, 'ddpm');
  const eta = numberOption(c, values, 'eta', undefined, 0);
  const label = intOption(c, values, 'label', undefined, 0);
  const guidance = numberOption(c, values, 'guidance', undefined);
  const weights = stringOption(c, values, 'weights', ['ema', 'raw'] as const, 'ema');
  const seed = intOption(c, values, 'seed', 0, 0);
  const backendChoice = backendOption(c, values);
  if (guidance !== undefined && label === undefined) throw new RangeError('mtd sample: --guidance needs a condition (--label)');

  const backend = await selectBackend(backendChoice);
  log(`backend: ${backend.name}`);
  const { exp, ckpt } = await loadExperiment(c, path, weights);
  try {
    if (label !== undefined) {
      if (exp.labelClasses === undefined) throw new RangeError(`mtd sample: --label needs a model with a label modality; ${ckpt.path} has ${exp.modalities.map((m) => m.name).join(', ') || 'none'}`);
      if (label >= exp.labelClasses) throw new RangeError(`mtd sample: --label must be a class in 0..${exp.labelClasses - 1}, got ${label}`);
    }
    log(`sampling ${n} from ${ckpt.path} (step ${ckpt.state.step}, ${weights} weights), ${method}${steps !== undefined ? `, ${steps} steps` : ''}${label !== undefined ? `, label ${label}` : ''}`);
    const g = await generate(exp, {
      n,
      batchSize,
      seed,
      method,
      ...(steps !== undefined ? { steps } : {}),
      ...(eta !== undefined ? { eta } : {}),
      ...(guidance !== undefined ? { guidance } : {}),
      ...(label !== undefined ? { known: (_first: number, size: number) => ({ label: tf.fill([size], label, 'int32') }) } : {}),
      onBatch: (done, total) => log(`  ${done}/${total}`),
    });
    const files: string[] = [];
    const json: Record<string, unknown> = { checkpoint: ckpt.path, step: ckpt.state.step, weights, seed, n, method, steps: steps ?? exp.schedule.T, ...(label !== undefined ? { given: { label } } : {}) };
    if (exp.isImage) {
      const [h, w, ch] = exp.shape as [number, number, number];
      await writeImageGrid(join(out, 'samples.png'), g.z0, [n, h, w, ch]);
      files.push('samples.png');
      for (const [name, data] of Object.entries(g.gaussian)) {
        if (label !== undefined && name === 'label') continue;
        await writeImageGrid(join(out, `${name}.png`), data, [n, h, w, ch]);
        files.push(`${name}.png`);
      }
    } else {
      json['points'] = Array.from({ length: n }, (_, i) => [g.z0[2 * i]!, g.z0[2 * i + 1]!]);
    }
    for (const [name, l] of Object.entries(g.labels)) {
      json[name] = Array.from(l);
      const K = g.probs[name]!.length / n;
      json[`${name}Probs`] = Array.from({ length: n }, (_, i) => Array.from(g.probs[name]!.subarray(i * K, (i + 1) * K), (p) => Number(p.toPrecision(4))));
    }
    await writeJsonAtomic(join(out, 'samples.json'), json);
    files.push('samples.json');
    log(`wrote ${files.map((f) => join(out, f)).join(', ')}`);
    return 0;
  } finally {
    exp.dispose();
    await releaseBackend();
  }
}
