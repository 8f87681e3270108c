import * as tf from '@tensorflow/tfjs';

/**
 * Runs `fn(inputs)` as one custom op whose gradient recomputes `fn` under its own small tape
 * (gradient checkpointing). Only `inputs` are kept for the backward pass.
 *
 * Why: tfjs keeps every output gradient of the backward pass alive until the pass ends (its
 * `backpropagateGradients` never frees `dys`), so a training step holds one gradient tensor per
 * op output of the whole network: refUNet at batch 4 peaks near 1 GB, and batch 32 exceeds the
 * 4 GB wasm heap. Through this op, one block's internals live only while that block is
 * differentiated. The price is one more forward pass of the block.
 *
 * `params` are the variables `fn` reads (by closure); they are passed as op inputs so the outer
 * tape routes their gradients. A parameter `fn` does not touch gets a zero gradient.
 * `fn` must be deterministic (dropout with a fixed seed), since it runs twice.
 */
export function checkpoint(fn: (inputs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], params: readonly tf.Variable[]): tf.Tensor {
  const n = inputs.length;
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    return {
      value: fn(xs),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const targets = [...saved, ...params];
        // The recomputation runs its own tape inside the outer backward pass. At gradient depth
        // 0 tfjs starts that tape by replacing `activeTape` and ends it by setting it to null,
        // which would break the outer pass's cleanup; put the outer tape back afterwards.
        const state = tf.engine().state as unknown as { activeTape: unknown };
        const outerTape = state.activeTape;
        try {
          const { value, grads } = tf.engine().gradients(() => fn(saved), targets, dy, true);
          value.dispose();
          return targets.map((t, i) => grads[i] ?? tf.zerosLike(t));
        } finally {
          state.activeTape = outerTape;
        }
      },
    };
  });
  return op(...inputs, ...params);
}

/** Every tf.Variable in a (nested) parameter object, in a stable order. */
export function variablesOf(params: unknown): tf.Variable[] {
  const out: tf.Variable[] = [];
  const walk = (v: unknown): void => {
    if (v instanceof tf.Variable) out.push(v);
    else if (v !== null && typeof v === 'object' && !(v instanceof tf.Tensor)) Object.values(v).forEach(walk);
  };
  walk(params);
  return out;
}
