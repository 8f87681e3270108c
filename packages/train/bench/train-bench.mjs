// Training throughput of the example configs:
//   node bench/train-bench.mjs [--backends cpu,wasm] [--steps 20] [--configs mixture,tiny-unet] [--batch N]
//                              [--kernels] [--profile] [--baseline] [--layout flat|per-variable]
//                              [--tf-flag NAME=VALUE]... [--dawn-toggles a,b] [--filter-grad im2col|wgsl] [--reductions tfjs|wgsl] [--group-norm tfjs|wgsl]
//                              [--conv tfjs|wgsl] [--silu tfjs|wgsl] [--noise host|wgsl] [--flat-copies copies|programs]
//                              [--conv-tiles TILING] [--dx-tiles TILING] [--dw-tiles TILING] [--matmul tfjs|wgsl] [--gn-silu fused|separate] [--optimizer ops|wgsl]
//                              [--overlap auto|on|off] [--record] [--traffic] [--step-graph auto|off]
// Builds each config's experiment, runs a warm-up step, then times `--steps` steps of
// Trainer.train (one loss read-back per step, as in real training). Timing lives here, never in
// a test.
//   --kernels   a table of the kernels one step runs (count per kernel).
//   --traffic   bytes each GPU program class reads and writes in one step (webgpu; the
//               memory-bound programs' GPU time follows it; runs on lavapipe too).
//   --profile   GPU time per kernel from WebGPU timestamps (Dawn's allow_unsafe_apis), top-level
//               kernels only, so a kernel made of other kernels is not counted twice.
//   --baseline  tfjs's own conv-gradient kernels, reductions and GroupNorm ops and the per-variable
//               Adam/EMA layout: what the project's WebGPU kernel and layout changes are measured
//               against. The correctness replacements stay (without the AddN fix WebGPU drops
//               whole command buffers that fail validation, and a step looks faster than it is).
//   --tf-flag   a tfjs environment flag, e.g. WEBGPU_DEFERRED_SUBMIT_BATCH_SIZE=64 (repeatable).
//   --dawn-toggles  Dawn device toggles, e.g. skip_validation,disable_robustness.
//   --filter-grad   selectBackend's webgpu.filterGradient option (im2col + matMul, or the WGSL GEMM).
//   --reductions    selectBackend's webgpu.reductions option (tfjs's Sum, or leading-axes sums in WGSL).
//   --group-norm    selectBackend's webgpu.groupNorm option (tfjs ops, or the fused GroupNorm kernels).
//   --conv          selectBackend's webgpu.conv2d option (tfjs's Conv2D, or the WGSL implicit GEMM).
//   --silu          selectBackend's webgpu.silu option (tfjs ops, or the fused SiLU kernels).
//   --flat-copies   selectBackend's webgpu.flatCopies option (the optimizer's flatten and write-back as buffer copies, or tfjs programs).
//   --matmul        selectBackend's webgpu.matMul option (long-K a^T b by tfjs's kernel, or the split-K GEMM).
//   --optimizer     selectBackend's webgpu.optimizer option (the flat Adam and EMA as tfjs ops, or one WGSL program each).
//   --gn-silu       selectBackend's webgpu.groupNormSilu option (GroupNorm + SiLU as one kernel and gradient kernel, or apart).
//   --conv-tiles / --dx-tiles / --dw-tiles  selectBackend's webgpu.gemmTiles.conv / .inputGradient / .filterGradient
//                   (e.g. 128x64/8x4/k16+p; the forward conv / stride-1 input gradient / filter gradient).
//   --overlap       Trainer.train's overlapSteps: step k + 1 queued before step k is read back; auto
//                   (default, the trainer's): replayed steps only; on: every step but a recorded one.
//   --step-graph    the Trainer's stepGraph option (default auto: on webgpu, steps 3+ are replayed from a
//                   recorded StepGraph). The kernel counts, --traffic and --profile need a step run
//                   through tfjs, so they force 'off'.
// Each row also gives the process's CPU time per step beside the wall time: a step whose CPU time
// is close to its wall time is bound by per-kernel dispatch, not by the GPU.
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { registerTrainingKernels, releaseBackend, selectBackend } from '@mtd/backend';
import { buildExperiment, Trainer, validateConfig } from '@mtd/train';

const { values } = parseArgs({
  options: {
    backends: { type: 'string', default: 'cpu,wasm' },
    steps: { type: 'string', default: '20' },
    configs: { type: 'string', default: 'mixture,tiny-unet' },
    kernels: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    baseline: { type: 'boolean', default: false },
    layout: { type: 'string' },
    batch: { type: 'string' },
    'tf-flag': { type: 'string', multiple: true, default: [] },
    'dawn-toggles': { type: 'string' },
    'filter-grad': { type: 'string' },
    reductions: { type: 'string' },
    'group-norm': { type: 'string' },
    conv: { type: 'string' },
    silu: { type: 'string' },
    noise: { type: 'string' },
    'flat-copies': { type: 'string' },
    'conv-tiles': { type: 'string' },
    'dx-tiles': { type: 'string' },
    matmul: { type: 'string' },
    'gn-silu': { type: 'string' },
    optimizer: { type: 'string' },
    'dw-tiles': { type: 'string' },
    overlap: { type: 'string', default: 'auto' },
    record: { type: 'boolean', default: false },
    traffic: { type: 'boolean', default: false },
    'step-graph': { type: 'string', default: 'auto' },
  },
});
const overlapSteps = { auto: 'auto', on: true, off: false }[values.overlap];
if (overlapSteps === undefined) throw new Error(`train-bench: --overlap must be auto, on or off, got ${values.overlap}`);
const toggles = [...(values.profile ? ['allow_unsafe_apis'] : []), ...(values['dawn-toggles']?.split(',').filter(Boolean) ?? [])];
const setFlags = () => {
  for (const flag of values['tf-flag']) {
    const [name, raw] = flag.split('=');
    tf.env().set(name, raw === 'true' ? true : raw === 'false' ? false : Number(raw));
  }
};
const here = new URL('.', import.meta.url);
const configs = {
  mixture: async () => JSON.parse(await readFile(new URL('../configs/mixture.json', here), 'utf8')),
  'tiny-unet': async () => ({
    data: { dataset: 'shapes', batchSize: 8, size: 16, count: 64, maskK: 2 },
    schedule: { T: 100 },
    model: { type: 'unet', baseChannels: 16, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [8], groups: 8 },
    modalities: { masked: { weight: 0.2 } },
    train: { steps: 1, lr: 1e-4, clipGradNorm: 1 },
  }),
  // refUNet's architecture (packages/unet, 6.2M parameters; the PyTorch twin's) trained single-task
  // through the Trainer: what issue 7 measures on a GPU.
  'ref-unet': async () => ({
    data: { dataset: 'shapes', batchSize: 8, size: 32, count: 64 },
    schedule: { T: 1000 },
    model: { type: 'unet', baseChannels: 64, channelMults: [1, 2, 2], numResBlocks: 2, attentionResolutions: [8], numHeads: 1, groups: 8, timeEmbedDim: 256 },
    modalities: {},
    train: { steps: 1, lr: 2e-4, clipGradNorm: 1 },
  }),
  'fashion-label': async () => JSON.parse(await readFile(new URL('../configs/fashion-mnist-label.json', here), 'utf8')),
};

/**
 * Records the engine's kernel depth beside every kernel `tf.profile` logs. A kernel registered as
 * tfjs ops (the im2col filter gradient, the chunked AddN) logs its inner kernels first, at depth
 * 1, and then itself at depth 0 with their GPU time included.
 */
function tagKernelDepth() {
  const engine = tf.engine();
  // tf.profile resets `activeProfile.kernels` to a fresh array at its start: wrap each one's push.
  const profile = engine.state.activeProfile;
  let kernels = profile.kernels;
  Object.defineProperty(profile, 'kernels', {
    configurable: true,
    enumerable: true,
    get: () => kernels,
    set: (value) => {
      kernels = value;
      kernels.push = function push(...records) {
        for (const r of records) r.depth = engine.state.kernelDepth;
        return Array.prototype.push.apply(this, records);
      };
    },
  });
}

function printProfile(info) {
  // WebGPU times a kernel's own programs only (a nested timer's queries are left out of the
  // outer one), so inner kernels carry the time: fold it into their top-level kernel, which the
  // engine logs after them.
  const top = [];
  let nestedMs = 0;
  for (const k of info.kernels) {
    const ms = Number(k.kernelTimeMs) || 0;
    if ((k.depth ?? 0) > 0) nestedMs += ms;
    else {
      top.push({ ...k, ms: ms + nestedMs });
      nestedMs = 0;
    }
  }
  const gpuMs = top.reduce((s, k) => s + k.ms, 0);
  console.log(`         GPU time per step ${gpuMs.toFixed(1)} ms over ${info.kernels.length} kernels, ${top.length} top-level (timestamps, one compute pass per kernel)`);
  const byName = new Map();
  const byShape = new Map();
  for (const k of top) {
    const ms = k.ms;
    const a = byName.get(k.name) ?? { count: 0, ms: 0 };
    byName.set(k.name, { count: a.count + 1, ms: a.ms + ms });
    const key = `${k.name} ${k.inputShapes.map((s) => (s ? `[${s}]` : '-')).join(' ')}`;
    const b = byShape.get(key) ?? { count: 0, ms: 0 };
    byShape.set(key, { count: b.count + 1, ms: b.ms + ms });
  }
  console.log(`         ${'kernel'.padEnd(28)} ${'count'.padStart(5)} ${'GPU ms'.padStart(8)} ${'share'.padStart(6)}`);
  for (const [name, { count, ms }] of [...byName].sort((a, b) => b[1].ms - a[1].ms).slice(0, 14)) {
    console.log(`         ${name.padEnd(28)} ${String(count).padStart(5)} ${ms.toFixed(2).padStart(8)} ${((100 * ms) / (gpuMs || 1)).toFixed(1).padStart(5)}%`);
  }
  console.log('         slowest kernel + input shapes:');
  for (const [key, { count, ms }] of [...byShape].sort((a, b) => b[1].ms - a[1].ms).slice(0, 10)) {
    console.log(`         ${ms.toFixed(2).padStart(8)} ms  x${String(count).padEnd(3)} ${key.slice(0, 110)}`);
  }
}

/**
 * Host time to record a step: trainStep() runs the step's ops synchronously up to its read-back,
 * so the time until it returns its promise is the recording. V8's sampler runs only then.
 */
/** CPU time of the main thread alone, in ms (Linux; `undefined` elsewhere): robust to other load. */
function mainThreadCpuMs() {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in 100 Hz ticks
  } catch {
    return undefined;
  }
}

async function recordTime(trainer, name, B, steps) {
  // Timed without the sampler (it slows every function a little), then profiled over 2 more steps.
  let total = 0;
  let cpu = 0;
  for (let i = 0; i < steps; i++) {
    const c0 = mainThreadCpuMs();
    const t0 = performance.now();
    const pending = trainer.trainStep();
    total += performance.now() - t0;
    cpu += mainThreadCpuMs() - c0;
    await pending;
  }
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  const self = new Map();
  const profiled = 2;
  for (let i = 0; i < profiled; i++) {
    await session.post('Profiler.start');
    const pending = trainer.trainStep();
    const { profile } = await session.post('Profiler.stop');
    await pending;
    const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
    const parent = new Map();
    for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n);
    profile.samples.forEach((id, j) => {
      // Samples inside the inspector's own Profiler.stop are not the step's.
      if (parent.get(id)?.callFrame.url === 'node:inspector') return;
      const f = nodes.get(id).callFrame;
      const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-1)[0]}:${f.lineNumber + 1}`;
      self.set(key, (self.get(key) ?? 0) + (profile.timeDeltas[j] ?? 0));
    });
  }
  session.disconnect();
  const sampled = [...self.values()].reduce((a, b) => a + b, 0);
  console.log(`${tf.getBackend().padEnd(6)} ${name.padEnd(14)} batch ${String(B).padStart(3)}  record ${(total / steps).toFixed(1)} ms/step (host, ${steps} steps), main thread CPU ${Number.isNaN(cpu) ? '-' : (cpu / steps).toFixed(0)} ms/step`);
  console.log(`         ${'self time while recording (2 steps sampled)'.padEnd(60)} ${'ms/step'.padStart(8)} ${'share'.padStart(6)}`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.RECORD_ROWS ?? 25))) {
    console.log(`         ${key.slice(0, 60).padEnd(60)} ${(us / 1000 / profiled).toFixed(2).padStart(8)} ${((100 * us) / sampled).toFixed(1).padStart(5)}%`);
  }
}

const steps = Number(values.steps);
for (const backendName of values.backends.split(',')) {
  await selectBackend(backendName, {
    registerKernels: !values.baseline,
    webgpu: {
      // The baseline: tfjs's own reductions and GroupNorm ops too.
      ...(values.baseline ? { reductions: 'tfjs', groupNorm: 'tfjs', conv2d: 'tfjs', silu: 'tfjs', noise: 'host', flatCopies: 'programs', matMul: 'tfjs', groupNormSilu: 'separate', optimizer: 'ops' } : {}),
      ...(toggles.length > 0 ? { dawnFlags: [`enable-dawn-features=${toggles.join(',')}`] } : {}),
      ...(values['filter-grad'] ? { filterGradient: values['filter-grad'] } : {}),
      ...(values.reductions ? { reductions: values.reductions } : {}),
      ...(values['group-norm'] ? { groupNorm: values['group-norm'] } : {}),
      ...(values.conv ? { conv2d: values.conv } : {}),
      ...(values.silu ? { silu: values.silu } : {}),
      ...(values.noise ? { noise: values.noise } : {}),
      ...(values['flat-copies'] ? { flatCopies: values['flat-copies'] } : {}),
      ...(values.matmul ? { matMul: values.matmul } : {}),
      ...(values['gn-silu'] ? { groupNormSilu: values['gn-silu'] } : {}),
      ...(values.optimizer ? { optimizer: values.optimizer } : {}),
      gemmTiles: {
        ...(values['conv-tiles'] ? { conv: values['conv-tiles'] } : {}),
        ...(values['dx-tiles'] ? { inputGradient: values['dx-tiles'] } : {}),
        ...(values['dw-tiles'] ? { filterGradient: values['dw-tiles'] } : {}),
      },
    },
  });
  setFlags();
  if (values.baseline) {
    // tfjs's conv gradients back (they were registered before ours), every other replacement on.
    const builtins = [tf.Conv2DBackpropFilter, tf.Conv2DBackpropInput].map((name) => tf.getKernel(name, backendName)).filter(Boolean);
    registerTrainingKernels(backendName);
    for (const k of builtins) {
      tf.unregisterKernel(k.kernelName, backendName);
      tf.registerKernel(k);
    }
  }
  if (values.profile) tagKernelDepth();
  for (const name of values.configs.split(',')) {
    const raw = await configs[name]();
    // --batch N overrides every config's batch size (a GPU wants 64-256).
    // A synthetic dataset grows to hold one batch.
    if (values.batch) {
      const batchSize = Number(values.batch);
      raw.data = { ...raw.data, batchSize, ...(raw.data.count !== undefined ? { count: Math.max(raw.data.count, batchSize) } : {}) };
    }
    const config = validateConfig(raw);
    const exp = await buildExperiment(config);
    const options = exp.trainerOptions(0);
    // --layout flat|per-variable overrides the backend's default Adam/EMA layout (same results, other kernel counts).
    const layoutName = values.layout ?? (values.baseline ? 'per-variable' : undefined);
    const layout = layoutName ? { layout: layoutName } : {};
    // Per-kernel counts and timings need the step's kernels to run (not a replay).
    const stepGraph = values.kernels || values.profile || values.traffic ? 'off' : values['step-graph'];
    const trainer = new Trainer({
      ...options,
      stepGraph,
      optimizer: { ...options.optimizer, ...layout },
      ...(options.ema ? { ema: { ...options.ema, ...layout } } : {}),
      data: exp.trainingData(0),
    });
    const c0 = performance.now();
    await trainer.trainStep();
    const firstStep = (performance.now() - c0) / 1000;
    await trainer.trainStep();
    // With a step graph, the warm-up also records (steps 2 and 3 make the graph; a few more if
    // they differ), so that every timed step is a replay.
    for (let i = 0; i < 4 && trainer.graphStatus.state === 'recording'; i++) await trainer.trainStep();
    if (values.record) {
      await recordTime(trainer, name, config.data.batchSize, steps);
      trainer.dispose();
      exp.dispose();
      continue;
    }
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // Trainer.train, as a user runs it (--overlap: step k + 1 queued while step k runs).
    await trainer.train({ steps: trainer.step + steps, progress: 'off', overlapSteps });
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
    const B = config.data.batchSize;
    // Kernels per step: what a GPU backend pays per-dispatch overhead for (issue 7). Reshapes move
    // no data, so they are counted apart.
    // GPU programs per step (webgpu): what the host pays a bind group, uniforms and a dispatch for.
    const programs = new Map();
    // --traffic: bytes each program class reads (its inputs, whole) and writes (its output).
    const bytes = new Map();
    const gpu = tf.backend();
    const runProgram = gpu.runWebGPUProgram;
    if (runProgram) {
      const elements = (shape) => shape.reduce((a, b) => a * b, 1);
      gpu.runWebGPUProgram = function (program, inputs, ...rest) {
        const key = program.constructor.name;
        programs.set(key, (programs.get(key) ?? 0) + 1);
        bytes.set(key, (bytes.get(key) ?? 0) + 4 * (elements(program.outputShape) + inputs.reduce((sum, t) => sum + elements(t.shape), 0)));
        return runProgram.call(this, program, inputs, ...rest);
      };
    }
    const graph = trainer.graphStatus;
    const info = await tf.profile(() => trainer.trainStep());
    if (runProgram) gpu.runWebGPUProgram = runProgram;
    const programCount = [...programs.values()].reduce((a, b) => a + b, 0);
    const computing = info.kernels.filter((k) => k.name !== 'Reshape' && (k.depth ?? 0) === 0);
    const tag = [values.baseline ? ' [baseline]' : '', values['filter-grad'] ? ` [dW ${values['filter-grad']}]` : '', values.reductions ? ` [sums ${values.reductions}]` : '', values['group-norm'] ? ` [GroupNorm ${values['group-norm']}]` : '', values.conv ? ` [conv ${values.conv}]` : '', values.silu ? ` [SiLU ${values.silu}]` : '', values.noise ? ` [noise ${values.noise}]` : '', values['flat-copies'] ? ` [flat ${values['flat-copies']}]` : '', values.matmul ? ` [matMul ${values.matmul}]` : '', values['gn-silu'] ? ` [GN+SiLU ${values['gn-silu']}]` : '', values.optimizer ? ` [optimizer ${values.optimizer}]` : '', values['conv-tiles'] ? ` [conv tiles ${values['conv-tiles']}]` : '', values['dx-tiles'] ? ` [dx tiles ${values['dx-tiles']}]` : '', values['dw-tiles'] ? ` [dW tiles ${values['dw-tiles']}]` : '', values.overlap !== 'auto' ? ` [overlap ${values.overlap}]` : '', stepGraph === 'off' ? ' [graph off]' : '', ...values['tf-flag'].map((f) => ` [${f}]`), values['dawn-toggles'] ? ` [${values['dawn-toggles']}]` : ''].join('');
    console.log(`${backendName.padEnd(6)} ${(name + tag).padEnd(14)} ${String(exp.model.parameterCount()).padStart(9)} params  batch ${String(B).padStart(3)}  ${(steps / s).toFixed(2).padStart(7)} steps/s  ${((steps * B) / s).toFixed(1).padStart(8)} img/s  ${((1000 * s) / steps).toFixed(1)} ms/step wall, ${cpuMs.toFixed(1)} ms CPU  ${graph.state === 'replaying' ? `step replayed from its graph, ${graph.commands} GPU commands (--step-graph off counts kernels)` : `${String(computing.length).padStart(5)} kernels/step (+${info.kernels.length - computing.length} reshapes/nested)${runProgram ? `, ${programCount} GPU programs` : ''}`}${graph.state === 'unavailable' ? ` [no step graph: ${graph.reason}]` : ''}  first step ${firstStep.toFixed(1)} s  (${tf.memory().numTensors} tensors)`);
    if (values.kernels) {
      const byName = new Map();
      for (const k of computing) byName.set(k.name, (byName.get(k.name) ?? 0) + 1);
      for (const [kernel, count] of [...byName].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.KERNEL_ROWS ?? 12))) console.log(`         ${kernel.padEnd(28)} ${String(count).padStart(5)}`);
      if (runProgram) {
        console.log('         GPU programs:');
        for (const [program, count] of [...programs].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.KERNEL_ROWS ?? 12))) console.log(`         ${program.padEnd(28)} ${String(count).padStart(5)}`);
      }
    }
    if (values.traffic && runProgram) {
      // Upper bounds on DRAM traffic (a program need not read all of an input, caches help),
      // what the memory-bound programs' GPU time scales with; float32 everywhere.
      const total = [...bytes.values()].reduce((a, b) => a + b, 0);
      console.log(`         memory traffic: ${(total / 1e6).toFixed(1)} MB a step (inputs read whole + output written), by program:`);
      for (const [program, b] of [...bytes].sort((x, y) => y[1] - x[1]).slice(0, Number(process.env.KERNEL_ROWS ?? 12))) {
        console.log(`         ${program.padEnd(28)} ${String(programs.get(program)).padStart(5)} ${(b / 1e6).toFixed(1).padStart(10)} MB`);
      }
    }
    if (values.profile) printProfile(info);
    trainer.dispose();
    exp.dispose();
  }
}
await releaseBackend();
process.exit(0);
