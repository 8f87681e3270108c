import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { endpointReport, sqrtAlphaBarWeight } from '@mtd/aggregation';
import { SCENE_PALETTE } from '@mtd/datasets';
import { featuresOf, generateAll, lossCurvePng, machineDescription, mean, rmsDistances, trainVariant, tupleGridPng, type Rgb, type ExampleRunOptions } from '@mtd/example-kit';
import { writeFileAtomic, writeJsonAtomic } from '@mtd/io';
import { fmnistFeatures, generationMetrics, segmentationMetrics, type FeatureSet, type FmnistFeatureExtractor } from '@mtd/metrics';
import { asDiffusionModel } from '@mtd/train';
import type { RunConfig } from './config.js';
import { drawAligned, LABEL_PALETTE, loadDayNight, loadScenePairs, nearestColourClasses, paintLabels, toSigned, type DayNightSet, type ScenePairs } from './data.js';
import { buildModel, buildSchedule, MODEL_IDS, MODEL_SPECS, trainBatch, trainerOptions, type BuiltModel, type ModelId } from './models.js';
import { renderReport } from './report.js';

export const LOSS_COLORS: Record<ModelId, Rgb> = { mtSeg: [200, 40, 40], baseSeg: [40, 80, 200], mtDay: [230, 140, 20], baseDay: [30, 160, 90] };

export type RunOptions = ExampleRunOptions<RunConfig>;

/** Table 4's segmentation scores of generated maps against the ground truth (fractions in [0, 1]). */
export interface SegmentationScores {
  pixelAccuracy: number;
  classAccuracy: number;
  classIoU: number;
  perClassAccuracy: number[];
  perClassIoU: number[];
}

/** Generated day images: realism on fmnist features and faithfulness to the paired ground truth. */
export interface DayScores {
  /** FID/IS/... on fmnist features against the ground-truth day images (labels as generationMetrics gives them). */
  features: Record<string, number> | { skipped: string };
  /** Mean per-image RMS pixel distance to the ground-truth day image ([-1, 1] units). */
  rms: number;
  /** Pixel accuracy of the generated day image read back by nearest scene colour, against the class map. */
  colourAccuracy: number;
}

export interface RunSummary {
  data: { seg: string; day: string; trainScenes: number; testScenes: number; size: number; numClasses: number };
  backend: string;
  machine: string;
  parameters: Record<ModelId, number>;
  lambdaT: number;
  lambdaMax: number;
  train: Record<ModelId, { steps: number; seconds: number; finalLoss: number; finalNoiseLoss: number; meanNoiseLossLast: number }>;
  /**
   * scene -> map (Table 4): MT-Diffusion's head vs the conditional DDPM; `allBackground` is the
   * trivial map (every pixel class 0), the floor that per-pixel accuracy must be read against.
   */
  sceneToMap: { mt: SegmentationScores; baseline: SegmentationScores; allBackground: SegmentationScores };
  /** map -> scene with MT-Diffusion: the generated scene read back by nearest scene colour. */
  mapToScene: { mt: SegmentationScores };
  /**
   * night -> day: MT-Diffusion vs the conditional DDPM; `night` scores the night input itself
   * (copying the source), `real` the ground-truth day images (IS ceiling; FID against themselves is 0).
   */
  nightToDay: { mt: DayScores; baseline: DayScores; night: DayScores; real: DayScores };
  seconds: { total: number; train: number; generate: number; evaluate: number };
  warnings: string[];
}

/** Runs E1 end to end: build the pairs, train the four models, translate the test scenes, evaluate, write everything into `out`. */
export async function runImageTransition(options: RunOptions): Promise<RunSummary> {
  const { config, out } = options;
  const log = options.log ?? ((line: string) => console.log(line));
  const start = performance.now();
  const s = config.imageSize;
  const P3 = s * s * 3;
  const n = config.sample.n;
  const warnings: string[] = [];
  await writeJsonAtomic(join(out, 'config.json'), config);

  const schedule = buildSchedule(config);
  const { lambdaT, lambdaMax } = endpointReport(schedule, [sqrtAlphaBarWeight(config.weightC)]).modalities[0]!;
  // Four disjoint scene streams: each pair trains and is tested on its own scenes.
  const sceneOptions = (count: number, k: number) => ({ count, size: s, numClasses: config.numClasses, seed: config.seed * 10 + k, minShapes: config.minShapes, maxShapes: config.maxShapes });
  const segTrain = loadScenePairs(sceneOptions(config.trainScenes, 1));
  const segTest = loadScenePairs(sceneOptions(n, 2));
  const dayTrain = loadDayNight(sceneOptions(config.trainScenes, 3));
  const dayTest = loadDayNight(sceneOptions(n, 4));
  log(
    `data: ${segTrain.name} and ${dayTrain.name}, ${config.trainScenes} training / ${n} test scenes per pair at ${s}x${s}; ` +
      `lambda_T = ${lambdaT.toExponential(3)}, max_t lambda_t = ${lambdaMax.toFixed(3)} (w_t = ${config.weightC} sqrt(alphaBar_t), ${config.schedule.kind} T = ${config.schedule.T})`,
  );

  // 1. Train the four models with the same backbone, initial weights, optimiser and steps.
  const built = {} as Record<ModelId, BuiltModel>;
  const losses = {} as Record<ModelId, number[]>;
  const train = {} as RunSummary['train'];
  const parameters = {} as RunSummary['parameters'];
  const tTrain = performance.now();
  try {
    for (const id of MODEL_IDS) {
      const b = buildModel(id, config);
      built[id] = b;
      parameters[id] = b.model.parameterCount();
      const [z0Data, otherData, nTrain] = trainArrays(id, segTrain, dayTrain);
      const result = await trainVariant({
        label: b.spec.title,
        model: b.model,
        modalities: b.modalities,
        schedule,
        draw: (rng, B) => {
          const [z0, other] = drawAligned(rng, B, nTrain, P3, [z0Data, otherData]);
          return trainBatch(b.spec, z0!, other!, B, s);
        },
        config: { seed: config.seed, ...config.train },
        trainer: trainerOptions(id, config),
        dir: join(out, id),
        progress: options.progress ?? 'lines',
        runConfig: { ...config, model: id } as unknown as Record<string, unknown>,
        log,
      });
      losses[id] = result.losses.noise;
      const last = result.losses.noise.slice(-Math.max(1, Math.round(result.losses.noise.length / 10)));
      train[id] = { steps: result.steps, seconds: result.seconds, finalLoss: result.finalLoss, finalNoiseLoss: result.finalNoiseLoss, meanNoiseLossLast: mean(last) };
    }
    const trainSeconds = (performance.now() - tTrain) / 1000;
    const { png: lossPng } = lossCurvePng(MODEL_IDS.map((id) => ({ values: losses[id], color: LOSS_COLORS[id] })));
    await writeFileAtomic(join(out, 'loss-curve.png'), lossPng);

    // 2. Translate the test scenes. Every direction reads the same test pairs.
    const tGen = performance.now();
    const slice = (data: Float32Array) => (first: number, size: number) => tf.tensor4d(data.subarray(first * P3, (first + size) * P3), [size, s, s, 3]);
    const common = (id: ModelId, seed: number, clipZ0 = true) => ({
      model: asDiffusionModel(built[id].model),
      schedule,
      modalities: built[id].modalities,
      shape: [s, s, 3],
      n,
      batchSize: config.sample.batchSize,
      seed,
      steps: config.sample.steps,
      ...(clipZ0 ? { clipZ0: [-1, 1] as const } : {}),
      onWarning: (m: string) => warnings.push(`${MODEL_SPECS[id].title}: ${m}`),
    });
    // scene -> map, MT-Diffusion: the scene is z_0 (a fresh forward sample at every step), the head reads the map.
    const mtMap = (await generateAll({ ...common('mtSeg', config.seed + 101, false), z0Known: slice(segTest.scene) })).values['map']!;
    log(`scene -> map: ${n} maps from the MT-Diffusion head (scene known as z_0, ${config.sample.steps} steps)`);
    // scene -> map, baseline: the map is generated with the scene on the extra channels.
    const baseMap = (await generateAll({ ...common('baseSeg', config.seed + 102), known: (f, k) => ({ scene: slice(segTest.scene)(f, k) }) })).z0;
    log(`scene -> map: ${n} maps from the conditional DDPM`);
    // map -> scene, MT-Diffusion: the map known (A_t and extra channels), the scene generated.
    const mtScene = (await generateAll({ ...common('mtSeg', config.seed + 103), known: (f, k) => ({ map: slice(segTest.map)(f, k) }) })).z0;
    log(`map -> scene: ${n} scenes from MT-Diffusion`);
    // night -> day: both generate the day image with the night image known.
    const mtDayImages = (await generateAll({ ...common('mtDay', config.seed + 104), known: (f, k) => ({ night: slice(dayTest.night)(f, k) }) })).z0;
    const baseDayImages = (await generateAll({ ...common('baseDay', config.seed + 104), known: (f, k) => ({ night: slice(dayTest.night)(f, k) }) })).z0;
    log(`night -> day: ${n} day images from MT-Diffusion and from the conditional DDPM`);
    const genSeconds = (performance.now() - tGen) / 1000;

    // 3. Grids: source | generated | ground truth.
    const g = Math.min(config.gridImages, n);
    const zoom = s < 32 ? 3 : 1;
    const grid = (columns: Float32Array[]) => tupleGridPng(columns, g, s, { channels: 3, zoom, cellsPerRow: Math.min(g, 4) });
    const mtMapClasses = nearestColourClasses(mtMap, n, s, LABEL_PALETTE.slice(0, config.numClasses));
    const baseMapClasses = nearestColourClasses(clip(baseMap), n, s, LABEL_PALETTE.slice(0, config.numClasses));
    await writeFileAtomic(join(out, 'scene-to-map.png'), grid([segTest.scene, clip(mtMap), labelImages(mtMapClasses, n, s), clip(baseMap), labelImages(baseMapClasses, n, s), segTest.map]));
    await writeFileAtomic(join(out, 'map-to-scene.png'), grid([segTest.map, mtScene, segTest.scene]));
    await writeFileAtomic(join(out, 'night-to-day.png'), grid([dayTest.night, mtDayImages, baseDayImages, dayTest.day]));

    // 4. Evaluate.
    const tEval = performance.now();
    const scenePalette = SCENE_PALETTE.slice(0, config.numClasses) as Rgb[];
    const sceneToMap = {
      mt: segScores(mtMapClasses, segTest.classes, config.numClasses),
      baseline: segScores(baseMapClasses, segTest.classes, config.numClasses),
      allBackground: segScores(new Uint8Array(segTest.classes.length), segTest.classes, config.numClasses),
    };
    const mapToScene = { mt: segScores(nearestColourClasses(mtScene, n, s, scenePalette), segTest.classes, config.numClasses) };
    let extractor: FmnistFeatureExtractor | undefined;
    try {
      extractor = await fmnistFeatures();
    } catch (e) {
      warnings.push(`feature network unavailable: ${(e as Error).message}`);
    }
    const nightToDay = {} as RunSummary['nightToDay'];
    try {
      const real = extractor ? await featuresOf(extractor, dayTest.day, n, s, 3) : undefined;
      for (const [key, images] of [['mt', mtDayImages], ['baseline', baseDayImages], ['night', dayTest.night], ['real', dayTest.day]] as const) {
        nightToDay[key] = await dayScores(images, dayTest, scenePalette, extractor, real, warnings);
      }
    } finally {
      extractor?.dispose();
    }
    const evalSeconds = (performance.now() - tEval) / 1000;

    const summary: RunSummary = {
      data: { seg: segTrain.name, day: dayTrain.name, trainScenes: config.trainScenes, testScenes: n, size: s, numClasses: config.numClasses },
      backend: options.backend,
      machine: machineDescription(),
      parameters,
      lambdaT,
      lambdaMax,
      train,
      sceneToMap,
      mapToScene,
      nightToDay,
      seconds: { total: (performance.now() - start) / 1000, train: trainSeconds, generate: genSeconds, evaluate: evalSeconds },
      warnings,
    };
    await writeJsonAtomic(join(out, 'metrics.json'), summary);
    await writeFileAtomic(join(out, 'report.md'), renderReport(config, summary));
    log(`wrote ${join(out, 'report.md')} (${summary.seconds.total.toFixed(0)} s in all)`);
    return summary;
  } finally {
    for (const b of Object.values(built)) b.model.dispose();
  }
}

/** The (z_0, other modality) training arrays of a model and how many examples they hold. */
function trainArrays(id: ModelId, seg: ScenePairs, day: DayNightSet): [Float32Array, Float32Array, number] {
  const spec = MODEL_SPECS[id];
  const pick = (name: string): Float32Array => {
    if (name === 'scene') return seg.scene;
    if (name === 'map') return seg.map;
    if (name === 'day') return day.day;
    return day.night;
  };
  return [pick(spec.z0), pick(spec.modality), spec.z0 === 'day' ? day.n : seg.n];
}

/** Values clipped to [-1, 1] (a head's output is not clipped by the sampler). */
function clip(data: Float32Array): Float32Array {
  return data.map((v) => Math.min(1, Math.max(-1, v)));
}

/** Class maps painted with the label palette, in [-1, 1] (the decoded map, for the grids). */
function labelImages(classes: Uint8Array, n: number, size: number): Float32Array {
  const out = new Float32Array(n * size * size * 3);
  toSigned(paintLabels(classes), out, 0);
  return out;
}

export function segScores(predicted: Uint8Array, target: Uint8Array, numClasses: number): SegmentationScores {
  const m = segmentationMetrics(predicted, target, numClasses);
  return { pixelAccuracy: m.pixelAccuracy, classAccuracy: m.meanClassAccuracy, classIoU: m.meanIoU, perClassAccuracy: Array.from(m.classAccuracy), perClassIoU: Array.from(m.iou) };
}

async function dayScores(
  images: Float32Array,
  truth: DayNightSet,
  palette: Rgb[],
  extractor: FmnistFeatureExtractor | undefined,
  real: FeatureSet | undefined,
  warnings: string[],
): Promise<DayScores> {
  const { n, size } = truth;
  let features: DayScores['features'];
  if (extractor && real) {
    // IS splits of ~20+ images each, at most the usual 10.
    const splits = Math.min(10, Math.max(1, Math.floor(n / 20)));
    const m = generationMetrics(real, await featuresOf(extractor, images, n, size, 3), { inceptionScore: { splits } });
    features = Object.fromEntries(m.all.map((r) => [r.label, r.value]));
  } else {
    features = { skipped: warnings.find((w) => w.startsWith('feature network')) ?? 'feature network unavailable' };
  }
  const colour = segmentationMetrics(nearestColourClasses(images, n, size, palette), truth.classes, truth.numClasses);
  return { features, rms: mean(rmsDistances(images, truth.day, n)), colourAccuracy: colour.pixelAccuracy };
}
