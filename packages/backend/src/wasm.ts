import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';

/**
 * The wasm backend under Node.
 *
 * Its loader looks for the `.wasm` files next to the calling script unless told otherwise, which
 * breaks once this package is bundled, so the path is set to the package's own `dist/` folder,
 * found through Node's resolver from this file. Threads stay off: tfjs disables wasm threads under
 * Node anyway (no cross-origin-isolated SharedArrayBuffer workers), and asking for them only makes
 * it fetch a file it then cannot use.
 */

const WASM_FILES = ['tfjs-backend-wasm.wasm', 'tfjs-backend-wasm-simd.wasm'];

/** The folder holding tfjs-backend-wasm's `.wasm` files, with a trailing separator. */
export function wasmDistFolder(): string {
  const require = createRequire(import.meta.url);
  const pkg = require.resolve('@tensorflow/tfjs-backend-wasm/package.json');
  return join(dirname(pkg), 'dist') + sep;
}

/** Loads and switches to the wasm backend; throws an Error whose message says why it cannot. */
export async function initWasm(): Promise<void> {
  if (tf.findBackend('wasm') === null) {
    let folder: string;
    try {
      folder = wasmDistFolder();
    } catch (err) {
      throw new Error(`@tensorflow/tfjs-backend-wasm is not installed: ${message(err)}`);
    }
    const missing = WASM_FILES.filter((f) => !existsSync(folder + f));
    if (missing.length > 0) throw new Error(`missing ${missing.join(', ')} in ${folder}`);
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
    wasm.setWasmPaths(folder);
  }
  if (!(await tf.setBackend('wasm'))) {
    throw new Error("tf.setBackend('wasm') returned false (see the warning above)");
  }
  await tf.ready();
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
