import * as tf from '@tensorflow/tfjs';
import { constantWeight, identityEncoder, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { outputBlockHead } from '@mtd/heads';
import type { Modality } from '@mtd/sampler';
import { cosineSchedule, linearSchedule, type Schedule } from '@mtd/schedule';
import { mtModel, type MtModel, type TrainBatch } from '@mtd/train';
import { createUNet } from '@mtd/unet';
import type { RunConfig } from './config.js';

/**
 * The four models of E1. All share one backbone: the same U-Net configuration (3 image channels
 * plus 3 extra input channels for a source image) and the same initial weights.
 *
 * - `mtSeg`: MT-Diffusion on (scene, map): `z_0` = scene, modality `map` (identity encoder,
 *   `w_t = c sqrt(alphaBar_t)`, an output-block head decoding the map, the map also on the extra
 *   input channels with condition dropout). scene -> map: the scene known as `z_0`, the head
 *   reads the map; map -> scene: the map known (in `A_t` and on the extra channels).
 * - `mtDay`: MT-Diffusion on (day, night), the same way: `z_0` = day, modality `night`.
 *   night -> day: the night image known.
 * - `baseSeg`, `baseDay`: the single-task conditional DDPM (Table 4's "single-task diffusion"):
 *   `z_0` = the target (map, day), the source only as extra input channels, always given. The
 *   source is a modality of weight 0 (nothing in `A_t`), which is how @mtd/train feeds extra
 *   channels; there is no head.
 */
export type ModelId = 'mtSeg' | 'baseSeg' | 'mtDay' | 'baseDay';
export const MODEL_IDS: readonly ModelId[] = ['mtSeg', 'baseSeg', 'mtDay', 'baseDay'];

export interface ModelSpec {
  id: ModelId;
  /** Shown in logs and reports. */
  title: string;
  /** What `z_0` is and what the other modality is. */
  z0: 'scene' | 'map' | 'day';
  modality: 'map' | 'scene' | 'night';
  /** MT-Diffusion (head + weighted modality) or the conditional baseline. */
  mt: boolean;
}

export const MODEL_SPECS: Readonly<Record<ModelId, ModelSpec>> = Object.freeze({
  mtSeg: { id: 'mtSeg', title: 'MT-Diffusion (scene, map)', z0: 'scene', modality: 'map', mt: true },
  baseSeg: { id: 'baseSeg', title: 'conditional DDPM (scene -> map)', z0: 'map', modality: 'scene', mt: false },
  mtDay: { id: 'mtDay', title: 'MT-Diffusion (day, night)', z0: 'day', modality: 'night', mt: true },
  baseDay: { id: 'baseDay', title: 'conditional DDPM (night -> day)', z0: 'day', modality: 'night', mt: false },
});

export interface BuiltModel {
  spec: ModelSpec;
  model: MtModel;
  modalities: Modality[];
}

export function buildSchedule(config: RunConfig): Schedule {
  return config.schedule.kind === 'cosine' ? cosineSchedule({ T: config.schedule.T }) : linearSchedule({ T: config.schedule.T });
}

/** The model `id` (see ModelId), its U-Net initialised from the run seed (the same for all four). */
export function buildModel(id: ModelId, config: RunConfig): BuiltModel {
  const spec = MODEL_SPECS[id];
  if (spec === undefined) throw new RangeError(`buildModel: id must be one of ${MODEL_IDS.join(', ')}, got ${String(id)}`);
  const unet = createUNet({ imageSize: config.imageSize, inChannels: 3, extraChannels: 3, ...config.unet }, { seed: config.seed * 7 + 1 });
  const weight = spec.mt ? sqrtAlphaBarWeight(config.weightC) : constantWeight(0);
  const modality: Modality = { name: spec.modality, kind: 'gaussian', encoder: identityEncoder, weight };
  if (!spec.mt) {
    return { spec, model: mtModel({ unet, modalities: [modality], conditioning: { [spec.modality]: 'extra' } }), modalities: [modality] };
  }
  const head = outputBlockHead({
    name: spec.modality,
    inChannels: config.unet.baseChannels * config.unet.channelMults[0]!,
    outChannels: 3,
    groups: config.unet.groups,
    seed: config.seed * 7 + 2,
  });
  return {
    spec,
    model: mtModel({ unet, heads: { [spec.modality]: head }, modalities: [modality], conditioning: { [spec.modality]: 'extra' } }),
    modalities: [modality],
  };
}

/** Trainer options of a model: the MT models drop their condition, the baselines always see it. */
export function trainerOptions(id: ModelId, config: RunConfig): { conditionDropout: number; headWeights?: Record<string, number> } {
  const spec = MODEL_SPECS[id];
  if (!spec.mt) return { conditionDropout: 0 };
  return { conditionDropout: id === 'mtSeg' ? config.conditionDropout.seg : config.conditionDropout.day, headWeights: { [spec.modality]: 1 } };
}

/** A training batch `{ z0, values: { [modality]: source } }` from aligned plain arrays (`[B, S, S, 3]` each). */
export function trainBatch(spec: ModelSpec, z0: Float32Array, other: Float32Array, B: number, size: number): TrainBatch {
  const shape: [number, number, number, number] = [B, size, size, 3];
  if (z0.length !== B * size * size * 3 || other.length !== z0.length) {
    throw new RangeError(`trainBatch: z0 and other must hold B * size * size * 3 = ${B * size * size * 3} values each, got ${z0.length} and ${other.length}`);
  }
  return { z0: tf.tensor4d(z0, shape), values: { [spec.modality]: tf.tensor4d(other, shape) } };
}
