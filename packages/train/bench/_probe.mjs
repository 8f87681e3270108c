import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '@mtd/backend';
import { buildExperiment, Trainer, validateConfig } from '@mtd/train';
await selectBackend('webgpu');
const B = Number(process.argv[2] ?? 4);
const raw = {
    data: { dataset: 'shapes', batchSize: B, size: 32, count: 64 },
    schedule: { T: 1000 },
    model: { type: 'unet', baseChannels: 64, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8], numHeads: 1, groups: 8, timeEmbedDim: 256 },
    modalities: {},
    train: { steps: 1, lr: 2e-4, clipGradNorm: 1 },
};
const exp = await buildExperiment(validateConfig(raw));
const o = exp.trainerOptions(0);
const trainer = new Trainer({ ...o, data: exp.trainingData(0) });
console.log("built"); await trainer.trainStep(); console.log("s1"); await trainer.trainStep(); console.log("s2");
const gpu = tf.backend(); const run = gpu.runWebGPUProgram;
const log = [];
gpu.runWebGPUProgram = function (p, inputs, dtype, ...rest) {
  const size = (s) => s.reduce((a, b) => a * b, 1);
  log.push({ name: p.constructor.name, out: p.outputShape.join('x'), outN: size(p.outputShape), inN: inputs.map((i) => size(i.shape)), ins: inputs.map((i) => i.shape.join('x')).join(',') , key: p.shaderKey});
  return run.call(this, p, inputs, dtype, ...rest);
};
await trainer.trainStep();
gpu.runWebGPUProgram = run;
const by = new Map();
for (const l of log) { const k = l.name; const e = by.get(k) ?? { n: 0, bytes: 0 }; e.n++; e.bytes += 4 * (l.outN + l.inN.reduce((a, b) => a + b, 0)); by.set(k, e); }
let tot = 0; for (const [, e] of by) tot += e.bytes;
for (const [k, e] of [...by].sort((a, b) => b[1].bytes - a[1].bytes)) console.log(k.padEnd(30), String(e.n).padStart(5), (e.bytes / 1e6).toFixed(2).padStart(10), 'MB');
console.log('total', (tot / 1e6).toFixed(1), 'MB', log.length, 'programs');
if (process.env.DUMP) for (const l of log) if (l.name.match(new RegExp(process.env.DUMP))) console.log(l.name, l.key, '<-', l.ins, '->', l.out);
