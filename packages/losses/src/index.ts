export { noiseLoss, type NoiseLossOptions } from './noise-loss.js';
export {
  multiTaskLoss,
  type HeadKind,
  type HeadLossTerm,
  type MultiTaskLoss,
  type MultiTaskLossInput,
} from './multi-task-loss.js';
export { perExampleMse, perExampleCrossEntropy } from './per-example.js';
