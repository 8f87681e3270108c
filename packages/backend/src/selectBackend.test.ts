import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { BACKEND_CHOICES, selectBackend } from './selectBackend.js';

describe('selectBackend', () => {
  it('cpu', async () => {
    const sel = await selectBackend('cpu');
    expect(sel.name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    expect(sel.tried).toEqual([{ name: 'cpu', ok: true, reason: expect.stringMatching(/JavaScript/) }]);
  });

  it('wasm', async () => {
    const sel = await selectBackend('wasm');
    expect(sel.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(sel.tried[0]?.reason).toMatch(/one thread/);
    const s = await tf.sum(tf.matMul(tf.ones([3, 4]), tf.ones([4, 2]))).data();
    expect(s[0]).toBe(24);
  });

  it('webgpu', async () => {
    const sel = await selectBackend('webgpu');
    console.log(sel);
    expect(tf.getBackend()).toBe('webgpu');
    const s = await tf.sum(tf.matMul(tf.ones([3, 4]), tf.ones([4, 2]))).data();
    expect(s[0]).toBe(24);
  });

  it('auto', async () => {
    const sel = await selectBackend('auto');
    console.log(sel);
  });
  it('tensorflow throws', async () => {
    await expect(selectBackend('tensorflow')).rejects.toThrow(/not available/);
  });
  it('unknown', async () => {
    // @ts-expect-error bad input on purpose
    await expect(selectBackend('gpu')).rejects.toThrow(RangeError);
    expect(BACACKEND_CHOICES_OK()).toBe(true);
  });
});
function BACACKEND_CHOICES_OK(): boolean { return BACKEND_CHOICES.length === 5; }
