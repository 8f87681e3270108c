/**
 * `pnpm bench`: matMul throughput of every backend that initialises here, as a table.
 * Options: `--n 1024` (matrix size), `--repeats 5`, `--backends cpu,wasm,webgpu`.
 * WebGPU counts software adapters (lavapipe) too: the table says which adapter ran.
 */
import { measureMatmulGflops } from '../src/measureMatmulGflops.js';
import { releaseBackend, selectBackend, type BackendName } from '../src/selectBackend.js';

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const n = Number(flag('n', '1024'));
const repeats = Number(flag('repeats', '5'));
const names = flag('backends', 'tensorflow,webgpu,wasm,cpu').split(',') as BackendName[];

const rows: Array<[string, string, string]> = [];
for (const name of names) {
  let selection;
  try {
    selection = await selectBackend(name);
  } catch (err) {
    rows.push([name, 'unavailable', (err as Error).message.replace(/^selectBackend: backend '\w+' is not available: /, '')]);
    continue;
  }
  // The pure-JS backend needs ~5 s per 1024^3 product: one timed product is enough.
  const gflops = await measureMatmulGflops(n, { repeats: name === 'cpu' ? 1 : repeats });
  rows.push([name, gflops.toFixed(name === 'cpu' ? 2 : 1), selection.tried.at(-1)!.reason]);
}
await releaseBackend();

const header: [string, string, string] = ['backend', `matMul ${n} GFLOP/s`, 'notes'];
const widths = [0, 1].map((c) => Math.max(header[c]!.length, ...rows.map((r) => r[c]!.length)));
const line = (r: [string, string, string]): string => `| ${r[0].padEnd(widths[0]!)} | ${r[1].padStart(widths[1]!)} | ${r[2]} |`;
console.log(line(header));
console.log(`|${'-'.repeat(widths[0]! + 2)}|${'-'.repeat(widths[1]! + 1)}:|---|`);
for (const r of rows) console.log(line(r));
