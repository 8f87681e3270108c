import * as tf from '@tensorflow/tfjs';

/**
 * Flattening many tensors into one vector and back, each as ONE engine kernel. The flat Adam, the
 * EMA and the flat gradient norm did this with tfjs ops: a reshape per tensor, then a concat (or a
 * slice and a reshape per tensor on the way back): ~1,460 engine kernels per refUNet step (244
 * variables, six passes), and tfjs's engine spends host time on every kernel (tape, scopes,
 * tracking; BENCHMARKS.md), which a GPU step cannot hide. These kernels run the current
 * backend's own Concat and Slice kernels below the engine, on flat views of the same data, so the
 * device work and the values are unchanged.
 *
 * Registered for a backend on first use (any backend: they only call its Concat, Slice and
 * Reshape kernels). They have no gradient: the optimizer state is outside the tape.
 */
const FLAT_CONCAT = 'MtdFlatConcat';
const FLAT_SPLIT = 'MtdFlatSplit';

const size = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);
const flatView = (x: tf.TensorInfo): tf.TensorInfo => ({ dataId: x.dataId, shape: [size(x.shape)], dtype: x.dtype });

function backendKernel(name: string, backendName: string): tf.KernelFunc {
  const kernel = tf.getKernel(name, backendName);
  if (kernel === undefined) throw new Error(`${FLAT_CONCAT}: the ${backendName} backend has no ${name} kernel`);
  return kernel.kernelFunc;
}

function register(backendName: string): void {
  if (tf.getKernel(FLAT_CONCAT, backendName) !== undefined) return;
  tf.registerKernel({
    kernelName: FLAT_CONCAT,
    backendName,
    kernelFunc: ({ inputs, backend }) => {
      const xs = inputs as unknown as tf.TensorInfo[];
      if (xs.length === 1) return backendKernel('Reshape', backendName)({ inputs: { x: xs[0]! }, backend, attrs: { shape: [size(xs[0]!.shape)] } });
      return backendKernel('Concat', backendName)({ inputs: xs.map(flatView) as unknown as tf.NamedTensorInfoMap, backend, attrs: { axis: 0 } });
    },
  });
  tf.registerKernel({
    kernelName: FLAT_SPLIT,
    backendName,
    kernelFunc: ({ inputs, backend, attrs }) => {
      const { x } = inputs as { x: tf.TensorInfo };
      const { shapes } = attrs as unknown as { shapes: number[][] };
      const slice = backendKernel('Slice', backendName);
      let at = 0;
      return shapes.map((shape) => {
        const n = size(shape);
        const part = slice({ inputs: { x }, backend, attrs: { begin: [at], size: [n] } }) as tf.TensorInfo;
        at += n;
        // The slice is a fresh tensor of n elements: handing it out with its final shape is what
        // a backend's Reshape does, without the extra reference.
        return { ...part, shape };
      });
    },
  });
}

/** Tensors flattened and concatenated in order, as a new 1-D tensor (one engine kernel). */
export function flatConcat(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  if (tensors.length === 0) throw new RangeError('flatConcat: tensors must not be empty');
  const dtype = tensors[0]!.dtype;
  tensors.forEach((t, i) => {
    if (t.dtype !== dtype) throw new TypeError(`flatConcat: tensors[${i}] must be ${dtype} like tensors[0], got ${t.dtype}`);
  });
  // One tensor: a reshape moves no data (a copy kernel would copy it all).
  if (tensors.length === 1) return tf.reshape(tensors[0]!, [-1]) as tf.Tensor1D;
  register(tf.getBackend());
  return tf.engine().runKernel(FLAT_CONCAT, tensors as unknown as tf.NamedTensorMap) as tf.Tensor1D;
}

/** A 1-D tensor cut into consecutive pieces of the given shapes (one engine kernel). */
export function flatSplit(flat: tf.Tensor, shapes: readonly (readonly number[])[]): tf.Tensor[] {
  const total = shapes.reduce((a, s) => a + size(s), 0);
  if (flat.rank !== 1 || flat.size !== total) {
    throw new RangeError(`flatSplit: flat must be a 1-D tensor of ${total} elements (the shapes' sizes), got [${flat.shape.join(', ')}]`);
  }
  if (shapes.length === 0) return [];
  register(tf.getBackend());
  return tf.engine().runKernel(FLAT_SPLIT, { x: flat }, { shapes: shapes.map((s) => [...s]) } as unknown as tf.NamedAttrMap) as unknown as tf.Tensor[];
}
