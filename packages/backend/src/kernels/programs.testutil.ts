import * as tf from '@tensorflow/tfjs';

/**
 * The WebGPU programs `f` dispatches, by class name, and its result (read back, so every program
 * ran). tfjs runs some programs below the engine (its transposes), which `tf.profile` does not list.
 */
export async function programsOf(f: () => tf.Tensor): Promise<{ out: tf.Tensor; programs: string[] }> {
  const backend = tf.backend() as unknown as { runWebGPUProgram: (program: object, ...rest: unknown[]) => unknown };
  const run = backend.runWebGPUProgram;
  const programs: string[] = [];
  backend.runWebGPUProgram = function (program: object, ...rest: unknown[]) {
    programs.push(program.constructor.name);
    return run.call(this, program, ...rest);
  };
  try {
    const out = f();
    await out.data();
    return { out, programs };
  } finally {
    backend.runWebGPUProgram = run;
  }
}
