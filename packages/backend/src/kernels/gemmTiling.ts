/**
 * The register-blocked tiling of the WGSL conv GEMMs (`conv2dWgsl.ts`, `conv2dFilterGradWgsl.ts`):
 * a workgroup computes a `tileM x tileN` block of the output, each thread `rowsPerThread x
 * colsPerThread` of it, reading `step` values of k per pass through workgroup memory.
 *
 * Why it is a parameter: the 64x64 tile with 4x4 per thread (the first kernels) reads two vec4 of
 * workgroup memory per 16 FMAs, which caps it near half the card's float32 rate; on an H200 those
 * kernels ran at 15-23 TFLOP/s, PyTorch's convs about twice that. 8x8 per thread reads two per 64
 * FMAs. Which tile wins depends on the card and the layer (a 128-row tile leaves a small layer
 * too few workgroups), so each form is selectable and timed (`bench:conv`, BENCHMARKS.md).
 *
 * Name: `<tileM>x<tileN>/<rowsPerThread>x<colsPerThread>/k<step>`, `+p` for prefetching (step
 * s + 1's loads issued into registers before step s computes, so their latency hides behind it).
 */
export interface GemmTiling {
  tileM: number;
  tileN: number;
  rowsPerThread: 4 | 8;
  colsPerThread: 4 | 8;
  step: 16 | 32;
  prefetch: boolean;
}

/*
 * The defaults of `WebgpuOptions.gemmTiles`: the best measured on an NVIDIA H100 (refUNet at batch
 * 256, `bench:conv`'s TFLOP/s per layer and the training step's img/s; BENCHMARKS.md, third GPU
 * session). Together they ran a step at 1,880 img/s against ~1,780 with `64x64/4x4/k16` for all
 * three (the default before).
 */

/** The forward conv's: 64x64, 8x8 per thread (half the workgroup-memory reads per FMA of 4x4), prefetching. */
export const DEFAULT_CONV_TILING: GemmTiling = { tileM: 64, tileN: 64, rowsPerThread: 8, colsPerThread: 8, step: 16, prefetch: true };

/**
 * The stride-1 input gradient's (the conv GEMM over `dy` with the flipped filter): 128x64, 8x4 per
 * thread, prefetching; the fastest on every refUNet layer it serves, where the conv's tiling was
 * not, hence a setting of its own.
 */
export const DEFAULT_INPUT_GRADIENT_TILING: GemmTiling = { tileM: 128, tileN: 64, rowsPerThread: 8, colsPerThread: 4, step: 16, prefetch: true };

/** The filter gradient's (and the long-K `a^T b` of `matMulWgsl.ts`): 64x64, 4x4 per thread, prefetching. */
export const DEFAULT_FILTER_GRADIENT_TILING: GemmTiling = { tileM: 64, tileN: 64, rowsPerThread: 4, colsPerThread: 4, step: 16, prefetch: true };

/** The tilings `bench:conv` and gpu-bench time (any valid name is accepted). */
export const GEMM_TILING_CANDIDATES = [
  '64x64/4x4/k16',
  '64x64/4x4/k16+p',
  '64x64/8x8/k16+p',
  '64x64/8x8/k32+p',
  '128x64/8x4/k16+p',
  '128x64/8x8/k16+p',
  '128x128/8x8/k16+p',
] as const;

const MAX_THREADS = 256;

/** Threads along M and N, and in all. */
export function tilingThreads(t: GemmTiling): { threadsM: number; threadsN: number; threads: number } {
  const threadsM = t.tileM / t.rowsPerThread;
  const threadsN = t.tileN / t.colsPerThread;
  return { threadsM, threadsN, threads: threadsM * threadsN };
}

export function gemmTilingName(t: GemmTiling): string {
  return `${t.tileM}x${t.tileN}/${t.rowsPerThread}x${t.colsPerThread}/k${t.step}${t.prefetch ? '+p' : ''}`;
}

/**
 * Parses a tiling name (see the file's comment), checking that it makes whole threads and whole
 * vec4 loads per thread at its step and at step 16 (the conv falls back to 16 for channel counts
 * that are not multiples of 32). `argName` names the option in the error.
 */
export function parseGemmTiling(name: unknown, argName: string): GemmTiling {
  const match = typeof name === 'string' ? /^(\d+)x(\d+)\/([48])x([48])\/k(16|32)(\+p)?$/.exec(name) : null;
  if (match === null) {
    throw new RangeError(`${argName} must be a tiling like '64x64/4x4/k16' or '128x64/8x4/k16+p' (tile M x N / per thread M x N / k step [+p prefetch]), got ${String(name)}`);
  }
  const t: GemmTiling = {
    tileM: Number(match[1]),
    tileN: Number(match[2]),
    rowsPerThread: Number(match[3]) as 4 | 8,
    colsPerThread: Number(match[4]) as 4 | 8,
    step: Number(match[5]) as 16 | 32,
    prefetch: match[6] !== undefined,
  };
  const { threadsM, threadsN, threads } = tilingThreads(t);
  const whole = (v: number) => Number.isInteger(v) && v >= 1;
  const loadsWhole = [16, t.step].every((s) => whole((t.tileM * s) / 4 / threads) && whole((t.tileN * s) / 4 / threads));
  if (!whole(threadsM) || !whole(threadsN) || threads < 32 || threads > MAX_THREADS || !loadsWhole || threads % (t.step / 4) !== 0) {
    throw new RangeError(
      `${argName}: ${String(name)} gives ${threadsM} x ${threadsN} threads; a tiling needs whole threads (tile / per thread), 32 to ${MAX_THREADS} of them, and a whole number of vec4 loads per thread for each operand`,
    );
  }
  return t;
}

/** Bytes of workgroup memory the two operand tiles take at `step`. */
export function tilingWorkgroupBytes(t: GemmTiling, step: number = t.step): number {
  return (t.tileM + t.tileN) * step * 4;
}

/**
 * WGSL: the accumulators, `acc_i_l_j` (vec4 over 4 output columns) for the thread's row
 * `4 * (ty + i * threadsM) + l` of the tile and its column block `tx + j * threadsN`. Rows and
 * column blocks are strided by the thread grid, not contiguous, so a warp's vec4 reads of the
 * tiles and its vec4 writes of the output touch consecutive addresses.
 */
export function declareAccumulators(t: GemmTiling): string {
  const lines: string[] = [];
  forEachAccumulator(t, (v) => lines.push(`var ${v} = vec4<f32>(0.0);`));
  return lines.join('\n        ');
}

/**
 * Calls `each(variable, row, colBlock, i, l, j)` for every accumulator, with the WGSL expressions
 * of its row within the tile and its column block (in vec4s) within the tile.
 */
export function forEachAccumulator(t: GemmTiling, each: (variable: string, row: string, colBlock: string, i: number, l: number, j: number) => void): void {
  const { threadsM, threadsN } = tilingThreads(t);
  for (let i = 0; i < t.rowsPerThread / 4; i++) {
    for (let l = 0; l < 4; l++) {
      for (let j = 0; j < t.colsPerThread / 4; j++) {
        each(`acc_${i}_${l}_${j}`, `(4 * (ty + ${i * threadsM}) + ${l})`, `(tx + ${j * threadsN})`, i, l, j);
      }
    }
  }
}

/**
 * WGSL: one step of the GEMM held in workgroup memory. `a` is `[step][tileM / 4]` vec4 (4 rows
 * at one k) and `b` `[step][tileN / 4]` (4 columns at one k); every accumulator gains its row's
 * value times its columns at each k.
 */
export function tileOuterProducts(t: GemmTiling, a: string, b: string, step: number): string {
  const { threadsM, threadsN } = tilingThreads(t);
  const rowsA = t.tileM / 4;
  const colsB = t.tileN / 4;
  const lines: string[] = [];
  for (let i = 0; i < t.rowsPerThread / 4; i++) lines.push(`let a${i} = ${a}[k * ${rowsA} + ty + ${i * threadsM}];`);
  for (let j = 0; j < t.colsPerThread / 4; j++) lines.push(`let b${j} = ${b}[k * ${colsB} + tx + ${j * threadsN}];`);
  const comp = ['x', 'y', 'z', 'w'];
  forEachAccumulator(t, (v, _r, _c, i, l, j) => lines.push(`${v} = fma(vec4<f32>(a${i}.${comp[l]}), b${j}, ${v});`));
  return `
          for (var k = 0; k < ${step}; k = k + 1) {
            ${lines.join('\n            ')}
          }`;
}

/**
 * WGSL: the step loop around `load` (fills this thread's registers for step `s`), `store` (moves
 * them into workgroup memory) and `compute`; with prefetching, step s + 1's loads are issued
 * before step s computes. The trip count comes from a uniform (`steps`): workgroupBarrier needs
 * uniform control flow.
 */
export function stepLoop(t: GemmTiling, steps: string, load: (s: string) => string, store: string, compute: string): string {
  if (!t.prefetch) {
    return `
        for (var s = 0; s < ${steps}; s = s + 1) {
          ${load('s')}
          ${store}
          workgroupBarrier();
          ${compute}
          workgroupBarrier();
        }`;
  }
  return `
        if (${steps} > 0) {
          ${load('0')}
        }
        for (var s = 0; s < ${steps}; s = s + 1) {
          ${store}
          workgroupBarrier();
          if (s + 1 < ${steps}) {
            ${load('(s + 1)')}
          }
          ${compute}
          workgroupBarrier();
        }`;
}

/**
 * Throws if the tiling's operand tiles at `step` need more workgroup memory than the backend's
 * device allows (`maxComputeWorkgroupStorageSize`; WebGPU guarantees 16 KiB, which every
 * candidate fits). `caller` names the function in the error.
 */
export function checkWorkgroupMemory(backend: unknown, tiling: GemmTiling, step: number, caller: string): void {
  const limit = (backend as { device?: { limits?: { maxComputeWorkgroupStorageSize?: number } } }).device?.limits?.maxComputeWorkgroupStorageSize ?? 16384;
  const bytes = tilingWorkgroupBytes(tiling, step);
  if (bytes > limit) {
    throw new RangeError(`${caller}: tiling ${gemmTilingName(tiling)} needs ${bytes} bytes of workgroup memory at step ${step}, the device allows ${limit}`);
  }
}
