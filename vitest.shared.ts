import { existsSync } from 'node:fs';

/**
 * Test settings every package shares. Generous time limits because correctness tests on a loaded
 * 2-core CI machine can take seconds; timing is never what a test checks.
 */
export const sharedTest = {
  include: ['src/**/*.test.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
};

/**
 * WebGPU tests run on lavapipe (Mesa's CPU Vulkan driver) where there is no GPU. Pointing the
 * Vulkan loader at it alone skips probing other installed drivers; a caller's own
 * VK_ICD_FILENAMES (a real GPU) wins. A Debian/Ubuntu package path, not a machine's. Mesa's shader
 * disk cache is off: its writer thread outliving a test worker's teardown is one suspect of the
 * rare exit-time aborts seen there, and CI gains nothing from a cache it throws away.
 */
export function useLavapipeForWebgpuTests(): void {
  const icd = '/usr/share/vulkan/icd.d/lvp_icd.json';
  if (!process.env.VK_ICD_FILENAMES && existsSync(icd)) process.env.VK_ICD_FILENAMES = icd;
  process.env.MESA_SHADER_CACHE_DISABLE ??= 'true';
}
