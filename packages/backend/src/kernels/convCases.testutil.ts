import { createRng } from '@mtd/random';
import type * as tf from '@tensorflow/tfjs';
import { convGeometry, type RefPad, type Shape4 } from './reference.js';

// The conv-gradient test cases and their random data, shared by the ops-based forms' tests and
// the WGSL kernel's.

export interface Case {
  label: string;
  x: Shape4;
  k: [number, number];
  outC: number;
  strides: [number, number];
  pad: RefPad;
}

/** Odd sizes, batch 3, channels 1/3/5, stride 2 and 3, every padding kind, a crop path. */
export const CASES: Case[] = [
  { label: '3x3 same s1, C 1->5', x: [3, 7, 5, 1], k: [3, 3], outC: 5, strides: [1, 1], pad: 'same' },
  { label: '3x3 same s2, C 3->2', x: [3, 9, 7, 3], k: [3, 3], outC: 2, strides: [2, 2], pad: 'same' },
  { label: '3x3 valid s2, C 5->3', x: [2, 8, 9, 5], k: [3, 3], outC: 3, strides: [2, 2], pad: 'valid' },
  { label: '1x1 valid, C 3->4', x: [3, 5, 5, 3], k: [1, 1], outC: 4, strides: [1, 1], pad: 'valid' },
  { label: '4x2 explicit s(2,3)', x: [3, 7, 6, 2], k: [4, 2], outC: 3, strides: [2, 3], pad: [[1, 2], [0, 1]] },
  { label: '3x3 valid s3 with remainder', x: [2, 10, 11, 2], k: [3, 3], outC: 2, strides: [3, 3], pad: 'valid' },
  { label: '3x3 explicit, padding >= kernel', x: [1, 5, 4, 3], k: [3, 3], outC: 2, strides: [1, 2], pad: [[3, 0], [0, 3]] },
];

/** The cases WebGPU runs: each new shape compiles new shaders, which is slow on lavapipe. */
export const GPU_CASES = CASES.filter((_, i) => i === 0 || i === 1 || i === 4);

export function tfPad(pad: RefPad): 'same' | 'valid' | tf.backend_util.ExplicitPadding {
  return typeof pad === 'string' ? pad : [[0, 0], pad[0], pad[1], [0, 0]];
}

export interface Data {
  x: Float32Array;
  w: Float32Array;
  dy: Float32Array;
  wShape: Shape4;
  dyShape: Shape4;
}

export function makeData(c: Case, seed: number): Data {
  const rng = createRng(seed);
  const wShape: Shape4 = [c.k[0], c.k[1], c.x[3], c.outC];
  const g = convGeometry(c.x, c.k[0], c.k[1], c.strides[0], c.strides[1], c.pad);
  const dyShape: Shape4 = [c.x[0], g.outH, g.outW, c.outC];
  const size = (s: number[]): number => s.reduce((a, b) => a * b, 1);
  return {
    x: rng.fillNormal(new Float32Array(size(c.x))),
    w: rng.fillNormal(new Float32Array(size(wShape))),
    dy: rng.fillNormal(new Float32Array(size(dyShape))),
    wShape,
    dyShape,
  };
}

export const TOL = { rtol: 1e-4, atol: 1e-4 };
