import { markdownTable } from '@mtd/example-kit';
import type { RunConfig } from './config.js';
import { CLASSIFIER_NAMES, VARIANT_NAMES } from './model.js';
import type { RunSummary } from './pipeline.js';

/** The paper's Table 2 (ImageNet 32x32, Inception features, 1M iterations, 5K samples): the rows this experiment relates to. */
export const PAPER_TABLE2: Record<string, { IS: number; FID: number; sFID: number; Precision: number; Recall: number }> = {
  'ADM (un-cond)': { IS: 15.64, FID: 23.22, sFID: 16.53, Precision: 0.57, Recall: 0.6 },
  'MT-Diffusion-M': { IS: 15.66, FID: 33.92, sFID: 21.63, Precision: 0.54, Recall: 0.55 },
  'MT-Diffusion-E': { IS: 11.86, FID: 41.0, sFID: 22.37, Precision: 0.48, Recall: 0.45 },
  'MT-Diffusion-M* (finetuned; not run here)': { IS: 26.31, FID: 13.48, sFID: 16.64, Precision: 0.66, Recall: 0.61 },
  'MT-Diffusion-E* (finetuned; not run here)': { IS: 24.78, FID: 11.28, sFID: 16.08, Precision: 0.74, Recall: 0.56 },
};

/** Fashion-MNIST class names by index (the glyphs in the PNGs show the index). */
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

const f = (v: number | undefined, digits = 3) => (v === undefined || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits));
const pct = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : `${(100 * v).toFixed(1)}%`);

/** report.md: Table 2 and the classification comparison with ours beside the paper's (a different scale), and the run's facts. */
export function renderReport(config: RunConfig, r: RunSummary): string {
  const L: string[] = [];
  const feat = (m: string) => `${m} (fmnist features)`;
  L.push(`# Joint image-label generation (paper section 4.2), preset \`${config.preset}\``, '');
  L.push(
    `Data: ${r.dataset}, ${config.imageSize}x${config.imageSize} grey, ${config.classes} classes, the first ${config.trainImages} training images. Backend: ${r.backend}; machine: ${r.machine}. ` +
      `Every model: ${config.train.steps} steps at batch ${config.train.batchSize} on the same batches, Adam lr ${config.train.lr} (warm-up ${config.train.warmupSteps}, cosine to a tenth), clip ${config.train.clipGradNorm}, EMA ${config.train.ema}. ` +
      `Diffusion: ${config.schedule.kind} schedule T = ${config.schedule.T}, one U-Net (base ${config.unet.baseChannels}, mults [${config.unet.channelMults.join(', ')}], ${config.unet.numResBlocks} res block, same initial weights).`,
    '',
  );
  L.push(
    `Label modality (MT variants): categorical, K = ${config.classes}; encoder = the shared U-Net through its class path, \`e_k = unet(zeros, t = 0, k)\` (frozen in the loss); ` +
      `w_t = ${config.label.weightC} sqrt(alphaBar_t): **lambda_T = ${r.label.lambdaT.toExponential(3)}**, max_t lambda_t = ${r.label.lambdaMax.toFixed(3)}; ` +
      `after training, rms(e_k) in [${f(Math.min(...r.label.encodingRms.mtM))}, ${f(Math.max(...r.label.encodingRms.mtM))}] (-M) and [${f(Math.min(...r.label.encodingRms.mtE))}, ${f(Math.max(...r.label.encodingRms.mtE))}] (-E), ` +
      `so the label's offset at t = T is at most ${r.label.endpointOffset.mtM.toExponential(2)} (-M) / ${r.label.endpointOffset.mtE.toExponential(2)} (-E) against the unit noise. ` +
      `Condition dropout ${config.label.conditionDropout} (the head's loss counts the dropped examples), rho = ${config.label.rho}.`,
    '',
  );
  L.push(
    `Models: ${VARIANT_NAMES.mtM} ${r.parameters.mtM} parameters (one Linear on the pooled middle block); ${VARIANT_NAMES.mtE} ${r.parameters.mtE} (a ${config.classifier.stages}-stage, width-${config.classifier.width} residual classifier on the image estimate x0); ` +
      `${VARIANT_NAMES.ddpm} ${r.parameters.ddpm}. Supervised baselines "of the same size": ${CLASSIFIER_NAMES.supM}, ${r.parameters.supM} parameters on its path (= -M's path from image to label); ` +
      `${CLASSIFIER_NAMES.supE}, ${r.parameters.supE} (-E's path is the whole U-Net + this head, ${r.pathParameters.mtE}; at t = 0 the U-Net drops out of x0, so the head alone is the clean-image classifier).`,
    '',
  );
  L.push(`Wall time: ${r.seconds.total.toFixed(0)} s (training ${r.seconds.train.toFixed(0)} s, generation ${r.seconds.generate.toFixed(0)} s, classification ${r.seconds.classify.toFixed(0)} s, evaluation ${r.seconds.evaluate.toFixed(0)} s).`, '');

  L.push('## Table 2: generation quality at equal training steps', '');
  if ('skipped' in r.generation) {
    L.push(`Skipped: ${String(r.generation.skipped)}`, '');
  } else {
    const names = ['IS', 'FID', 'sFID', 'Precision', 'Recall'];
    const digits = (m: string) => (m === 'Precision' || m === 'Recall' ? 3 : 2);
    L.push(
      `Ours: ${config.sample.n} samples per model (${config.sample.steps} respaced ancestral DDPM steps, unconditional: the MT variants generate the image and its label jointly from N(0, I) with the null class) against ${config.sample.n} test images, ` +
        `on the project's Fashion-MNIST feature network ("fmnist features"; images bilinearly upsampled to 28x28). The paper: ImageNet 32x32, Inception features, 1M iterations, 5K samples: **a different scale; compare directions, not values**.`,
      '',
    );
    const gen = r.generation;
    const rows: (string | number)[][] = [];
    for (const kind of ['ddpm', 'mtM', 'mtE'] as const) rows.push([`ours: ${VARIANT_NAMES[kind]}`, ...names.map((m) => f(gen[kind][feat(m)], digits(m)))]);
    const realIs = gen.ddpm[`${feat('IS')}, real images`];
    if (realIs !== undefined) rows.push(['ours: the real test images themselves', f(realIs, 2), '', '', '', '']);
    for (const [name, row] of Object.entries(PAPER_TABLE2)) rows.push([`paper (ImageNet, Inception): ${name}`, ...names.map((m) => f(row[m as keyof typeof row], digits(m)))]);
    L.push(markdownTable(['model', ...names.map(feat)], rows));
    L.push('Lower FID/sFID and higher IS/precision/recall are better.', '');
  }

  L.push('## Joint samples: does the generated label match the generated image?', '');
  if ('skipped' in r.jointAgreement) {
    L.push(`Skipped: ${String(r.jointAgreement.skipped)}`, '');
  } else {
    L.push(
      `The fmnist feature network's class of each generated image against the label generated with it. Its own top-1 on the real test images at this resolution is ${pct(r.featureNetAccuracy)}, ` +
        'the most this agreement can show; chance is about 10%. (No paper number: the paper does not measure this.)',
      '',
    );
    const ac = r.agreementControls;
    const ja = r.jointAgreement as Record<string, number>;
    const rows = (['mtM', 'mtE', 'ddpm', 'real'] as const).map((src) => {
      const c = ac[src];
      const name = src === 'real' ? 'the real test images (true label)' : `${VARIANT_NAMES[src]} samples${src === 'ddpm' ? ' (no label)' : ''}`;
      const labelVsNet = src === 'real' ? r.featureNetAccuracy : src === 'ddpm' ? undefined : ja[src];
      return [
        name,
        src === 'ddpm' ? '' : pct(labelVsNet),
        c.labelVsHead === undefined ? '' : pct(c.labelVsHead),
        c.labelVsSupervised ? pct(c.labelVsSupervised.supM) : '',
        c.labelVsSupervised ? pct(c.labelVsSupervised.supE) : '',
        c.supervisedVsFeatureNet ? pct(c.supervisedVsFeatureNet.supM) : '',
        c.supervisedVsFeatureNet ? pct(c.supervisedVsFeatureNet.supE) : '',
      ];
    });
    L.push(
      markdownTable(
        ['images', 'label = feature net (fmnist features)', 'label = the same head re-reading the image (t = 1)', 'label = supervised -M size', 'label = supervised -E size', 'supervised -M size = feature net', 'supervised -E size = feature net'],
        rows,
      ),
    );
    L.push(
      'The last two columns say how readable each set of images is at all (two independent classifiers agreeing); the re-reading column checks that the generated label is what the head itself reads from the final image.',
      '',
    );
  }
  const hist = r.classHistograms;
  const histRows: (string | number)[][] = [
    ['real test images (true labels)', ...hist.realTest],
    [`${VARIANT_NAMES.mtM}: generated labels`, ...hist.generatedLabels.mtM],
    [`${VARIANT_NAMES.mtE}: generated labels`, ...hist.generatedLabels.mtE],
  ];
  for (const k of ['mtM', 'mtE', 'ddpm'] as const) {
    const h = hist.featureNetOnSamples[k];
    if (h) histRows.push([`${VARIANT_NAMES[k]}: feature net on its images`, ...h]);
  }
  L.push(`Class counts over the ${config.sample.n} samples (class names: ${FASHION_CLASSES.map((n, i) => `${i} ${n}`).join(', ')}):`, '');
  L.push(markdownTable(['', ...Array.from({ length: config.classes }, (_, i) => String(i))], histRows));

  L.push('## Classification of the test split (the Figure 6 comparison)', '');
  const c = r.classification;
  L.push(
    `The first ${c.n} test images. MT heads: the known-z0 sampler (\`sample({ z0Known })\`, ${config.classify.steps} steps; each state a fresh forward sample of the test image, the label read by the head, the final reading at t = 1). ` +
      'Supervised: the classifier on the clean image. Same training steps and batches for all.',
    '',
  );
  L.push(
    markdownTable(
      ['classifier', 'parameters on the image -> label path', 'top-1', 'top-5'],
      [
        [`ours: ${VARIANT_NAMES.mtM} label head (sampler)`, r.pathParameters.mtM, pct(c.sampler.mtM.top1), pct(c.sampler.mtM.top5)],
        [`ours: ${CLASSIFIER_NAMES.supM}`, r.parameters.supM, pct(c.supervised.supM.top1), pct(c.supervised.supM.top5)],
        [`ours: ${VARIANT_NAMES.mtE} label head (sampler)`, r.pathParameters.mtE, pct(c.sampler.mtE.top1), pct(c.sampler.mtE.top5)],
        [`ours: ${CLASSIFIER_NAMES.supE}`, r.parameters.supE, pct(c.supervised.supE.top1), pct(c.supervised.supE.top5)],
      ],
    ),
  );
  L.push(
    "The paper (ImageNet, Figure 6): curves only, no table. It fine-tunes MT-Diffusion-E's classifier and the guided-diffusion ADM classifier from their checkpoints and reports " +
      "that its classifier's top-1 and top-5 stay above the baseline's at every fine-tuning step, the gap shrinking with more steps. **A different scale and protocol** (no fine-tuning here; ours are trained from scratch for the same steps).",
    '',
  );
  L.push(`Top-1 during training (${config.classify.curveN} test images, live weights; MT heads read at t = 1; the curve in \`accuracy-curve.png\`, plotted as top-1 error on a log axis):`, '');
  const steps = r.train.mtM.curve.map((p) => p.step);
  const curveKinds = ['mtM', 'mtE', 'supM', 'supE'] as const;
  const curveName = (k: (typeof curveKinds)[number]) => (k === 'mtM' || k === 'mtE' ? `${VARIANT_NAMES[k]} head` : CLASSIFIER_NAMES[k]);
  L.push(markdownTable(['step', ...curveKinds.map(curveName)], steps.map((step, i) => [step, ...curveKinds.map((k) => pct(r.train[k].curve[i]?.top1))])));
  L.push('Top-1 on noisy test images `z_t = sqrt(alphaBar_t) x + sqrt(1 - alphaBar_t) eps` (one forward pass, the same noise for every model; the MT heads are told t, the supervised classifiers see z_t as an image):', '');
  L.push(markdownTable(['classifier', ...c.byNoise.t.map((t) => `t = ${t}`)], curveKinds.map((k) => [curveName(k), ...c.byNoise.top1[k].map((v) => pct(v))])));

  L.push('## Training', '');
  const trainRows = (['mtM', 'mtE', 'ddpm', 'supM', 'supE'] as const).map((k) => {
    const t = r.train[k];
    return [k === 'supM' || k === 'supE' ? CLASSIFIER_NAMES[k] : VARIANT_NAMES[k], t.steps, t.seconds.toFixed(0), f(t.finalNoiseLoss, 4), f(t.finalLabelLoss, 4)];
  });
  L.push(markdownTable(['model', 'steps', 'seconds', 'final noise loss', 'label cross-entropy (mean of the last tenth)'], trainRows));
  if (r.warnings.length > 0) L.push(`Warnings (${r.warnings.length}): ${r.warnings.slice(0, 3).join(' | ')}`, '');

  L.push('## Files', '');
  L.push(
    '- `samples-mt-diffusion-m.png`, `samples-mt-diffusion-e.png`: joint samples, each generated image beside its generated label (the class index as digits, one bar per class for its probability, the chosen class white). `samples-ddpm.png`: the baseline\'s images.',
    '- `classification.png`: test image | -M head | -E head | supervised -M-size classifier | the true label, per cell.',
    '- `loss-curve.png`: noise loss per step (moving average over the raw values in a light tint); red -M, orange -E, blue DDPM.',
    '- `accuracy-curve.png`: top-1 error on held-out images during training (log axis); red -M head, orange -E head, purple supervised -M size, green supervised -E size.',
    '- `metrics.json`, `config.json`, one folder per model (checkpoints or weights, `log.jsonl`).',
    '',
  );
  return L.join('\n');
}
