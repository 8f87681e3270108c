/**
 * `pnpm bench` (after `pnpm build`): training and forward throughput of `refUNet` on every
 * backend this machine offers, beside that backend's matMul GFLOP/s measured in the same run.
 *
 *   node bench/unet-bench.mjs [--backend NAME]... [--steps N] [--warmup N] [--batches 32,256] [--checkpoint auto|on|off|both]
 *
 * --backend   tensorflow | webgpu | wasm | cpu, repeatable or comma-separated. Default: every one
 *             that initialises, except the pure-JS cpu backend and a software WebGPU adapter
 *             (lavapipe), which take minutes per step; name them to run them anyway.
 * --steps     timed training steps and forward passes per batch size (default 3).
 * --warmup    untimed steps first (default 1): shader compilation, allocation.
 * --batches   batch sizes (default 32,256).
 * --checkpoint  gradient checkpointing per block in the training step (`forward({ checkpoint })`):
 *             auto (default) = on for wasm, whose 4 GB heap a plain refUNet step at batch 32
 *             exceeds, off elsewhere; both = one row each.
 *
 * A training step is the PyTorch twin's (`shared/bench/torch_unet.py`): Adam, MSE between the
 * noise and the prediction for `0.7 x + 0.7 n`. Time is taken after reading the loss scalar back,
 * never by downloading a big tensor. A batch that does not fit (wasm has a 4 GB heap) is
 * reported, not fatal.
 */
import * as tf from '@tensorflow/tfjs';
import { measureMatmulGflops, releaseBackend, selectBackend } from '@mtd/backend';
import { noiseLoss } from '@mtd/losses';
import { createUNet, refUNet } from '../dist/index.js';
import os from 'node:os';

function parseArgs(argv) {
  const out = { backends: [], steps: 3, warmup: 1, batches: [32, 256], checkpoint: 'auto' };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new RangeError(`unet-bench: ${arg} needs a value`);
      return v;
    };
    const int = (v, min) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new RangeError(`unet-bench: ${arg} must be an integer >= ${min}, got ${v}`);
      return n;
    };
    if (arg === '--backend' || arg === '--backends') out.backends.push(...value().split(',').filter(Boolean));
    else if (arg === '--steps') out.steps = int(value(), 1);
    else if (arg === '--warmup') out.warmup = int(value(), 0);
    else if (arg === '--batches') out.batches = value().split(',').map((v) => int(v, 1));
    else if (arg === '--checkpoint') {
      out.checkpoint = value();
      if (!['auto', 'on', 'off', 'both'].includes(out.checkpoint)) throw new RangeError(`unet-bench: --checkpoint must be auto, on, off or both, got ${out.checkpoint}`);
    } else if (arg === '--') continue;
    else throw new RangeError(`unet-bench: unknown argument ${arg} (see the header of bench/unet-bench.mjs)`);
  }
  const known = ['tensorflow', 'webgpu', 'wasm', 'cpu'];
  for (const b of out.backends) if (!known.includes(b)) throw new RangeError(`unet-bench: --backend must be one of ${known.join(', ')}, got ${b}`);
  return out;
}

const args = parseArgs(process.argv.slice(2));
const explicit = args.backends.length > 0;
const candidates = explicit ? args.backends : ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const fmt = (x) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

/** Seconds per call of `fn` (async, ends with a scalar read), after `warmup` untimed calls. */
async function timeIt(fn, warmup, steps) {
  for (let i = 0; i < warmup; i++) await fn();
  const start = performance.now();
  for (let i = 0; i < steps; i++) await fn();
  return (performance.now() - start) / 1000 / steps;
}

async function benchBatch(batch, checkpoint) {
  const result = { train: undefined, forward: undefined, error: undefined };
  let unet, opt, x, noise, t, zt;
  try {
    unet = createUNet(refUNet, { seed: 0 });
    opt = tf.train.adam(2e-4);
    [x, noise, t] = tf.tidy(() => [
      tf.randomNormal([batch, 32, 32, 1], 0, 1, 'float32', 1),
      tf.randomNormal([batch, 32, 32, 1], 0, 1, 'float32', 2),
      tf.randomUniform([batch], 0, 1000, 'float32', 3),
    ]);
    zt = tf.tidy(() => tf.add(tf.mul(x, 0.7), tf.mul(noise, 0.7)));
    const train = async () => {
      const loss = opt.minimize(() => noiseLoss(noise, unet.forward({ x: zt, t, checkpoint }).eps), true, unet.variables);
      await loss.data();
      loss.dispose();
    };
    const forward = async () => {
      const s = tf.tidy(() => tf.sum(unet.forward({ x: zt, t }).eps));
      await s.data();
      s.dispose();
    };
    // Forward first: it needs less memory, so a batch too big to train may still report it.
    result.forward = batch / (await timeIt(forward, args.warmup, args.steps));
    result.train = batch / (await timeIt(train, args.warmup, args.steps));
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    result.error = /memory|allocation|Aborted|OOM|RangeError: Array buffer/i.test(msg) ? `out of memory (${msg.slice(0, 80)})` : msg.slice(0, 120);
  } finally {
    // After a wasm abort the heap is gone and so is every tensor on it: clean up what can be.
    try {
      tf.dispose([x, noise, t, zt].filter(Boolean));
      opt?.dispose();
      unet?.dispose();
    } catch {
      result.dead = true;
    }
  }
  if (result.error?.startsWith('out of memory')) result.dead = tf.getBackend() === 'wasm';
  return result;
}

const probe = createUNet(refUNet);
const params = probe.parameterCount();
probe.dispose();
console.log(`refUNet: ${params.toLocaleString('en')} parameters, 32x32x1; tfjs ${tf.version.tfjs}, Node ${process.version}, ${os.cpus().length} CPU cores (${os.cpus()[0]?.model ?? 'unknown'})`);
console.log(`steps ${args.steps}, warmup ${args.warmup}, batches ${args.batches.join(', ')}\n`);

const rows = [];
const notes = [];
for (const name of candidates) {
  let selection;
  try {
    selection = await selectBackend(name);
  } catch (err) {
    notes.push(`${name}: unavailable (${String(err.message).replace(/^selectBackend: backend '\w+' is not available: /, '')})`);
    continue;
  }
  const reason = selection.tried.at(-1).reason;
  if (!explicit && (name === 'cpu' || /software adapter/.test(reason))) {
    notes.push(`${name}: skipped (${reason}; minutes per refUNet step; run it with --backend ${name} --steps 1 --warmup 0 --batches 32)`);
    continue;
  }
  const gflops = await measureMatmulGflops(1024, { repeats: name === 'cpu' ? 1 : 5 });
  console.log(`${name}: ${reason}; matMul 1024: ${fmt(gflops)} GFLOP/s`);
  const modes = args.checkpoint === 'both' ? [false, true] : args.checkpoint === 'auto' ? [name === 'wasm'] : [args.checkpoint === 'on'];
  let dead = false;
  for (const batch of args.batches) {
    for (const checkpoint of modes) {
      const label = checkpoint ? 'on' : 'off';
      if (dead) {
        rows.push([name, fmt(gflops), String(batch), label, '-', '-', 'not run: an earlier out-of-memory abort killed the wasm heap']);
        continue;
      }
      const r = await benchBatch(batch, checkpoint);
      dead = r.dead === true;
      rows.push([name, fmt(gflops), String(batch), label, r.train === undefined ? '-' : fmt(r.train), r.forward === undefined ? '-' : fmt(r.forward), r.error ?? '']);
      console.log(`  batch ${batch}, checkpoint ${label}: ${r.error ?? `train ${fmt(r.train)} img/s, forward ${fmt(r.forward)} img/s`}`);
    }
  }
}
await releaseBackend();

const header = ['backend', 'matMul 1024 GFLOP/s', 'batch', 'ckpt', 'train img/s', 'forward img/s', 'notes'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
const line = (r) => `| ${r.map((v, c) => (c === 0 || c === 6 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join(' | ')} |`;
console.log(`\n${line(header)}`);
console.log(`|${widths.map((w, c) => (c === 0 || c === 6 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
for (const n of notes) console.log(`- ${n}`);
process.exit(0);
