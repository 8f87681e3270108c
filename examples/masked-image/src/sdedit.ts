import * as tf from '@tensorflow/tfjs';
import { createRng } from '@mtd/random';
import type { DiffusionModel } from '@mtd/sampler';
import type { Schedule } from '@mtd/schedule';

export interface SdeditOptions {
  /** A single-task noise model (no modalities; `known` is passed empty). */
  model: DiffusionModel;
  schedule: Schedule;
  /** The masked images, float32 `[B, H, W, C]` in [-1, 1]. */
  image: tf.Tensor4D;
  /** float32 0/1 `[B, H, W, C]`: 1 where the pixel of `image` is known. */
  keep: tf.Tensor4D;
  /** The starting noise level `t0 = round(strength T)`, strength in (0, 1]. */
  strength: number;
  /** Deterministic DDIM steps from `t0` down to `t = 1` (evenly spaced, `t0` and 1 included). */
  steps: number;
  seed: number;
}

/** The visited timesteps of SDEdit: `steps` evenly spaced values from `t0` down to 1, without repeats. */
export function sdeditTimesteps(t0: number, steps: number): number[] {
  if (!Number.isInteger(t0) || t0 < 1) throw new RangeError(`sdeditTimesteps: t0 must be an integer >= 1, got ${String(t0)}`);
  if (!Number.isInteger(steps) || steps < 1) throw new RangeError(`sdeditTimesteps: steps must be an integer >= 1, got ${String(steps)}`);
  if (steps === 1) return [t0];
  const out: number[] = [];
  for (let j = 0; j < steps; j++) {
    const t = Math.round(t0 - ((t0 - 1) * j) / (steps - 1));
    if (out[out.length - 1] !== t) out.push(t);
  }
  return out;
}

/**
 * The SDEdit-style restorer of Table 1 (Meng et al. 2022, the paper's "SDEdit-" baseline), run
 * with the single-task DDPM: noise the masked image to `t0`,
 * `z_{t0} = sqrt(alphaBar_{t0}) m + sqrt(1 - alphaBar_{t0}) eps`, denoise with deterministic DDIM
 * (z0 estimate clipped to [-1, 1]) down to `t = 0`, then paste the known pixels back so the
 * unmasked region is unchanged, as for MT-Diffusion. SDEdit treats the black patches as part of
 * the input image: it has no notion of which pixels are missing until the final paste, which
 * is why it can even do worse than the masked input.
 *
 * Returns a new `[B, H, W, C]` tensor; the caller owns it; nothing else is left behind.
 */
export function sdeditRestore(options: SdeditOptions): tf.Tensor4D {
  const where = 'sdeditRestore';
  const { model, schedule, image, keep, strength, steps, seed } = options;
  if (typeof model !== 'function') throw new TypeError(`${where}: model must be a DiffusionModel function, got ${typeof model}`);
  if (!(image instanceof tf.Tensor) || image.rank !== 4) throw new TypeError(`${where}: image must be a rank-4 tensor [B, H, W, C], got ${String(image)}`);
  if (!(keep instanceof tf.Tensor) || keep.shape.join() !== image.shape.join()) {
    throw new RangeError(`${where}: keep must be a tensor shaped like image [${image.shape.join(', ')}], got [${keep instanceof tf.Tensor ? keep.shape.join(', ') : String(keep)}]`);
  }
  if (typeof strength !== 'number' || !(strength > 0 && strength <= 1)) throw new RangeError(`${where}: strength must be a number in (0, 1], got ${String(strength)}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`${where}: seed must be a safe integer, got ${String(seed)}`);
  const T = schedule.T;
  const t0 = Math.max(1, Math.round(strength * T));
  const timesteps = sdeditTimesteps(t0, steps);
  const alphaBar = (t: number) => (t === 0 ? 1 : schedule.alphaBars[t - 1]!);
  const B = image.shape[0];
  const noise = createRng(seed).fillNormal(new Float64Array(image.size));

  let z = tf.tidy(() => {
    const a = alphaBar(t0);
    return tf.add(tf.mul(Math.sqrt(a), image), tf.mul(Math.sqrt(1 - a), tf.tensor(Float32Array.from(noise), image.shape)));
  }) as tf.Tensor4D;
  for (let j = 0; j < timesteps.length; j++) {
    const t = timesteps[j]!;
    const tPrev = timesteps[j + 1] ?? 0;
    const next = tf.tidy(() => {
      const a = alphaBar(t);
      const aPrev = alphaBar(tPrev);
      const { eps } = model({ zt: z, t: tf.fill([B], t, 'int32') as tf.Tensor1D, known: {} });
      const x0 = tf.clipByValue(tf.div(tf.sub(z, tf.mul(Math.sqrt(1 - a), eps)), Math.sqrt(a)), -1, 1);
      // Recompute eps from the clipped x0 (guided-diffusion's DDIM with clip_denoised).
      const epsClipped = tf.div(tf.sub(z, tf.mul(Math.sqrt(a), x0)), Math.sqrt(1 - a));
      return tf.add(tf.mul(Math.sqrt(aPrev), x0), tf.mul(Math.sqrt(1 - aPrev), epsClipped)) as tf.Tensor4D;
    });
    z.dispose();
    z = next;
  }
  const out = tf.tidy(() => tf.where(tf.cast(keep, 'bool'), image, z)) as tf.Tensor4D;
  z.dispose();
  return out;
}
