import { markdownTable } from '@mtd/example-kit';
import type { RunConfig } from './config.js';
import type { AgreementRow, RunSummary } from './pipeline.js';

const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));

/** The metric names of the generation table, in the order of the masked-image example's Table 2. */
export const GENERATION_METRICS = ['IS', 'FID', 'sFID', 'Precision', 'Recall'] as const;

/** report.md: generation quality and representation agreement with their reference points, and the run's facts. */
export function renderReport(config: RunConfig, r: RunSummary): string {
  const lines: string[] = [];
  const middle = config.unet.baseChannels * config.unet.channelMults[config.unet.channelMults.length - 1]!;
  lines.push(`# Joint image-representation generation (paper appendix E.4), preset \`${config.preset}\``, '');
  lines.push(
    '**The paper has no table for this experiment**: E.4 fine-tunes Stable Diffusion 2 on LAION with CLIP representations and shows generated examples only ' +
      '(its Figures 11-12; "it is challenging to make fair quantitative comparisons"). The numbers below are ours alone, with reference points measured in the same run.',
    '',
  );
  lines.push(
    `Data: ${r.dataset}, ${config.imageSize}x${config.imageSize} grey. Backend: ${r.backend} (${r.machine}). ` +
      `Representation: the frozen feature network "${r.featureNet.name}" (its ${r.featureNet.dim} penultimate features; test accuracy ${f(r.featureNet.testAccuracy * 100, 2)}%) of each image as the models see it ` +
      `(upsampled to 28x28 for the network), standardised per dimension over the ${config.trainImages} training images; it stands in for the paper's CLIP embedding. ` +
      `Both models: the same ${config.unet.baseChannels}-channel U-Net (mults [${config.unet.channelMults.join(', ')}], attention in the middle block${config.unet.attentionResolutions.length ? ` and at ${config.unet.attentionResolutions.join(', ')} px` : ''}, context width ${r.featureNet.dim}), the same initial weights, ` +
      `${config.train.steps} steps at batch ${config.train.batchSize}, lr ${config.train.lr}, EMA ${config.train.ema}, ${config.schedule.kind} schedule T = ${config.schedule.T}, the same image sequence.`,
    '',
  );
  lines.push(
    `MT-Diffusion: ${r.parameters.mt} parameters. Encoder: the shared U-Net through cross-attention, \`E(r) = unet(zeros, t = 0, context = r)\` (MATH.md 5.3; frozen: no gradient through the encoding). ` +
      `Decoder: Linear(${middle} -> ${config.headHidden}) -> ReLU -> Linear(${config.headHidden} -> ${r.featureNet.dim}) on the pooled middle block. ` +
      `Weight w_t = ${config.weightC} sqrt(alphaBar_t): **lambda_T = ${r.lambdaT.toExponential(3)}**, max_t lambda_t = ${r.lambdaMax.toFixed(3)}; trained encodings have rms ${r.encodingRms.toPrecision(3)} ` +
      `(so the representation adds at most ${(r.lambdaMax * r.encodingRms).toFixed(3)} rms to z_t, and ${(r.lambdaT * r.encodingRms).toExponential(2)} at t = T). ` +
      `Condition dropout ${config.conditionDropout} (the cross-attention sees the representation in the other examples), rho = 0.1. ` +
      `Single-task DDPM: ${r.parameters.ddpm} parameters (the same U-Net; its cross-attention projection is never used).`,
    '',
  );
  lines.push(
    `Wall time: ${r.seconds.total.toFixed(0)} s (embedding the data ${r.seconds.features.toFixed(0)} s, training ${r.seconds.train.toFixed(0)} s, generation ${r.seconds.generate.toFixed(0)} s, evaluation ${r.seconds.evaluate.toFixed(0)} s).`,
    '',
  );

  lines.push('## Generation quality at equal training steps', '');
  lines.push(
    `${config.sample.n} jointly generated images per model (${config.sample.steps} respaced DDPM steps, z0 clipped to [-1, 1]) against ${config.sample.n} test images, ` +
      `on the project's Fashion-MNIST feature network ("fmnist features"; not Inception numbers, and the same network that defines the representation).`,
    '',
  );
  const label = (m: string) => `${m} (fmnist features)`;
  const digits = (m: string) => (m === 'Precision' || m === 'Recall' ? 3 : 2);
  const genRows: (string | number)[][] = (['ddpm', 'mt'] as const).map((kind) => [
    kind === 'mt' ? 'MT-Diffusion (image + representation)' : 'single-task DDPM',
    ...GENERATION_METRICS.map((m) => f(r.generation[kind][label(m)], digits(m))),
  ]);
  const realIs = r.generation.mt[`${label('IS')}, real images`];
  if (realIs !== undefined) genRows.push(['(the real test images themselves)', f(realIs, 2), '', '', '', '']);
  lines.push(markdownTable(['model', ...GENERATION_METRICS.map(label)], genRows));
  lines.push('Lower FID/sFID and higher IS/precision/recall are better.', '');

  lines.push('## Agreement: does the generated representation describe the generated image?', '');
  lines.push(
    'Cosine similarity between a representation and the frozen feature network applied to an image, in the standardised space the model generates in (centred on the training mean), ' +
      'and on the raw features (which share a large common component, so every pair scores high there). A real image against its own embedding is 1 by construction; the rows below the first two are the reference points.',
    '',
  );
  const a = r.agreement;
  const agreementRow = (name: string, x: AgreementRow): (string | number)[] => [name, x.n, f(x.cosine), f(x.cosineSd), f(x.cosineRaw)];
  lines.push(
    markdownTable(
      ['pairs', 'n', 'mean cosine (standardised)', 'sd', 'mean cosine (raw features)'],
      [
        agreementRow('**MT-Diffusion: generated representation vs embedding of its generated image**', a.joint),
        agreementRow('MT-Diffusion: generated representation vs embedding of a random other generated image', a.otherImage),
        agreementRow('MT-Diffusion: given test representation vs embedding of the image generated from it', a.conditional),
        agreementRow('real test images, same class', a.realSameClass),
        agreementRow('real test images, different classes', a.realDifferentClass),
      ],
    ),
  );

  lines.push('## Checks', '');
  for (const kind of ['mt', 'ddpm'] as const) {
    const t = r.train[kind];
    lines.push(`- ${kind === 'mt' ? 'MT-Diffusion' : 'single-task DDPM'}: ${t.steps} steps in ${t.seconds.toFixed(0)} s, final noise loss ${f(t.finalNoiseLoss, 4)} (total ${f(t.finalLoss, 4)}).`);
  }
  lines.push(`- lambda_T of the representation modality: ${r.lambdaT.toExponential(3)} (MATH.md 7); the sampler's endpoint warning ${r.warnings.some((w) => w.includes('lambda_T')) ? 'fired (see warnings)' : 'did not fire'}.`);
  if (r.warnings.length > 0) lines.push(`- Warnings: ${r.warnings.length} (first: ${r.warnings[0]}).`);
  lines.push('', '## Files', '');
  lines.push(
    '- `samples-mt-diffusion.png`: per cell, the generated image | a bar of its agreement (white length = the standardised cosine between its generated representation and its embedding; full width = 1) | the training image whose representation is nearest (cosine) to the generated one.',
    '- `samples-ddpm.png`: the baseline\'s samples.',
    '- `conditional.png`: per cell, a test image | the image MT-Diffusion generated from its representation | the agreement bar of that pair.',
    '- `loss-curve.png`: the noise-prediction loss per step (moving average over the raw values in a light tint); red = MT-Diffusion, blue = single-task DDPM.',
    '- `metrics.json`, `config.json`, `mt/` and `ddpm/` (checkpoints, training logs).',
    '',
  );
  return lines.join('\n');
}
