import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { sharedTest } from '../../vitest.shared';

// WebGPU tests run on lavapipe (Mesa's CPU Vulkan driver) where there is no GPU. Pointing the
// Vulkan loader at it alone skips probing the other installed drivers; a caller's own
// VK_ICD_FILENAMES (a real GPU) wins. This is a Debian/Ubuntu package path, not a machine's.
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(LAVAPIPE_ICD)) process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;

export default defineConfig({
  test: {
    ...sharedTest,
    // A live WebGPU device keeps a worker's event loop alive: child processes (not threads) and
    // a teardown that releases the backend after every file let `vitest run` finish.
    pool: 'forks',
    setupFiles: ['./src/testSetup.ts'],
  },
});
