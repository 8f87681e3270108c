import * as tf from '@tensorflow/tfjs';
import type { FeatureExtractor } from '../extractor.js';
import { tensorToRows } from '../extractor.js';

/**
 * A deterministic extractor for tests: features = [mean, mean of squares, first pixel] of each
 * image, logits = [first pixel, -first pixel], spatial = the first row of pixels.
 */
export function toyExtractor(options: { name?: string; oneShot?: boolean; heads?: boolean } = {}): FeatureExtractor & {
  calls: string[];
} {
  const calls: string[] = [];
  const { heads = true } = options;
  const features = async (images: tf.Tensor4D): Promise<Float64Array[]> => {
    calls.push('features');
    const t = tf.tidy(() => {
      const flat = tf.reshape(images, [images.shape[0], -1]);
      return tf.stack([tf.mean(flat, 1), tf.mean(tf.square(flat), 1), tf.reshape(tf.slice(flat, [0, 0], [-1, 1]), [-1])], 1);
    });
    try {
      return await tensorToRows(t);
    } finally {
      t.dispose();
    }
  };
  const logits = async (images: tf.Tensor4D): Promise<Float64Array[]> => {
    calls.push('logits');
    const t = tf.tidy(() => {
      const first = tf.reshape(tf.slice(images, [0, 0, 0, 0], [-1, 1, 1, 1]), [-1, 1]);
      return tf.concat([first, tf.neg(first)], 1);
    });
    try {
      return await tensorToRows(t);
    } finally {
      t.dispose();
    }
  };
  const spatialFeatures = async (images: tf.Tensor4D): Promise<Float64Array[]> => {
    calls.push('spatial');
    const t = tf.tidy(() => tf.reshape(tf.slice(images, [0, 0, 0, 0], [-1, 1, -1, -1]), [images.shape[0], -1]));
    try {
      return await tensorToRows(t);
    } finally {
      t.dispose();
    }
  };
  const base = { name: options.name ?? 'toy', featureDim: 3, calls, features };
  if (!heads) return base;
  const withHeads = { ...base, numClasses: 2, logits, spatialFeatures };
  if (!options.oneShot) return withHeads;
  return {
    ...withHeads,
    async extract(images: tf.Tensor4D) {
      calls.push('extract');
      return { features: await features(images), logits: await logits(images), spatial: await spatialFeatures(images) };
    },
  };
}
