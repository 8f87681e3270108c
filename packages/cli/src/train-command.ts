import { access, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { endpointReport } from '@mtd/aggregation';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { writeJsonAtomic } from '@mtd/io';
import { buildExperiment, readCheckpoint, Trainer, TrainingDivergedError, validateConfig, LATEST_FILE, type ExperimentConfig } from '@mtd/train';
import { backendOption, intOption, parse, requiredString, stringOption } from './args.js';

export const TRAIN_USAGE = `train options:
  --config FILE              experiment config (JSON; see @mtd/train's README)
  --out DIR                  run folder: config.json, log.jsonl, checkpoints/ (default mtd-out)
  --seed N                   overrides the config's seed
  --steps N                  overrides config.train.steps (a total: resumed runs count from 0)
  --resume                   continue the run in --out from its latest checkpoint
  --backend NAME             auto|tensorflow|webgpu|wasm|cpu (default auto)
  --progress MODE            auto|bar|lines|off (default auto: a bar on a terminal)
  --overlap-steps            queue step k+1 while step k's loss comes back, also steps run
                             through tfjs (same results; by default only replayed webgpu steps)
  --submit-batch N           webgpu: dispatches per queue submit (tfjs's default 15); with
                             --overlap-steps, 256 was the fastest measured on an H200`;

/** Reads and validates a config file; errors name the file and the field. */
export async function readConfig(command: string, path: string): Promise<ExperimentConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new Error(`mtd ${command}: cannot read --config ${path}: ${(e as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`mtd ${command}: ${path} is not valid JSON: ${(e as Error).message}`);
  }
  try {
    return validateConfig(json);
  } catch (e) {
    throw new RangeError(`mtd ${command}: ${path}: ${(e as Error).message}`);
  }
}

/** Everything but the step count, which a resumed run may extend. */
function comparable(config: ExperimentConfig): string {
  return JSON.stringify({ ...config, train: { ...config.train, steps: 0 } });
}

export async function trainCommand(args: readonly string[], log: (line: string) => void): Promise<number> {
  const values = parse('train', args, ['config', 'out', 'seed', 'steps', 'backend', 'progress', 'submit-batch'], ['resume', 'overlap-steps']);
  const configPath = requiredString('train', values, 'config');
  const out = typeof values['out'] === 'string' ? values['out'] : 'mtd-out';
  const backendChoice = backendOption('train', values);
  const progress = stringOption('train', values, 'progress', ['auto', 'bar', 'lines', 'off'] as const, 'auto');
  const submitBatchSize = intOption('train', values, 'submit-batch', undefined, 1);
  const config = await readConfig('train', configPath);
  config.seed = intOption('train', values, 'seed', config.seed);
  config.train.steps = intOption('train', values, 'steps', config.train.steps);
  const resume = values['resume'] === true;
  const checkpointDir = join(out, 'checkpoints');
  const hasRun = await access(join(checkpointDir, LATEST_FILE)).then(
    () => true,
    () => false,
  );
  if (hasRun && !resume) throw new Error(`mtd train: ${out} already holds a run (${join(checkpointDir, LATEST_FILE)}); pass --resume to continue it, or choose another --out`);
  if (resume && !hasRun) throw new Error(`mtd train: --resume needs a checkpoint in ${checkpointDir}, found none`);

  const backend = await selectBackend(backendChoice, submitBatchSize !== undefined ? { webgpu: { submitBatchSize } } : {});
  log(`backend: ${backend.name} (${backend.tried[backend.tried.length - 1]!.reason})`);
  const exp = await buildExperiment(config);
  let trainer: Trainer | undefined;
  try {
    trainer = new Trainer({ ...exp.trainerOptions(config.seed), data: exp.trainingData(config.seed) });
    if (resume) {
      const ckpt = await readCheckpoint(checkpointDir);
      const saved = validateConfig(ckpt.state.config);
      if (comparable(saved) !== comparable(config)) {
        throw new Error(`mtd train: the config differs from the one the run in ${out} was trained with (only --steps may change on --resume); see ${join(out, 'config.json')}`);
      }
      await trainer.restore(ckpt);
      log(`resumed from ${ckpt.path} at step ${trainer.step}`);
    }
    await writeJsonAtomic(join(out, 'config.json'), config);
    const report = endpointReport(exp.schedule, exp.modalities.map((m) => m.weight));
    for (const m of report.modalities) {
      log(`modality ${exp.modalities[m.index]!.name}: ${m.weight}, lambda_T = ${m.lambdaT.toPrecision(3)} (max ${m.lambdaMax.toPrecision(3)}) (MATH.md 7)`);
      const warning = midChainWarning(exp.modalities[m.index]!.name, m.lambdaMax);
      if (warning) log(warning);
    }
    log(`model: ${exp.model.parameterCount()} parameters; ${config.train.steps} steps at batch ${config.data.batchSize}, seed ${config.seed}; writing to ${out}`);
    const tc = config.train;
    const summary = await trainer.train({
      steps: tc.steps,
      checkpointDir,
      ...(tc.checkpointEvery !== undefined ? { checkpointEvery: tc.checkpointEvery } : {}),
      keepCheckpoints: tc.keepCheckpoints,
      logPath: join(out, 'log.jsonl'),
      logEvery: tc.logEvery,
      progress,
      progressEvery: tc.progressEvery,
      ...(values['overlap-steps'] === true ? { overlapSteps: true } : {}),
    });
    log(
      `done: step ${summary.step}, loss ${summary.loss.toPrecision(4)}, ${summary.stepsPerSecond.toFixed(2)} steps/s ` +
        `(${summary.examplesPerSecond.toFixed(1)} img/s); checkpoint ${summary.checkpoint ?? trainer.checkpointPath ?? 'none'}`,
    );
    return 0;
  } catch (e) {
    if (e instanceof TrainingDivergedError) {
      log(`mtd train: ${e.message}`);
      return 1;
    }
    throw e;
  } finally {
    trainer?.dispose();
    exp.dispose();
    await releaseBackend();
  }
}

/**
 * A small lambda_T says nothing about mid-chain: with `w_t = c sqrt(alphaBar_t)` lambda_t peaks at
 * about `c * 355` halfway through a cosine T = 1000 chain. Past a few noise units the modality's
 * copy dominates z_t and training stalls (the masked-image example's first run: lambda_max = 71,
 * loss stuck at 0.52 against the baseline's 0.11). Encodings of unit scale are assumed.
 */
export function midChainWarning(name: string, lambdaMax: number, limit = 10): string | undefined {
  if (!(lambdaMax > limit)) return undefined;
  return (
    `warning: lambda_t of modality ${name} reaches ${lambdaMax.toPrecision(3)} mid-chain, so z_t carries ` +
    `that many copies of its encoding against unit noise; training may stall. Consider a weight ` +
    `about ${(lambdaMax / limit).toPrecision(2)}x smaller (MATH.md 7).`
  );
}
