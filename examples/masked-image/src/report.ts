import type { RunConfig } from './config.js';
import { MODEL_NAMES, SAMPLE_FILES, type ModelKind, type RunSummary } from './pipeline.js';

/** The paper's Table 1 (LPIPS, ImageNet, MT-Diffusion-X) and Table 2 (Inception features, ImageNet 32x32, 1M iterations). */
export const PAPER = {
  table1: {
    cleanMasked: { 5: 0.311, 10: 0.414, 15: 0.461, 20: 0.491 } as Record<number, number>,
    sdedit: { 5: 0.4, 10: 0.466, 15: 0.497, 20: 0.513 } as Record<number, number>,
    ours: { 5: 0.035, 10: 0.068, 15: 0.099, 20: 0.133 } as Record<number, number>,
  },
  table2: {
    'ADM (un-cond)': { IS: 15.64, FID: 23.22, sFID: 16.53, Precision: 0.57, Recall: 0.6 },
    'MT-Diffusion-U': { IS: 23.77, FID: 26.0, sFID: 25.22, Precision: 0.57, Recall: 0.55 },
  } as Record<string, Record<string, number>>,
};

const COLOR_NAMES: Record<ModelKind, string> = { mt: 'red', mtx: 'green', ddpm: 'blue' };
const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));

/** report.md: both tables with ours beside the paper's (a different scale), the checks and the run's facts. */
export function renderReport(config: RunConfig, r: RunSummary): string {
  const lines: string[] = [];
  const mtKinds = r.models.filter((k): k is Exclude<ModelKind, 'ddpm'> => k !== 'ddpm');
  lines.push(`# Masked-image training (paper section 4.1), preset \`${config.preset}\``, '');
  lines.push(
    `Data: ${r.dataset}, ${config.imageSize}x${config.imageSize} grey. Backend: ${r.backend}. ` +
      `Every model: the same ${config.unet.baseChannels}-channel U-Net (mults [${config.unet.channelMults.join(', ')}]) from the same seed, ` +
      `${config.train.steps} steps at batch ${config.train.batchSize}, lr ${config.train.lr}, EMA ${config.train.ema}, ${config.schedule.kind} schedule T = ${config.schedule.T}. ` +
      `MT-Diffusion: training modality Mask-${config.trainMaskK} with ${config.patchSize}-px patches, identity encoder, w_t = ${config.weightC} sqrt(alphaBar_t): **lambda_T = ${r.lambdaT.toExponential(3)}** (largest on the way: max_t lambda_t = ${r.lambdaMax.toFixed(3)}), the masked-image output-block head. ` +
      r.models.map((k) => `${MODEL_NAMES[k]}: ${r.parameters[k]} parameters`).join('; ') +
      (r.models.includes('mtx') ? `. MT-Diffusion-X reads the masked image as an extra input channel, replaced by zeros for ${Math.round(config.xDropout * 100)}% of training examples and in pure generation.` : '.'),
    '',
  );
  lines.push(`Wall time: ${r.seconds.total.toFixed(0)} s (training ${r.seconds.train.toFixed(0)} s, generation ${r.seconds.generate.toFixed(0)} s, restoration ${r.seconds.restore.toFixed(0)} s, evaluation ${r.seconds.evaluate.toFixed(0)} s).`, '');

  lines.push('## Table 2: generation quality at equal training steps', '');
  if ('skipped' in r.generation) {
    lines.push(`Skipped: ${String(r.generation.skipped)}`, '');
  } else {
    const gen = r.generation;
    const names = ['IS', 'FID', 'sFID', 'Precision', 'Recall'];
    const label = (m: string) => `${m} (fmnist features)`;
    lines.push(`Ours: ${config.sample.n} samples per model (${config.sample.steps} respaced DDPM steps) against ${config.sample.n} test images, on the project's Fashion-MNIST feature network ("fmnist features"; images upsampled to 28x28 when smaller). The paper: ImageNet 32x32, Inception features, 1M iterations, 5K samples: **a different scale; compare directions, not values**.`, '');
    lines.push(`| model | ${names.map(label).join(' | ')} |`, `|---|${names.map(() => '---').join('|')}|`);
    for (const kind of ['ddpm', 'mt', 'mtx'] as const) {
      const row = gen[kind];
      if (row === undefined) continue;
      lines.push(`| ours: ${MODEL_NAMES[kind]} | ${names.map((m) => f(row[label(m)], m === 'FID' || m === 'sFID' || m === 'IS' ? 2 : 3)).join(' | ')} |`);
    }
    const realIs = gen.ddpm?.[`${label('IS')}, real images`];
    if (realIs !== undefined) lines.push(`| (the real test images themselves) | ${f(realIs, 2)} | | | | |`);
    for (const [name, row] of Object.entries(PAPER.table2)) lines.push(`| paper (ImageNet, Inception): ${name} | ${names.map((m) => f(row[m], 2)).join(' | ')} |`);
    lines.push('', 'Lower FID/sFID and higher IS/precision/recall are better.', '');
  }

  lines.push('## Table 1: constrained restoration distance', '');
  lines.push(
    `Ours: the first ${config.restore.n} test images, masked with Mask-k (${config.patchSize}-px patches, zero pixel value), restored by ${mtKinds.map((k) => MODEL_NAMES[k]).join(' and ')} (masked image known in A_t${r.models.includes('mtx') ? ', and as input channels for -X' : ''}, RePaint-style replacement of the known pixels at every step, ${config.sample.steps} steps), ` +
      `by SDEdit with the single-task DDPM (noise to t0 = ${Math.round(config.restore.sdeditStrength * config.schedule.T)}, ${config.restore.sdeditSteps} DDIM steps, known pixels pasted back), and the Clean-Masked pair (the masked input itself). ` +
      'Distance to the original image: `1 - cos` of fmnist features (our stand-in for LPIPS; lower is better). The paper: LPIPS on ImageNet with MT-Diffusion-X: **a different scale and metric**.',
    '',
  );
  lines.push('| model | ' + r.restoration.map((x) => `Mask-${x.k}`).join(' | ') + ' |', '|---|' + r.restoration.map(() => '---').join('|') + '|');
  lines.push('| masked fraction of pixels | ' + r.restoration.map((x) => f(x.maskedFraction)).join(' | ') + ' |');
  const methods: [string, string][] = [['cleanMasked', 'Clean-Masked'], ['sdedit', 'SDEdit with DDPM'], ...mtKinds.map((k): [string, string] => [k, MODEL_NAMES[k]])];
  for (const [m, name] of methods) lines.push(`| ours: ${name} (fmnist features) | ` + r.restoration.map((x) => f(x.featureDistance[m], 4)).join(' | ') + ' |');
  for (const [m, name] of methods) lines.push(`| ours: ${name}, RMS pixel distance | ` + r.restoration.map((x) => f(x.rms[m], 4)).join(' | ') + ' |');
  const paperRow = (name: string, table: Record<number, number>) => `| paper (LPIPS, ImageNet): ${name} | ` + r.restoration.map((x) => f(table[x.k])).join(' | ') + ' |';
  lines.push(paperRow('Clean-Masked', PAPER.table1.cleanMasked), paperRow('SDEdit-', PAPER.table1.sdedit), paperRow('MT-Diffusion-X', PAPER.table1.ours), '');

  lines.push('## Checks', '');
  lines.push(
    `- Every unmasked pixel unchanged (restored vs masked input, exact equality over ${r.restoration.length} Mask-k settings): **${r.unmaskedUnchanged ? 'yes' : 'NO'}** ` +
      `(largest change: ${[...mtKinds, 'sdedit' as const].map((m) => `${m === 'sdedit' ? 'SDEdit' : MODEL_NAMES[m]} ${Math.max(...r.restoration.map((x) => x.maxUnmaskedChange[m] ?? Number.NaN))}`).join(', ')}).`,
  );
  lines.push(`- lambda_T of the masked-image modality: ${r.lambdaT.toExponential(3)} (MATH.md 7: the chain ends at N(0, I) up to this offset); max_t lambda_t = ${r.lambdaMax.toFixed(3)}.`);
  for (const kind of r.models) {
    const t = r.train[kind]!;
    lines.push(`- ${MODEL_NAMES[kind]}: ${t.steps} steps in ${t.seconds.toFixed(0)} s, final noise loss ${f(t.finalNoiseLoss, 4)} (total ${f(t.finalLoss, 4)}).`);
  }
  if (r.warnings.length > 0) lines.push(`- Warnings: ${r.warnings.length} (first: ${r.warnings[0]}).`);
  lines.push('', '## Files', '');
  lines.push(
    `- \`loss-curve.png\`: the noise-prediction loss per step (moving average over the raw values in a light tint); ${r.models.map((k) => `${COLOR_NAMES[k]} = ${MODEL_NAMES[k]}`).join(', ')}.`,
    `- ${mtKinds.map((k) => `\`${SAMPLE_FILES[k]}\``).join(', ')}: generated image | its generated masked image, per cell. \`${SAMPLE_FILES.ddpm}\`: the baseline's samples.`,
    `- \`restoration-maskK.png\`: masked input | ${mtKinds.map((k) => MODEL_NAMES[k]).join(' | ')} | SDEdit | original, per cell.`,
    `- \`metrics.json\`, \`config.json\`, ${r.models.map((k) => `\`${k}/\``).join(', ')} (checkpoints, training logs).`,
    '',
  );
  return lines.join('\n');
}
