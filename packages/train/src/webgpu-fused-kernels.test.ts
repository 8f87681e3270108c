import { availableBackends, selectBackend, withBackend } from '@mtd/backend';
import { createUNet } from '@mtd/unet';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';

// @mtd/backend's WGSL kernels, end to end through a U-Net's gradient: the fused GroupNorm
// and SiLU (whose kernel names @mtd/nn looks up), the WGSL conv and filter gradient and the WGSL
// leading-axes sums.
describe("webgpu with the WGSL kernels: the same U-Net gradients as tfjs's kernels and ops", () => {
  it('agrees to 1e-4 on every parameter and on the forward outside the tape, and the fused GroupNorm, SiLU and GroupNorm + SiLU kernels are the ones that run', async (ctx) => {
    if (!(await availableBackends()).includes('webgpu')) ctx.skip();
    const config = { imageSize: 8, inChannels: 2, baseChannels: 8, channelMults: [1, 2], numResBlocks: 1, attentionResolutions: [4], groups: 4 };
    const gradients = async (wgsl: boolean) =>
      withBackend(
        'webgpu',
        async () => {
          const unet = createUNet(config, { seed: 3 });
          const x = tf.randomNormal([3, 8, 8, 2], 0, 1, 'float32', 4) as tf.Tensor4D;
          const t = tf.tensor1d([5, 300, 900]);
          const loss = () => tf.mean(tf.square(unet.forward({ x, t }).eps)) as tf.Scalar;
          const info = await tf.profile(() => tf.variableGrads(loss, unet.variables).grads);
          const grads = info.result as unknown as Record<string, tf.Tensor>;
          const values = await Promise.all(unet.variables.map((v) => grads[v.name]!.data()));
          // (tf.profile reuses its kernel list: read it before the next profile.)
          const kernels = new Set(info.kernels.map((k) => k.name));
          // Outside the tape (sampling): GroupNorm + SiLU as one kernel where registered.
          const forward = await tf.profile(() => unet.forward({ x, t }).eps);
          const eps = await (forward.result as tf.Tensor).data();
          tf.dispose([x, t, ...Object.values(grads), forward.result as tf.Tensor]);
          unet.dispose();
          return { values, eps, kernels, forwardKernels: new Set(forward.kernels.map((k) => k.name)) };
        },
        {
          webgpu: wgsl
            ? { groupNorm: 'wgsl', filterGradient: 'wgsl', reductions: 'wgsl', conv2d: 'wgsl', silu: 'wgsl' }
            : { groupNorm: 'tfjs', filterGradient: 'im2col', reductions: 'tfjs', conv2d: 'tfjs', silu: 'tfjs' },
        },
      );
    try {
      const plain = await gradients(false);
      const fused = await gradients(true);
      expect(plain.kernels.has('MtdGroupNorm')).toBe(false);
      expect(fused.kernels.has('MtdGroupNorm')).toBe(true);
      expect(fused.kernels.has('MtdGroupNormGrad')).toBe(true);
      expect(plain.kernels.has('MtdSilu')).toBe(false);
      expect(fused.kernels.has('MtdSilu')).toBe(true);
      expect(fused.kernels.has('MtdSiluGrad')).toBe(true);
      // Under the tape GroupNorm + SiLU run as one kernel, backpropagated by one gradient kernel
      // that recomputes the normalised value.
      expect(fused.kernels.has('MtdGroupNormSilu')).toBe(true);
      expect(fused.kernels.has('MtdGroupNormSiluGrad')).toBe(true);
      expect(plain.kernels.has('MtdGroupNormSiluGrad')).toBe(false);
      expect(fused.forwardKernels.has('MtdGroupNormSilu')).toBe(true);
      expect(plain.forwardKernels.has('MtdGroupNormSilu')).toBe(false);
      let worst = 0;
      plain.eps.forEach((v, k) => (worst = Math.max(worst, Math.abs(v - fused.eps[k]!))));
      expect(worst, 'forward outside the tape').toBeLessThan(1e-4);
      for (const [i, a] of plain.values.entries()) {
        const b = fused.values[i]!;
        let num = 0;
        let den = 0;
        for (let k = 0; k < a.length; k++) {
          num += (a[k]! - b[k]!) ** 2;
          den += a[k]! ** 2;
        }
        expect(Math.sqrt(num / Math.max(den, 1e-30)), `parameter ${i}`).toBeLessThan(1e-4);
      }
    } finally {
      await selectBackend('webgpu');
      await tf.setBackend('cpu');
    }
  });
});
