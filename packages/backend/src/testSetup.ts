import { afterAll } from 'vitest';
import { releaseBackend } from './selectBackend.js';

// Runs after each test file in its worker: without it a file that touched WebGPU never exits.
afterAll(async () => {
  await releaseBackend();
});
