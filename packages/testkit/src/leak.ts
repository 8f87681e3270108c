import * as tf from '@tensorflow/tfjs';

/**
 * Runs `fn` and throws if it left tensors behind. Whatever `fn` returns is disposed first, so a
 * function that returns tensors passes when it made nothing else.
 */
export async function expectNoLeak(fn: () => unknown, label = 'function'): Promise<void> {
  const before = tf.memory().numTensors;
  const result = await fn();
  disposeDeep(result);
  const after = tf.memory().numTensors;
  if (after !== before) {
    throw new Error(`expectNoLeak(${label}): ${after - before} tensor(s) leaked (${before} before, ${after} after)`);
  }
}

function disposeDeep(value: unknown, seen = new Set<unknown>()): void {
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof tf.Tensor) {
    value.dispose();
    return;
  }
  if (ArrayBuffer.isView(value)) return;
  for (const v of Array.isArray(value) ? value : Object.values(value)) disposeDeep(v, seen);
}
