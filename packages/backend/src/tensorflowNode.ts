import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * The native TensorFlow backend (`'tensorflow'`), from `@tensorflow/tfjs-node-gpu` or
 * `@tensorflow/tfjs-node`. Neither is a dependency: their install script downloads libtensorflow,
 * which fails on machines without that host, so a user who wants them installs one in their own
 * project. They are looked up first from this package, then from the working directory, because
 * under pnpm this package's folder cannot see the application's dependencies.
 */

const NATIVE_PACKAGES = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'] as const;

/** Where `specifier` resolves from this package or from `process.cwd()`, or null. */
function resolvePackage(specifier: string): string | null {
  const bases = [import.meta.url, pathToFileURL(join(process.cwd(), 'package.json')).href];
  for (const base of bases) {
    try {
      return createRequire(base).resolve(specifier);
    } catch {
      // Not visible from this base; try the next.
    }
  }
  return null;
}

/**
 * Loads the first native package that is installed and switches to `'tensorflow'`.
 * Throws an Error whose message lists why each package was not used.
 */
export async function initTensorflow(): Promise<void> {
  const reasons: string[] = [];
  if (tf.findBackendFactory('tensorflow') === null) {
    for (const name of NATIVE_PACKAGES) {
      const resolved = resolvePackage(name);
      if (resolved === null) {
        reasons.push(`${name} is not installed`);
        continue;
      }
      try {
        await import(pathToFileURL(resolved).href);
      } catch (err) {
        reasons.push(`${name} failed to load: ${err instanceof Error ? err.message : String(err)}`);
        continue;
      }
      if (tf.findBackendFactory('tensorflow') !== null) break;
      reasons.push(`${name} loaded but registered no 'tensorflow' backend with this copy of @tensorflow/tfjs`);
    }
  }
  if (tf.findBackendFactory('tensorflow') === null) throw new Error(reasons.join('; '));
  if (!(await tf.setBackend('tensorflow'))) {
    throw new Error("tf.setBackend('tensorflow') returned false (see the warning above)");
  }
  await tf.ready();
}
