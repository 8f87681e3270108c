import * as tf from '@tensorflow/tfjs';

/**
 * Mean squared error of each example, `[B]`: the mean over every element but the batch axis
 * (guided-diffusion's `mean_flat`). Using the mean, not the sum, keeps the loss scale independent
 * of the image size, so `rho` means the same thing for a 32x32 and a 256x256 model.
 */
export function perExampleMse(target: tf.Tensor, prediction: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const batch = target.shape[0]!;
    const diff = tf.sub(target, prediction);
    return tf.mean(tf.reshape(tf.square(diff), [batch, -1]), 1) as tf.Tensor1D;
  });
}

/**
 * Softmax cross-entropy of each example, `[B]`, from logits `[B, ..., K]` and either integer
 * class ids `[B, ...]` or class probabilities (one-hot or soft) `[B, ..., K]`. Positions other
 * than the batch (a segmentation map's pixels) are averaged, like the MSE above.
 *
 * Ids outside `0..K-1` become an all-zero one-hot row and so contribute 0 (like PyTorch's
 * `ignore_index`): checking them would need a device read-back in the middle of a training step.
 */
export function perExampleCrossEntropy(target: tf.Tensor, logits: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    const batch = logits.shape[0]!;
    const numClasses = logits.shape[logits.rank - 1]!;
    const probs =
      target.dtype === 'int32'
        ? tf.reshape(tf.oneHot(tf.reshape(target, [-1]) as tf.Tensor1D, numClasses), logits.shape)
        : target;
    const logp = tf.logSoftmax(logits, -1);
    const nll = tf.neg(tf.sum(tf.mul(probs, logp), -1));
    return tf.mean(tf.reshape(nll, [batch, -1]), 1) as tf.Tensor1D;
  });
}

/** `mean_b(w_b * L_b)`, or `mean_b(L_b)` without weights. */
export function weightedMean(perExample: tf.Tensor1D, weights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => tf.mean(weights ? tf.mul(perExample, weights) : perExample) as tf.Scalar);
}
