import { markdownTable } from '@mtd/example-kit';
import type { RunConfig } from './config.js';
import { MODEL_IDS, MODEL_SPECS } from './models.js';
import type { DayScores, RunSummary, SegmentationScores } from './pipeline.js';

/**
 * What the paper reports for E1 (appendix E.1). Table 4 itself (per-pixel accuracy, per-class
 * accuracy and class IoU on Cityscapes against CycleGAN, pix2pix and InternImage-H) has no
 * numbers in the stored paper text, so none are quoted; the night2day FID/IS are in its prose.
 */
export const PAPER = {
  table4: 'not in the stored paper text (only its caption context: Cityscapes, vs CycleGAN, pix2pix, InternImage-H)',
  night2day: {
    mt: { FID: 37.93, IS: 3.94 },
    singleTask: { FID: 40.73, IS: 3.84 },
    realIS: 3.65,
  },
};

export const FID_LABEL = 'FID (fmnist features)';
export const IS_LABEL = 'IS (fmnist features)';

const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`);

function segRow(name: string, s: SegmentationScores): string[] {
  return [name, pct(s.pixelAccuracy), pct(s.classAccuracy), pct(s.classIoU)];
}

function feature(d: DayScores, label: string): number | undefined {
  return 'skipped' in d.features ? undefined : (d.features as Record<string, number>)[label];
}

/** report.md: Table 4 and the night2day scores with ours beside the paper's (a different scale), the checks and the run's facts. */
export function renderReport(config: RunConfig, r: RunSummary): string {
  const lines: string[] = [];
  const s = config.imageSize;
  lines.push(`# Image transition (paper appendix E.1, Table 4), preset \`${config.preset}\``, '');
  lines.push(
    `Data: the project's synthetic scenes (${r.data.seg}; ${r.data.day}), ${s}x${s} RGB, ${config.numClasses} classes (background included), ` +
      `${r.data.trainScenes} training scenes per pair, ${r.data.testScenes} unseen test scenes per pair. Backend: ${r.backend}; machine: ${r.machine}.`,
    '',
    `All four models: the same U-Net (base ${config.unet.baseChannels}, mults [${config.unet.channelMults.join(', ')}], ${config.unet.numResBlocks} res block(s), ` +
      `3 image + 3 extra input channels), the same initial weights, ${config.train.steps} steps at batch ${config.train.batchSize}, lr ${config.train.lr}, EMA ${config.train.ema}, ` +
      `${config.schedule.kind} schedule T = ${config.schedule.T}, ${config.sample.steps} respaced ancestral sampler steps. ` +
      `MT-Diffusion: identity encoder, w_t = ${config.weightC} sqrt(alphaBar_t) (**lambda_T = ${r.lambdaT.toExponential(3)}**, max_t lambda_t = ${r.lambdaMax.toFixed(3)}), ` +
      `an output-block head decoding the other image, that image also on the extra channels with condition dropout ` +
      `(${config.conditionDropout.seg} for (scene, map), ${config.conditionDropout.day} for (day, night)). Baseline: single-task conditional DDPM, the source on the extra channels.`,
    '',
    `Parameters: ${MODEL_IDS.map((id) => `${MODEL_SPECS[id].title} ${r.parameters[id]}`).join('; ')}.`,
    '',
    `Wall time: ${r.seconds.total.toFixed(0)} s (training ${r.seconds.train.toFixed(0)} s, generation ${r.seconds.generate.toFixed(0)} s, evaluation ${r.seconds.evaluate.toFixed(0)} s).`,
    '',
  );

  lines.push('## Table 4: scene -> segmentation map', '');
  lines.push(
    `Generated maps of ${r.data.testScenes} test scenes, decoded to classes by the nearest label-palette colour, against the ground-truth class maps ` +
      "(per-pixel accuracy, mean per-class accuracy, mean class IoU: the FCN / CycleGAN definitions, @mtd/metrics). MT-Diffusion: the scene known as z_0 " +
      '(a fresh forward sample at every step), the map read by the head at the last step. Baseline: the map generated with the scene on the extra channels.',
    '',
  );
  lines.push(
    markdownTable(
      ['model', 'per-pixel acc.', 'per-class acc.', 'class IoU'],
      [
        segRow('ours: conditional DDPM (single task)', r.sceneToMap.baseline),
        segRow('ours: MT-Diffusion (head, scene as z_0)', r.sceneToMap.mt),
        segRow('ours: every pixel background (trivial floor)', r.sceneToMap.allBackground),
        ['paper (Cityscapes, latent diffusion): MT-Diffusion and baselines', 'not in the stored text', '', ''],
      ],
    ),
  );
  lines.push(
    `The paper's Table 4 is on Cityscapes photos at LDM scale; its numbers are not in the stored paper text, so none are quoted. **A different scale and dataset.**`,
    '',
  );
  lines.push('Per class (ours; NaN = class absent):', '');
  const K = config.numClasses;
  lines.push(
    markdownTable(
      ['model', ...Array.from({ length: K }, (_, c) => `class ${c}`)],
      [
        ['baseline accuracy', ...r.sceneToMap.baseline.perClassAccuracy.map((v) => pct(v))],
        ['MT-Diffusion accuracy', ...r.sceneToMap.mt.perClassAccuracy.map((v) => pct(v))],
        ['baseline IoU', ...r.sceneToMap.baseline.perClassIoU.map((v) => pct(v))],
        ['MT-Diffusion IoU', ...r.sceneToMap.mt.perClassIoU.map((v) => pct(v))],
      ],
    ),
  );

  lines.push('## night -> day', '');
  lines.push(
    `Day images generated from ${r.data.testScenes} unseen night images, against their ground-truth day images. FID and IS on the project's Fashion-MNIST feature network ` +
      `("fmnist features": RGB reduced to luma, ${s} -> 28 px bilinear): **a weak judge of these scenes** (a garment classifier; flat coloured shapes are far from its training data), so it is ` +
      'read beside two pixel measures of faithfulness: the RMS distance to the paired ground-truth day image and the accuracy of the classes read back by nearest scene colour. ' +
      'The "night input itself" row is the do-nothing translation. The paper: night2day photos, latent diffusion, Inception features: **a different scale and dataset**.',
    '',
  );
  const dayRow = (name: string, d: DayScores) => [name, f(feature(d, FID_LABEL), 2), f(feature(d, IS_LABEL), 2), f(d.rms, 4), pct(d.colourAccuracy)];
  lines.push(
    markdownTable(
      ['model', FID_LABEL, IS_LABEL, 'RMS to ground truth', 'colour-class acc.'],
      [
        dayRow('ours: conditional DDPM (single task)', r.nightToDay.baseline),
        dayRow('ours: MT-Diffusion (night known)', r.nightToDay.mt),
        dayRow('ours: the night input itself', r.nightToDay.night),
        dayRow('ours: the real day images (IS ceiling)', r.nightToDay.real),
        ['paper (night2day, Inception): single-task diffusion', f(PAPER.night2day.singleTask.FID, 2), f(PAPER.night2day.singleTask.IS, 2), '', ''],
        ['paper (night2day, Inception): MT-Diffusion', f(PAPER.night2day.mt.FID, 2), f(PAPER.night2day.mt.IS, 2), '', ''],
        ['paper (night2day, Inception): real images', '', f(PAPER.night2day.realIS, 2), '', ''],
      ],
    ),
  );
  lines.push('Lower FID and RMS, higher IS and accuracy are better.', '');

  lines.push('## map -> scene (MT-Diffusion only)', '');
  lines.push(
    'The same MT-Diffusion (scene, map) model generating the scene with the map known (in A_t and on the extra channels); the generated scene read back by the nearest scene colour ' +
      '(the day palette; the scenes carry a random light level and cast, so even real scenes are not read back perfectly):',
    '',
  );
  lines.push(markdownTable(['model', 'per-pixel acc.', 'per-class acc.', 'class IoU'], [segRow('ours: MT-Diffusion (map known)', r.mapToScene.mt)]));

  lines.push('## Checks', '');
  lines.push(`- lambda_T of the extra modality: ${r.lambdaT.toExponential(3)} (MATH.md 7); max_t lambda_t = ${r.lambdaMax.toFixed(3)}.`);
  for (const id of MODEL_IDS) {
    const t = r.train[id];
    lines.push(`- ${MODEL_SPECS[id].title}: ${t.steps} steps in ${t.seconds.toFixed(0)} s, noise loss ${f(t.finalNoiseLoss, 4)} at the end, ${f(t.meanNoiseLossLast, 4)} averaged over the last tenth (total ${f(t.finalLoss, 4)}).`);
  }
  if (r.warnings.length > 0) lines.push(`- Warnings: ${r.warnings.length} (first: ${r.warnings[0]}).`);
  lines.push('', '## Files', '');
  lines.push(
    '- `scene-to-map.png`: per cell, scene | MT-Diffusion map (raw) | decoded | baseline map (raw) | decoded | ground truth.',
    '- `night-to-day.png`: per cell, night | MT-Diffusion day | baseline day | ground truth.',
    '- `map-to-scene.png`: per cell, map | MT-Diffusion scene | ground truth scene.',
    '- `loss-curve.png`: noise loss per step: red MT (scene, map), blue baseline scene -> map, orange MT (day, night), green baseline night -> day.',
    `- \`metrics.json\`, \`config.json\`, and one folder per model (${MODEL_IDS.join(', ')}: checkpoints, training log).`,
    '',
  );
  return lines.join('\n');
}
