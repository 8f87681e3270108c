import * as tf from '@tensorflow/tfjs';
import { releaseBackend, selectBackend } from '@mtd/backend';
import { buildExperiment, Trainer, validateConfig } from '@mtd/train';
await selectBackend('webgpu');
const config = validateConfig({
    data: { dataset: 'shapes', batchSize: 2, size: 32, count: 64 },
    schedule: { T: 1000 },
    model: { type: 'unet', baseChannels: 64, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8], numHeads: 1, groups: 8, timeEmbedDim: 256 },
    modalities: {},
    train: { steps: 1, lr: 2e-4, clipGradNorm: 1 },
  });
const exp = await buildExperiment(config);
const trainer = new Trainer({ ...exp.trainerOptions(0), data: exp.trainingData(0) });
await trainer.trainStep(); await trainer.trainStep();
const be = tf.backend();
const want = new Set(process.argv.slice(2));
const where = new Map();
const rs = be.recordAndSubmit.bind(be);
be.recordAndSubmit = (...a) => {
  const k = a[0].constructor.name;
  if (want.has(k)) {
    const frames = new Error().stack.split('\n').slice(2).map((l) => l.trim());
    const app = frames.filter((l) => /packages\/(nn|unet|train|losses|backend|heads)\//.test(l)).slice(0, 2).map((l) => l.replace(/.*packages\//, '').replace(/\)$/, '')).join(' < ');
    const tfop = frames.find((l) => /tf-core|tfjs-core/.test(l))?.replace(/^at /, '').split(' ')[0] ?? '';
    const key = `${k} ${a[2].map((t) => `[${t.shape}]`).join('')} ${tfop} ${app}`;
    where.set(key, (where.get(key) ?? 0) + 1);
  }
  return rs(...a);
};
Error.stackTraceLimit = 40;
await trainer.trainStep();
for (const [k, v] of [...where].sort((a, b) => b[1] - a[1]).slice(0, 30)) console.log(String(v).padStart(4), k.slice(0, 230));
trainer.dispose(); exp.dispose(); await releaseBackend(); process.exit(0);
