/**
 * Test settings every package shares. Generous time limits because correctness tests on a loaded
 * 2-core CI machine can take seconds; timing is never what a test checks.
 */
export const sharedTest = {
  include: ['src/**/*.test.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
};
