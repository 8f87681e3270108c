/**
 * `pnpm bench:conv [backend] [batch] [reps] [tilings]`: the conv2d gradients on one backend, tfjs's
 * own kernels (where they exist) against the ops-based forms in src/kernels/conv2dBackprop.ts, on
 * refUNet's 3x3 'same' convs; on webgpu also the WGSL GEMMs (forward, stride-1 input gradient,
 * filter gradient) under each tiling in `tilings` (comma-separated; default: every candidate in
 * GEMM_TILING_CANDIDATES), then a table of TFLOP/s per tiling and layer. This is the measurement
 * behind which kernels `registerTrainingKernels` installs. Timing queues `reps` runs and reads back one scalar
 * (PLATFORM.md: never download to time), after up to 3 untimed runs queued the same way. On a
 * GPU, `reps` 20 or more.
 */
import * as tf from '@tensorflow/tfjs';
import {
  conv2dBackpropFilterViaConv,
  conv2dBackpropFilterViaMatMul,
  conv2dBackpropInputViaConv,
} from '../src/kernels/conv2dBackprop.js';
import { conv2dBackpropFilterWgsl } from '../src/kernels/conv2dFilterGradWgsl.js';
import { conv2dBackpropInputWgsl, conv2dWgsl, conv2dWgslGeometry } from '../src/kernels/conv2dWgsl.js';
import { GEMM_TILING_CANDIDATES, parseGemmTiling } from '../src/kernels/gemmTiling.js';
import type { WebgpuBackendLike } from '../src/kernels/wgslProgram.js';
import { unregisterTrainingKernels } from '../src/kernels/register.js';
import { releaseBackend, selectBackend, type BackendName } from '../src/selectBackend.js';

const backend = (process.argv[2] ?? 'wasm') as BackendName;
const batch = Number(process.argv[3] ?? (backend === 'cpu' ? 4 : 32));
const SHAPES = [
  { label: '32x32 3->64 s1 (input conv)', hw: 32, ci: 3, co: 64, stride: 1 },
  { label: '32x32 64->3 s1 (output conv)', hw: 32, ci: 64, co: 3, stride: 1 },
  { label: '32x32 64->64 s1', hw: 32, ci: 64, co: 64, stride: 1 },
  { label: '32x32 192->64 s1', hw: 32, ci: 192, co: 64, stride: 1 },
  { label: '32x32 64->64 s2', hw: 32, ci: 64, co: 64, stride: 2 },
  { label: '16x16 128->128 s1', hw: 16, ci: 128, co: 128, stride: 1 },
  { label: '8x8 128->128 s1', hw: 8, ci: 128, co: 128, stride: 1 },
];

/**
 * Untimed runs of each form before it is timed, queued as the timed ones are. With a single
 * warm-up call the first tiling timed of a form read far below the others on some layers (H100:
 * the filter gradient under 64x64/4x4/k16 at 0.63 TFLOP/s on 32x32 64->64 stride 2, against 10.7
 * with +p; with these runs both read 11-13). At most `reps`, so cpu's single timed run stays short.
 *
 * Not fixed by this: in the first run on a freshly started H100 every form of the first layer
 * with WGSL forms (32x32 64->64) read 4-6 TFLOP/s forward (21-23 in later runs on the same
 * machine, and 27 inside a training step), recovering over that layer's forms. The later runs
 * (one of them after 2 s of matMuls) showed no such dip, and the SM clock was at its maximum
 * throughout; the cause is not known. Read that layer's numbers from a second run.
 */
const WARMUP_RUNS = 3;

/** Queues `runs` calls of `fn`, then reads back one scalar that depends on all of them. */
async function runQueued(fn: () => tf.Tensor, runs: number): Promise<void> {
  // One element of each output joins the read-back: a full tf.sum of a [256,32,32,64] output
  // costs more than the conv on webgpu (its reduction to a scalar runs on one workgroup).
  const first = (t: tf.Tensor) => tf.slice(t.reshape([-1]), 0, 1);
  let acc: tf.Tensor = tf.zeros([1]);
  for (let i = 0; i < runs; i++) {
    const out = fn();
    const next = tf.tidy(() => tf.add(acc, first(out)));
    tf.dispose([out, acc]);
    acc = next;
  }
  await acc.data();
  acc.dispose();
}

async function msPerRun(fn: () => tf.Tensor, reps: number): Promise<number> {
  await runQueued(fn, Math.min(WARMUP_RUNS, reps));
  const start = performance.now();
  await runQueued(fn, reps);
  return (performance.now() - start) / reps;
}

await selectBackend(backend, { webgpu: { allowSoftwareAdapter: true } });
// The built-ins are what is being compared against: take the replacements out.
unregisterTrainingKernels(backend);
const reps = Number(process.argv[4] ?? (backend === 'cpu' ? 1 : 3));
const tilingNames = backend === 'webgpu' ? (process.argv[5]?.split(',') ?? [...GEMM_TILING_CANDIDATES]) : [];
const tilings = tilingNames.map((name) => parseGemmTiling(name, 'tilings'));
// TFLOP/s per tiling and form, one column per layer, for the table at the end.
const table = new Map<string, string[]>();
console.log(`backend ${backend}, batch ${batch}: ms per call (GFLOP/s), 3x3 'same'`);
for (const s of SHAPES) {
  const x = tf.randomUniform([batch, s.hw, s.hw, s.ci], -1, 1, 'float32', 1) as tf.Tensor4D;
  const w = tf.randomUniform([3, 3, s.ci, s.co], -0.1, 0.1, 'float32', 2) as tf.Tensor4D;
  const o = s.hw / s.stride;
  const dy = tf.randomUniform([batch, o, o, s.co], -1, 1, 'float32', 3) as tf.Tensor4D;
  const gflop = (2 * batch * o * o * 9 * s.ci * s.co) / 1e9;
  const filterShape: [number, number, number, number] = [3, 3, s.ci, s.co];
  const attrs = { strides: s.stride, pad: 'same', dataFormat: 'NHWC' } as const;
  const candidates: Array<[string, () => tf.Tensor]> = [
    ['conv2d (forward)', () => tf.conv2d(x, w, s.stride, 'same')],
    ...tilings.flatMap((tiling, i) =>
      conv2dWgslGeometry(x, w, attrs, tiling) !== undefined
        ? ([[`conv2d wgsl ${tilingNames[i]}`, () => tf.engine().makeTensorFromTensorInfo(conv2dWgsl(tf.backend() as unknown as WebgpuBackendLike, x, w, attrs, undefined, undefined, tiling))]] as Array<[string, () => tf.Tensor]>)
        : [],
    ),
    ...tilings.flatMap((tiling, i) => {
      const dx = () => conv2dBackpropInputWgsl(tf.backend() as unknown as WebgpuBackendLike, dy, w, x.shape, attrs, tiling);
      const probe = s.stride === 1 ? dx() : undefined;
      if (probe === undefined) return [];
      (tf.backend() as unknown as WebgpuBackendLike).disposeData(probe.dataId);
      return [[`dx wgsl ${tilingNames[i]}`, () => tf.engine().makeTensorFromTensorInfo(dx()!)]] as Array<[string, () => tf.Tensor]>;
    }),
    ['dW built-in', () => tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, { ...attrs, filterShape }) as tf.Tensor],
    ['dW viaConv', () => conv2dBackpropFilterViaConv({ x, dy, filterShape, strides: s.stride, pad: 'same' })],
    ['dW im2col', () => conv2dBackpropFilterViaMatMul({ x, dy, filterShape, strides: s.stride, pad: 'same' }, { splits: 1 })],
    ['dW im2col split-K', () => conv2dBackpropFilterViaMatMul({ x, dy, filterShape, strides: s.stride, pad: 'same' })],
    ...tilings.map((tiling, i) => [`dW wgsl ${tilingNames[i]}`, () => conv2dBackpropFilterWgsl({ x, dy, filterShape, strides: s.stride, pad: 'same' }, tiling)] as [string, () => tf.Tensor]),
    ['dx built-in', () => tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter: w }, { ...attrs, inputShape: x.shape }) as tf.Tensor],
    ['dx viaConv', () => conv2dBackpropInputViaConv({ dy, filter: w, inputShape: x.shape, strides: s.stride, pad: 'same' })],
    ['dx viaConv padded', () => conv2dBackpropInputViaConv({ dy, filter: w, inputShape: x.shape, strides: s.stride, pad: 'same' }, { convPads: true })],
  ];
  const cells: string[] = [];
  for (const [label, fn] of candidates) {
    try {
      const ms = await msPerRun(fn, reps);
      cells.push(`${label} ${ms.toFixed(2)} ms (${(gflop / (ms / 1000)).toFixed(2)})`);
      if (label.includes(' wgsl ')) table.set(label, [...(table.get(label) ?? []), `${s.label}: ${(gflop / ms).toPrecision(3)}`]);
    } catch (err) {
      cells.push(`${label} n/a (${(err as Error).message.slice(0, 50)})`);
    }
  }
  console.log(`${s.label} [${gflop.toFixed(2)} GFLOP]:\n  ${cells.join('\n  ')}`);
  tf.dispose([x, w, dy]);
}
if (table.size > 0) {
  console.log('\nTFLOP/s per WGSL form and tiling (layer: TFLOP/s):');
  for (const [label, row] of table) console.log(`  ${label.padEnd(32)} ${row.join(' | ')}`);
}
await releaseBackend();
process.exit(0);
