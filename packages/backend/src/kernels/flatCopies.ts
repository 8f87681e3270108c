import * as tf from '@tensorflow/tfjs';

/**
 * `MtdFlatConcat` and `MtdFlatSplit` for webgpu as buffer copies (`copyBufferToBuffer`) instead
 * of compute programs. `@mtd/train` flattens the optimizer's view of the parameters with them
 * every step (the gradients and the values into one vector each, the updated vector back into
 * the 244 refUNet variables): as tfjs programs that was 290 slice and 185 concat dispatches of a
 * step's 1,605, each paying for a bind group, uniforms and a dispatch on the host. A copy is one
 * command, and a contiguous range of a flat vector is exactly a copy. The names and contract are
 * `@mtd/train`'s (`flat-kernels.ts`): `MtdFlatConcat` takes an array of tensors and returns their
 * elements in order as one 1-D tensor; `MtdFlatSplit` takes `{ x }` (1-D) and `{ shapes }` and
 * returns consecutive pieces of `x` shaped so.
 */
export const FLAT_CONCAT_KERNEL = 'MtdFlatConcat';
export const FLAT_SPLIT_KERNEL = 'MtdFlatSplit';

/** The parts of tfjs's WebGPUBackend a copy needs (internal to tfjs 4.22; checked at first use). */
interface CopyingBackend {
  tensorMap: { get(dataId: object): { resource?: unknown; values?: unknown } };
  commandQueueOwnedIds: WeakSet<object>;
  commandEncoder: { copyBufferToBuffer(src: unknown, srcOffset: number, dst: unknown, dstOffset: number, size: number): void };
  makeTensorInfo(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  uploadToGPU(dataId: object): void;
  ensureCommandEncoderReady(): void;
  endComputePassEncoder(): void;
}

const BYTES = 4; // float32, int32 and bool (stored as int32) alike
const sizeOf = (shape: readonly number[]) => shape.reduce((a, d) => a * d, 1);

function copying(backend: unknown, where: string): CopyingBackend {
  const b = backend as CopyingBackend;
  for (const method of ['makeTensorInfo', 'uploadToGPU', 'ensureCommandEncoderReady', 'endComputePassEncoder'] as const) {
    if (typeof b[method] !== 'function') throw new Error(`${where}: this tfjs WebGPU backend has no ${method} (written against tfjs 4.22)`);
  }
  return b;
}

/** The GPU buffer holding `t` (uploaded first if its values are still on the host). */
function bufferOf(b: CopyingBackend, t: tf.TensorInfo): unknown {
  b.uploadToGPU(t.dataId);
  return b.tensorMap.get(t.dataId).resource;
}

/** A new tensor of `shape` with its GPU buffer allocated (contents undefined until written). */
function allocate(b: CopyingBackend, shape: number[], dtype: tf.DataType): { info: tf.TensorInfo; buffer: unknown } {
  const info = b.makeTensorInfo(shape, dtype);
  if (sizeOf(shape) === 0) {
    b.tensorMap.get(info.dataId).values = tf.util.getTypedArrayFromDType(dtype as 'float32', 0);
    return { info, buffer: undefined };
  }
  return { info, buffer: bufferOf(b, info) };
}

/** Copies between whole-element ranges, outside any compute pass; both ends stay alive until the submit. */
function startCopies(b: CopyingBackend): void {
  b.ensureCommandEncoderReady();
  b.endComputePassEncoder();
}

function checkDtype(t: tf.TensorInfo, where: string, name: string): void {
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') throw new TypeError(`${where}: ${name} must be float32, int32 or bool, got ${t.dtype}`);
}

const flatConcatKernel: tf.KernelFunc = ({ inputs, backend }) => {
  const where = FLAT_CONCAT_KERNEL;
  const xs = inputs as unknown as tf.TensorInfo[];
  xs.forEach((x, i) => checkDtype(x, where, `inputs[${i}]`));
  const b = copying(backend, where);
  const total = xs.reduce((a, x) => a + sizeOf(x.shape), 0);
  const out = allocate(b, [total], xs[0]!.dtype);
  if (total === 0) return out.info;
  const sources = xs.map((x) => (sizeOf(x.shape) === 0 ? undefined : bufferOf(b, x)));
  startCopies(b);
  let offset = 0;
  xs.forEach((x, i) => {
    const bytes = BYTES * sizeOf(x.shape);
    if (bytes === 0) return;
    b.commandEncoder.copyBufferToBuffer(sources[i], 0, out.buffer, offset, bytes);
    b.commandQueueOwnedIds.add(x.dataId);
    offset += bytes;
  });
  b.commandQueueOwnedIds.add(out.info.dataId);
  return out.info;
};

const flatSplitKernel: tf.KernelFunc = ({ inputs, backend, attrs }) => {
  const where = FLAT_SPLIT_KERNEL;
  const { x } = inputs as { x: tf.TensorInfo };
  const { shapes } = attrs as unknown as { shapes: number[][] };
  checkDtype(x, where, 'x');
  const total = shapes.reduce((a, s) => a + sizeOf(s), 0);
  if (x.shape.length !== 1 || x.shape[0] !== total) throw new RangeError(`${where}: x must be 1-D with ${total} elements (the shapes' sizes), got [${x.shape.join(', ')}]`);
  const b = copying(backend, where);
  const outs = shapes.map((shape) => allocate(b, [...shape], x.dtype));
  if (total === 0) return outs.map((o) => o.info);
  const source = bufferOf(b, x);
  startCopies(b);
  let offset = 0;
  for (const out of outs) {
    const bytes = BYTES * sizeOf(out.info.shape);
    if (bytes === 0) continue;
    b.commandEncoder.copyBufferToBuffer(source, offset, out.buffer, 0, bytes);
    b.commandQueueOwnedIds.add(out.info.dataId);
    offset += bytes;
  }
  // x may be disposed right after (it is, inside the optimizer's tidy): its buffer must outlive the copies.
  b.commandQueueOwnedIds.add(x.dataId);
  return outs.map((o) => o.info);
};

const CONFIGS: tf.KernelConfig[] = [
  { kernelName: FLAT_CONCAT_KERNEL, backendName: 'webgpu', kernelFunc: flatConcatKernel },
  { kernelName: FLAT_SPLIT_KERNEL, backendName: 'webgpu', kernelFunc: flatSplitKernel },
];

/**
 * Registers (`true`) or removes (`false`) the copy kernels for webgpu. Replaces a kernel of the
 * same name (`@mtd/train` registers a generic one, built on the backend's Concat and Slice, on a
 * backend that has none).
 */
export function setWebgpuFlatCopies(on: boolean): void {
  for (const config of CONFIGS) {
    const present = tf.getKernel(config.kernelName, config.backendName);
    if (present !== undefined && (!on || present.kernelFunc !== config.kernelFunc)) tf.unregisterKernel(config.kernelName, config.backendName);
    if (on && present?.kernelFunc !== config.kernelFunc) tf.registerKernel(config);
  }
}
