import { readdir, readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { decodeSafetensors, encodeSafetensors, writeFileAtomic, writeJsonAtomic, type SafeTensor } from '@mtd/io';
import type { RngState } from '@mtd/random';
import { rangeFail, typeFail } from '@mtd/errors';
import { checkInt, gotShape } from './errors.js';
import type { TrainableModel } from './model.js';

/** Metadata key of the training state (JSON) inside a checkpoint's safetensors file. */
export const CHECKPOINT_STATE_KEY = 'mtd.train.state';
/** The pointer file a checkpoint folder holds: the newest complete checkpoint. */
export const LATEST_FILE = 'latest.json';
const FORMAT = 'mtd.train.checkpoint';

/**
 * Everything a run needs to continue exactly, besides the tensors: the step, the trainer's random
 * stream, the data source's position, the optimizer and EMA counters, and the experiment config
 * (so `mtd sample` can rebuild the model from the checkpoint alone).
 */
export interface CheckpointState {
  format: typeof FORMAT;
  version: 1;
  /** Completed optimizer updates. */
  step: number;
  rng: RngState;
  data: unknown;
  adam: { count: number };
  ema: { count: number } | null;
  /** The experiment config the model was built from (any JSON; `null` if none was given). */
  config: unknown;
  /** Names of the model's variables, in the model's order. */
  variables: string[];
  /** The last step's loss, for the record. */
  loss?: number;
}

/** A loaded checkpoint: the state and every tensor (`model/<name>`, `ema/<name>`, `adam/m/<name>`, `adam/v/<name>`). */
export interface Checkpoint {
  path: string;
  state: CheckpointState;
  tensors: Record<string, SafeTensor>;
}

export function checkpointFileName(step: number): string {
  return `checkpoint-${String(step).padStart(8, '0')}.safetensors`;
}

/** Reads a live tensor into a safetensors record entry (float32). */
export async function toSafeTensor(t: tf.Tensor): Promise<SafeTensor> {
  return { dtype: 'F32', shape: [...t.shape], data: (await t.data()) as Float32Array };
}

/**
 * Writes one checkpoint into `dir`: first the safetensors file (tensors + the state as metadata:
 * the file alone is complete), then `latest.json` pointing at it, each atomically
 * (writeFileAtomic), so a crash at any moment leaves the previous checkpoint intact and `latest`
 * naming a complete file. Then deletes all but the newest `keep` checkpoint files.
 */
export async function writeCheckpoint(
  dir: string,
  tensors: Record<string, SafeTensor>,
  state: CheckpointState,
  keep = 2,
): Promise<string> {
  const where = 'writeCheckpoint';
  checkInt(where, 'keep', keep, 1);
  const file = checkpointFileName(state.step);
  const path = join(dir, file);
  await writeFileAtomic(path, encodeSafetensors(tensors, { [CHECKPOINT_STATE_KEY]: JSON.stringify(state) }));
  const { rng: _rng, data: _data, variables: _variables, ...summary } = state;
  await writeJsonAtomic(join(dir, LATEST_FILE), { file, ...summary });
  const files = (await readdir(dir)).filter((f) => /^checkpoint-\d{8}\.safetensors$/.test(f)).sort();
  for (const old of files.slice(0, Math.max(0, files.length - keep))) {
    if (old !== file) await unlink(join(dir, old)).catch(() => undefined);
  }
  return path;
}

/**
 * Reads a checkpoint: `path` is a checkpoint folder (its `latest.json` names the file) or a
 * checkpoint's safetensors file. Checks the format before returning.
 */
export async function readCheckpoint(path: string): Promise<Checkpoint> {
  const where = 'readCheckpoint';
  if (typeof path !== 'string' || path === '') typeFail(where, 'path', 'a checkpoint folder or file', path);
  let file = path;
  if ((await stat(path)).isDirectory()) {
    let latest: { file?: unknown };
    try {
      latest = JSON.parse(await readFile(join(path, LATEST_FILE), 'utf8')) as { file?: unknown };
    } catch (e) {
      throw new Error(`${where}: ${path} holds no readable ${LATEST_FILE} (${(e as Error).message}); is it a checkpoint folder written by the trainer?`);
    }
    if (typeof latest.file !== 'string') rangeFail(where, `${join(path, LATEST_FILE)} .file`, 'a checkpoint file name', latest.file);
    file = join(path, latest.file);
  }
  const decoded = decodeSafetensors(new Uint8Array(await readFile(file)));
  const json = decoded.metadata[CHECKPOINT_STATE_KEY];
  if (json === undefined) rangeFail(where, 'path', `a checkpoint with "${CHECKPOINT_STATE_KEY}" metadata (written by the trainer)`, file);
  const state = JSON.parse(json) as CheckpointState;
  if (state.format !== FORMAT || state.version !== 1) rangeFail(where, `${file} state.format`, `"${FORMAT}" version 1`, `${String(state.format)} v${String(state.version)}`);
  return { path: file, state, tensors: decoded.tensors };
}

/** Float32 data of a safetensors entry (F64 is rounded). */
export function float32Of(t: SafeTensor): Float32Array {
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
}

/**
 * Loads a checkpoint's weights into a model by variable name: the EMA weights by default (what
 * sampling should use), or the trained weights with `{ ema: false }`. Checks every name and shape
 * before changing anything.
 */
export function loadModelWeights(model: TrainableModel, checkpoint: Checkpoint, options: { ema?: boolean } = {}): void {
  const where = 'loadModelWeights';
  const useEma = options.ema ?? true;
  const prefix = useEma && checkpoint.state.ema !== null ? 'ema/' : 'model/';
  for (const { name, variable } of model.variables) {
    const t = checkpoint.tensors[`${prefix}${name}`];
    if (t === undefined) rangeFail(where, `the checkpoint's "${prefix}${name}"`, 'present (the model has this variable)', undefined);
    if (t.shape.length !== variable.shape.length || t.shape.some((d, i) => d !== variable.shape[i])) {
      rangeFail(where, `the checkpoint's "${prefix}${name}" shape`, `[${variable.shape.join(', ')}]`, gotShape(t.shape));
    }
  }
  for (const { name, variable } of model.variables) {
    tf.tidy(() => variable.assign(tf.tensor(float32Of(checkpoint.tensors[`${prefix}${name}`]!), variable.shape, 'float32')));
  }
}

/** The moments or shadows under `prefix` as `{ name: { shape, data } }`. */
export function slotsOf(checkpoint: Checkpoint, prefix: string): Record<string, { shape: readonly number[]; data: Float32Array }> {
  const out: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const [key, t] of Object.entries(checkpoint.tensors)) {
    if (key.startsWith(prefix)) out[key.slice(prefix.length)] = { shape: t.shape, data: float32Of(t) };
  }
  return out;
}
