import type * as tf from '@tensorflow/tfjs';
import { checkExampleWeights, checkFloat, checkTensor, fail, sameShape } from './checks.js';
import { perExampleMse, weightedMean } from './per-example.js';

export interface NoiseLossOptions {
  /**
   * Per-example weights, float32 `[B]` (e.g. Min-SNR timestep weights). The loss becomes
   * `mean_b(w_b * mse_b)`; the weights are not renormalised.
   */
  weights?: tf.Tensor1D;
}

/**
 * The simple noise loss of MATH.md 4, `|| eps - epsilon_theta(z_t, t) ||^2`, averaged over the
 * elements of each example and then over the batch (guided-diffusion's `mean_flat(...).mean()`).
 * Returns a new scalar; the caller owns it.
 */
export function noiseLoss(eps: tf.Tensor, epsHat: tf.Tensor, options: NoiseLossOptions = {}): tf.Scalar {
  const where = 'noiseLoss';
  checkNoisePair(where, eps, epsHat);
  const batch = eps.shape[0]!;
  const weights =
    options.weights === undefined ? undefined : checkExampleWeights(where, 'options.weights', options.weights, batch);
  const per = perExampleMse(eps, epsHat);
  try {
    return weightedMean(per, weights);
  } finally {
    per.dispose();
  }
}

export function checkNoisePair(where: string, eps: unknown, epsHat: unknown): void {
  const e = checkTensor(where, 'eps', eps, 'a float32 tensor [B, ...]');
  const h = checkTensor(where, 'epsHat', epsHat, 'a float32 tensor [B, ...]');
  checkFloat(where, 'eps', e);
  checkFloat(where, 'epsHat', h);
  if (e.rank < 1 || e.shape[0] === 0) fail(where, 'eps', 'a tensor with a non-empty batch axis', e);
  if (!sameShape(e.shape, h.shape)) fail(where, 'epsHat', `a tensor of the shape of eps [${e.shape.join(', ')}]`, h);
}
