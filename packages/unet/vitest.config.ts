import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';
import { sharedTest } from '../../vitest.shared';

// WebGPU tests run on lavapipe (Mesa's CPU Vulkan driver) where there is no GPU; a caller's own
// VK_ICD_FILENAMES (a real GPU) wins. A Debian/Ubuntu package path, not a machine's.
const LAVAPIPE_ICD = '/usr/share/vulkan/icd.d/lvp_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(LAVAPIPE_ICD)) process.env.VK_ICD_FILENAMES = LAVAPIPE_ICD;

export default defineConfig({
  test: {
    ...sharedTest,
    // Child processes, not threads, so a file that touched WebGPU can be torn down.
    pool: 'forks',
    setupFiles: ['./src/test-setup.ts'],
  },
});
