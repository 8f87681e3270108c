import { releaseBackend } from '@mtd/backend';
import { afterAll } from 'vitest';

// A live WebGPU device keeps a test worker alive: release it after every file.
afterAll(async () => {
  await releaseBackend();
});
