import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { writeJsonAtomic } from '@mtd/io';
import { classificationAccuracy, collectFeatures, fmnistFeatures, generationMetrics, maskedDistance, topKAccuracy } from '@mtd/metrics';
import { nearestComponent } from '@mtd/sampler/toy';
import type { Experiment } from '@mtd/train';
import { backendOption, intOption, parse, requiredString, stringOption } from './args.js';
import { generate, loadExperiment } from './generate.js';
import { formatTable } from './table.js';

export const EVAL_USAGE = `eval options:
  --checkpoint PATH          a run's checkpoints/ folder or a checkpoint file
  --out DIR                  where eval.json goes (default mtd-eval)
  --n N                      samples and held-out examples (default 256)
  --steps N                  sampler timesteps (default: all T for the mixture, 50 for images)
  --batch N                  samples per sampler call (default 64)
  --weights ema|raw, --seed N, --backend NAME`;

type Rows = Float64Array[];
const rows = (data: Float32Array, n: number): Rows => Array.from({ length: n }, (_, i) => Float64Array.from(data.subarray((i * data.length) / n, ((i + 1) * data.length) / n)));

/**
 * `mtd eval`: what can be measured for the checkpoint's experiment.
 * - mixture: component frequencies of joint samples against the mixture weights (total-variation
 *   distance), label agreement, off-data fraction, label-conditional hit rate, and the label
 *   read out from held-out points (known z0);
 * - images with a label head: top-1 (top-5) accuracy of the label read out from held-out test
 *   images (known z0);
 * - configs with Mask-k masked images: constrained restoration of held-out masked images (the
 *   masked image known, its kept pixels put back at every step): PSNR, MSE and L1 over the masked
 *   pixels against the originals, beside the Clean-Masked pair (the masked input itself), and the
 *   largest change of any kept pixel (must be 0);
 * - grey 28/32 px images (Fashion-MNIST, MNIST): FID, IS, precision/recall and KID of joint samples
 *   against held-out images, on the project's Fashion-MNIST feature network (@mtd/metrics), with
 *   the network named in every label. Other image sets: skipped, with the reason.
 */
export async function evalCommand(args: readonly string[], log: (line: string) => void): Promise<number> {
  const c = 'eval';
  const values = parse(c, args, ['checkpoint', 'out', 'n', 'steps', 'batch', 'weights', 'seed', 'backend']);
  const path = requiredString(c, values, 'checkpoint');
  const out = typeof values['out'] === 'string' ? values['out'] : 'mtd-eval';
  const n = intOption(c, values, 'n', 256, 1);
  const batchSize = intOption(c, values, 'batch', 64, 1);
  const weights = stringOption(c, values, 'weights', ['ema', 'raw'] as const, 'ema');
  const seed = intOption(c, values, 'seed', 0, 0);
  const backendChoice = backendOption(c, values);
  const backend = await selectBackend(backendChoice);
  log(`backend: ${backend.name}`);
  const { exp, ckpt } = await loadExperiment(c, path, weights);
  try {
    const steps = intOption(c, values, 'steps', exp.isImage ? Math.min(50, exp.schedule.T) : exp.schedule.T, 1);
    const base = { n, batchSize, seed, method: 'ddpm' as const, steps };
    const results: Record<string, unknown> = { checkpoint: ckpt.path, step: ckpt.state.step, weights, n, steps, seed };
    const table: [string, string][] = [];
    const hasLabelHead = exp.labelClasses !== undefined && exp.config.modalities['label']?.head !== 'none';

    // The label read out from held-out z0 (classification through the diffusion model).
    if (hasLabelHead) {
      const held = exp.evaluationBatch(n, seed + 1);
      const truth = (await held.values['label']!.data()) as Int32Array;
      const count = held.z0.shape[0]!;
      try {
        const g = await generate(exp, { ...base, n: count, z0Known: (first, size) => tf.slice(held.z0, first, size) });
        const K = exp.labelClasses!;
        const scores = rows(g.probs['label']!, count);
        const readout: Record<string, number> = { top1: topKAccuracy(scores, truth, 1) };
        if (K >= 5) readout['top5'] = classificationAccuracy(scores, truth).top5;
        results['labelReadout'] = { examples: count, ...readout };
        for (const [k, v] of Object.entries(readout)) table.push([`label read-out ${k} (held-out, ${count})`, v.toFixed(4)]);
      } finally {
        tf.dispose([held.z0, ...Object.values(held.values)]);
      }
    }

    if (exp.toy !== undefined) await evalMixture(exp, base, results, table);
    else {
      await evalRestoration(exp, base, results, table);
      await evalImages(exp, base, results, table);
    }

    await writeJsonAtomic(join(out, 'eval.json'), results);
    log(formatTable(['metric', 'value'], table));
    log(`wrote ${join(out, 'eval.json')}`);
    return 0;
  } finally {
    exp.dispose();
    await releaseBackend();
  }
}

async function evalMixture(exp: Experiment, base: { n: number; batchSize: number; seed: number; method: 'ddpm'; steps: number }, results: Record<string, unknown>, table: [string, string][]) {
  const toy = exp.toy!;
  const K = toy.means.length;
  const joint = await generate(exp, base);
  const nearest = nearestComponent(toy, joint.z0);
  const counts = new Array<number>(K).fill(0);
  let far = 0;
  let agree = 0;
  nearest.forEach((k, i) => {
    counts[k]! += 1;
    if (Math.hypot(joint.z0[2 * i]! - toy.means[k]![0], joint.z0[2 * i + 1]! - toy.means[k]![1]) > 4 * toy.std) far += 1;
    if (joint.labels['label']?.[i] === k) agree += 1;
  });
  const freq = counts.map((x) => x / base.n);
  const tv = 0.5 * freq.reduce((s, f, k) => s + Math.abs(f - toy.weights[k]!), 0);
  results['joint'] = { frequencies: freq, expected: toy.weights, totalVariation: tv, offData: far / base.n, ...(joint.labels['label'] ? { labelAgreement: agree / base.n } : {}) };
  table.push(['component frequencies', `${freq.map((f) => f.toFixed(3)).join(' / ')} (expected ${toy.weights.join(' / ')})`]);
  table.push(['total variation to the mixture', tv.toFixed(4)]);
  table.push(['off-data fraction (> 4 std)', (far / base.n).toFixed(4)]);
  if (joint.labels['label']) table.push(['label agreement', (agree / base.n).toFixed(4)]);
  if (exp.labelClasses !== undefined && exp.config.modalities['label']?.conditioning !== 'none') {
    const given = Int32Array.from({ length: base.n }, (_, i) => i % K);
    const cond = await generate(exp, { ...base, known: (first, size) => ({ label: tf.tensor1d(given.subarray(first, first + size), 'int32') }) });
    const hits = nearestComponent(toy, cond.z0).reduce((s, k, i) => s + (k === given[i] ? 1 : 0), 0);
    results['conditional'] = { hitRate: hits / base.n };
    table.push(['label-conditional hit rate', (hits / base.n).toFixed(4)]);
  }
}

async function evalRestoration(exp: Experiment, base: { n: number; batchSize: number; seed: number; method: 'ddpm'; steps: number }, results: Record<string, unknown>, table: [string, string][]) {
  const batch = exp.restorationBatch(base.n, base.seed + 3);
  if (batch === undefined) return;
  try {
    const count = batch.original.shape[0]!;
    const slice = (t: tf.Tensor, first: number, size: number) => tf.slice(t, first, size);
    const g = await generate(exp, {
      ...base,
      n: count,
      known: (first, size) => ({ masked: slice(batch.masked, first, size) }),
      restoration: (first, size) => ({ image: slice(batch.masked, first, size), keep: slice(batch.keep, first, size) }),
    });
    const restored = { data: g.z0, shape: batch.original.shape };
    const original = { data: (await batch.original.data()) as Float32Array, shape: batch.original.shape };
    const masked = { data: (await batch.masked.data()) as Float32Array, shape: batch.masked.shape };
    const keep = { data: (await batch.keep.data()) as Float32Array, shape: batch.keep.shape };
    const ours = await maskedDistance(restored, original, keep, { dataRange: 2 });
    const cleanMasked = await maskedDistance(masked, original, keep, { dataRange: 2 });
    const kept = await maskedDistance(restored, masked, keep, { dataRange: 2, region: 'kept' });
    results['restoration'] = {
      examples: count,
      region: 'masked pixels, against the original image',
      restored: { psnr: ours.meanPsnr, mse: ours.meanMse, l1: ours.meanL1 },
      cleanMasked: { psnr: cleanMasked.meanPsnr, mse: cleanMasked.meanMse, l1: cleanMasked.meanL1 },
      maxKeptPixelChange: kept.maxAbsOverall,
    };
    table.push([`restoration PSNR on masked pixels (${count} held-out)`, `${ours.meanPsnr.toFixed(2)} dB (Clean-Masked ${cleanMasked.meanPsnr.toFixed(2)} dB)`]);
    table.push(['restoration L1 on masked pixels', `${ours.meanL1.toFixed(4)} (Clean-Masked ${cleanMasked.meanL1.toFixed(4)})`]);
    table.push(['largest change of a kept pixel (must be 0)', String(kept.maxAbsOverall)]);
  } finally {
    tf.dispose([batch.original, batch.masked, batch.keep]);
  }
}

async function evalImages(exp: Experiment, base: { n: number; batchSize: number; seed: number; method: 'ddpm'; steps: number }, results: Record<string, unknown>, table: [string, string][]) {
  const [h, , ch] = exp.shape as [number, number, number];
  const grey = ch === 1 && (h === 28 || h === 32);
  if (!grey) {
    results['generation'] = { skipped: `no feature network for ${h}x${h}x${ch} images (the project's network reads 28/32 px grey images)` };
    table.push(['generation metrics', 'skipped (no feature network for these images)']);
    return;
  }
  const held = exp.evaluationBatch(base.n, base.seed + 2);
  let extractor: Awaited<ReturnType<typeof fmnistFeatures>> | undefined;
  try {
    extractor = await fmnistFeatures();
    const joint = await generate(exp, base);
    // The sampler clips its z0 estimates to [-1, 1]; the last step can still overshoot by float error.
    const generated = tf.tidy(() => tf.clipByValue(tf.tensor4d(joint.z0, [base.n, h, h, 1]), -1, 1)) as tf.Tensor4D;
    try {
      const real = await collectFeatures(extractor, held.z0 as tf.Tensor4D);
      const fake = await collectFeatures(extractor, generated);
      const m = generationMetrics(real, fake);
      results['generation'] = Object.fromEntries(m.all.map((r) => [r.label, { value: r.value, ...(r.std !== undefined ? { std: r.std } : {}), samples: r.samples }]));
      for (const r of m.all) table.push([r.label, r.value.toFixed(4)]);
    } finally {
      generated.dispose();
    }
  } catch (e) {
    results['generation'] = { skipped: (e as Error).message };
    table.push(['generation metrics', `skipped: ${(e as Error).message}`]);
  } finally {
    extractor?.dispose();
    tf.dispose([held.z0, ...Object.values(held.values)]);
  }
}
