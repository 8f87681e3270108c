import * as tf from '@tensorflow/tfjs';
import { THREEFRY_PARITY, THREEFRY_ROTATIONS } from '@mtd/random';
import { FlatProgram, setKernelsRegistered, type WebgpuBackendLike } from './wgslProgram.js';

/**
 * `MtdCounterNormal`: standard normals drawn on the GPU, word for word the host's
 * `counterNormals` of `@mtd/random` (Threefry-2x32-20 + Box-Muller; its doc has the formula).
 * Input `{ keys }` (int32 `[R, 2]`, each row's two key words as bits), attributes `{ counter,
 * size }`; output float32 `[R, size]`. `@mtd/sampler`'s `counterNormal` uses it when the current
 * backend has it (the name is the contract between the two packages), so the trainer's and the
 * sampler's noise never crosses the bus: the host computes and uploads R * size normals per step
 * otherwise (~10 ms per 262k at B = 256 on one core, the whole step's CPU budget being ~150 ms).
 */
export const COUNTER_NORMAL_KERNEL = 'MtdCounterNormal';

/** WGSL of Threefry-2x32-20's rounds and key injections, unrolled (rotations are constants). */
function threefryRounds(): string {
  const lines: string[] = [];
  for (let r = 0; r < 20; r++) {
    const k = THREEFRY_ROTATIONS[r % 8]!;
    lines.push(`x0 = x0 + x1; x1 = ((x1 << ${k}u) | (x1 >> ${32 - k}u)) ^ x0;`);
    if (r % 4 === 3) {
      const s = (r + 1) / 4;
      lines.push(`x0 = x0 + ks[${s % 3}]; x1 = x1 + ks[${(s + 1) % 3}] + ${s}u;`);
    }
  }
  return lines.join('\n          ');
}

/** One thread per Box-Muller pair: elements 2p and 2p + 1 of a row. */
class CounterNormalProgram extends FlatProgram {
  variableNames = ['keys'];
  shaderKey = 'mtdCounterNormal';
  uniforms = 'pairs : i32, rowSize : i32, counter : u32,';

  constructor(rows: number, size: number) {
    super(rows * size);
    this.dispatch = [Math.ceil((rows * Math.ceil(size / 2)) / 64), 1, 1];
  }

  getUserCode(): string {
    return `
      fn main(index : i32) {
        if (index < uniforms.pairs) {
          let pairsPerRow = (uniforms.rowSize + 1) / 2;
          let row = index / pairsPerRow;
          let p = index - row * pairsPerRow;
          let k0 = bitcast<u32>(keys[2 * row]);
          let k1 = bitcast<u32>(keys[2 * row + 1]);
          let ks = array<u32, 3>(k0, k1, ${THREEFRY_PARITY}u ^ k0 ^ k1);
          var x0 = u32(p) + k0;
          var x1 = uniforms.counter + k1;
          ${threefryRounds()}
          // 24-bit uniforms, exact in f32: u1 in (0, 1], u2 in [0, 1).
          let u1 = f32((x0 >> 8u) + 1u) * 5.9604644775390625e-8;
          let u2 = f32(x1 >> 8u) * 5.9604644775390625e-8;
          let rho = sqrt(-2.0 * log(u1));
          let theta = 3.14159265358979 * (2.0 * u2 - 1.0);
          let at = row * uniforms.rowSize + 2 * p;
          setOutputAtIndex(at, rho * cos(theta));
          if (2 * p + 1 < uniforms.rowSize) {
            setOutputAtIndex(at + 1, rho * sin(theta));
          }
        }
      }
    `;
  }
}

const counterNormalKernel: tf.KernelFunc = (args) => {
  const { keys } = args.inputs as { keys: tf.TensorInfo };
  const { counter, size } = args.attrs as { counter: number; size: number };
  const where = COUNTER_NORMAL_KERNEL;
  if (keys.dtype !== 'int32' || keys.shape.length !== 2 || keys.shape[1] !== 2 || keys.shape[0]! < 1) {
    throw new TypeError(`${where}: keys must be an int32 tensor [R >= 1, 2], got ${keys.dtype} [${keys.shape.join(', ')}]`);
  }
  if (!Number.isInteger(counter) || counter < 0 || counter > 0xffffffff) throw new RangeError(`${where}: counter must be an integer in 0..2^32-1, got ${counter}`);
  const rows = keys.shape[0]!;
  // The flat index is an i32 in WGSL.
  if (!Number.isInteger(size) || size < 1 || rows * size > 2 ** 31 - 1) {
    throw new RangeError(`${where}: size must be an integer >= 1 with R * size < 2^31, got size ${size} for R = ${rows}`);
  }
  const backend = args.backend as unknown as WebgpuBackendLike;
  const pairs = rows * Math.ceil(size / 2);
  const out = backend.runWebGPUProgram(new CounterNormalProgram(rows, size), [keys], 'float32', [
    { type: 'int32', data: [pairs] },
    { type: 'int32', data: [size] },
    { type: 'uint32', data: [counter] },
  ]);
  return { ...out, shape: [rows, size] };
};

const CONFIGS: tf.KernelConfig[] = [{ kernelName: COUNTER_NORMAL_KERNEL, backendName: 'webgpu', kernelFunc: counterNormalKernel }];

/** Registers (`true`) or removes (`false`) the counter-based normal kernel for webgpu. */
export function setWebgpuCounterNormal(on: boolean): void {
  setKernelsRegistered(CONFIGS, on);
}
