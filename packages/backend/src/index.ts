export {
  selectBackend,
  releaseBackend,
  BACKEND_CHOICES,
  type BackendChoice,
  type BackendName,
  type BackendAttempt,
  type BackendSelection,
  type SelectBackendOptions,
} from './selectBackend.js';
export type { WebgpuOptions } from './webgpu.js';
export type { WebgpuFilterGradient } from './kernels/register.js';
export { registerTrainingKernels, trainingKernelNames } from './kernels/register.js';
export { GEMM_TILING_CANDIDATES } from './kernels/gemmTiling.js';
export { startStepRecording, type StepRecording } from './graph/stepRecording.js';
export { StepGraph, StepGraphError } from './graph/stepGraph.js';
export { availableBackends, withBackend, countSyncDownloads, TEST_BACKENDS } from './harness.js';
export { measureMatmulGflops, type MatmulGflopsOptions } from './measureMatmulGflops.js';
