import { defineConfig } from 'vitest/config';
import { sharedTest, useLavapipeForWebgpuTests } from '../../vitest.shared';

useLavapipeForWebgpuTests();

export default defineConfig({
  test: {
    ...sharedTest,
    // Child processes, not threads: vitest ends each worker after its file, and a worker that
    // used WebGPU is left to it, not released: a worker that released Dawn and exited by itself
    // ran lavapipe's exit-time teardown, which now and then aborted ("std::system_error") or hung.
    // Exit after a release is tested on purpose, in a child process (backend selectBackend.test.ts).
    pool: 'forks',
  },
});
