import * as tf from '@tensorflow/tfjs';

/**
 * Records the GPU commands that tfjs's WebGPU backend issues while a piece of code runs (a
 * training step), so that `StepGraph` can issue the same commands again without running the code:
 * the "CUDA graph" of this project (issue 7). The recording sits below every kernel, ours and
 * tfjs's alike: it sees the bind groups the backend creates, the dispatches and copies it encodes
 * and the bytes it writes into buffers, and nothing in the kernels needs to know about it.
 *
 * Why: a refUNet training step is ~960 GPU programs, and recording them through tfjs's engine,
 * gradient tape and backend costs the host ~130 ms a step here and ~150 ms on an H200, as much as
 * the GPU needs to run them at batch 256 (BENCHMARKS.md). Issuing recorded commands costs a few
 * Dawn calls each.
 *
 * A recording is only a log; what may be replayed is decided by `StepGraph.fromRecordings`,
 * which compares two recordings of consecutive steps.
 */

/** The parts of a `GPUBuffer` the recording reads. */
export interface GpuBuffer {
  readonly size: number;
  readonly usage: number;
}

/** WebGPU's buffer usage bits (the spec's values; Node has no `GPUBufferUsage` until Dawn loads). */
export const BUFFER_USAGE = { MAP_READ: 0x0001, MAP_WRITE: 0x0002, COPY_SRC: 0x0004, COPY_DST: 0x0008, UNIFORM: 0x0040, STORAGE: 0x0080 } as const;

/** One buffer binding of a dispatch; `uniform` holds a uniform buffer's bytes at dispatch time. */
export interface RecordedBinding {
  readonly binding: number;
  readonly buffer: GpuBuffer;
  readonly offset: number;
  readonly size: number;
  readonly uniform?: Uint8Array;
}

export type RecordedCommand =
  | { readonly kind: 'dispatch'; readonly pipeline: object; readonly layout: object; readonly bindings: readonly RecordedBinding[]; readonly workgroups: readonly [number, number, number] }
  | { readonly kind: 'copy'; readonly src: GpuBuffer; readonly srcOffset: number; readonly dst: GpuBuffer; readonly dstOffset: number; readonly size: number }
  | { readonly kind: 'write'; readonly dst: GpuBuffer; readonly offset: number; readonly bytes: Uint8Array };

/** A tensor's data as the recording saw it: the identity tfjs keys it by, and its buffer. */
export interface RecordedTensor {
  readonly dataId: object;
  readonly buffer: GpuBuffer;
  readonly shape: readonly number[];
  readonly dtype: tf.DataType;
}

/** A variable's data before and after the recorded code. */
export interface RecordedVariable {
  readonly variable: tf.Variable;
  readonly before: { readonly dataId: object; readonly buffer: GpuBuffer | null };
  after?: { readonly dataId: object; readonly buffer: GpuBuffer | null };
}

/** The internals of tfjs's `WebGPUBackend` (4.22) that recording and replay use. */
export interface GraphBackend {
  device: GpuDeviceLike;
  queue: GpuQueueLike;
  commandEncoder: GpuCommandEncoderLike | null;
  tensorMap: { get(dataId: object): { resource: unknown; values: ArrayLike<number> | null | undefined; dtype: tf.DataType; shape: number[]; refCount: number } | undefined; has(dataId: object): boolean };
  bufferManager: { freeBuffers: Map<string, GpuBuffer[]>; numFreeBuffers: number };
  uploadToGPU(dataId: object): void;
  endComputePassEncoder(): void;
  submitQueue(): void;
  incRef(dataId: object): void;
  disposeData(dataId: object, force?: boolean): boolean;
}

export interface GpuDeviceLike {
  createBindGroup(descriptor: { layout: object; entries: { binding: number; resource: unknown }[] }): object;
  createBuffer(descriptor: { size: number; usage: number; mappedAtCreation?: boolean }): GpuBuffer & { destroy(): void; mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void };
  createCommandEncoder(): GpuCommandEncoderLike;
  readonly limits: { readonly minUniformBufferOffsetAlignment: number };
  readonly queue: GpuQueueLike;
}
export interface GpuQueueLike {
  writeBuffer(buffer: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number): void;
  submit(buffers: unknown[]): void;
  onSubmittedWorkDone(): Promise<void>;
}
export interface GpuCommandEncoderLike {
  beginComputePass(descriptor?: object): GpuComputePassLike;
  copyBufferToBuffer(src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number): void;
  finish(): unknown;
}
export interface GpuComputePassLike {
  setPipeline(pipeline: object): void;
  setBindGroup(index: number, group: object): void;
  dispatchWorkgroups(x: number, y?: number, z?: number): void;
  end(): void;
}

/** Set by `@mtd/backend`'s WebGPU backend class: it calls the recording's hooks. */
export const RECORDING_HOOKS = Symbol.for('mtd.stepRecordingHooks');

/** What the backend class calls while a recording is active (see `webgpu.ts`). */
export interface RecordingHooks {
  /** After `uploadToGPU(dataId)`: `dataId`'s data lives in `buffer` now. */
  owner(buffer: unknown, dataId: object): void;
  /** A new command encoder: its commands are recorded. */
  encoder(encoder: GpuCommandEncoderLike): void;
  /** The code read a tensor back: such a step cannot be replayed (its host code depends on GPU values). */
  readBack(): void;
  /** An upload tfjs made by its own path (a dtype the queued path does not take). */
  unsupported(what: string): void;
}

let active: StepRecording | null = null;

/** The recording in progress, if any (for the backend class's hooks). */
export function activeRecording(): RecordingHooks | null {
  return active;
}

function graphBackend(where: string): GraphBackend {
  const backend = tf.backend() as unknown as GraphBackend & { [RECORDING_HOOKS]?: true };
  if (tf.getBackend() !== 'webgpu' || backend[RECORDING_HOOKS] !== true) {
    throw new Error(`${where}: needs the webgpu backend selected by @mtd/backend's selectBackend, got '${tf.getBackend()}'`);
  }
  return backend;
}

/** Submits what tfjs has encoded and not submitted (which also releases its pending disposals). */
export function flushBackend(backend: GraphBackend): void {
  if (backend.commandEncoder !== null && backend.commandEncoder !== undefined) {
    backend.endComputePassEncoder();
    backend.submitQueue();
  }
}

/** Replaces `object[name]` by an own property; returns what puts it back. */
function patch(object: object, name: string, fn: unknown): () => void {
  const o = object as Record<string, unknown>;
  const own = Object.prototype.hasOwnProperty.call(o, name);
  const original = o[name];
  o[name] = fn;
  return () => {
    if (own) o[name] = original;
    else delete o[name];
  };
}

function bytesOf(data: ArrayBufferView | ArrayBuffer, dataOffset = 0, size?: number): Uint8Array {
  if (ArrayBuffer.isView(data)) {
    const element = (data as unknown as { BYTES_PER_ELEMENT?: number }).BYTES_PER_ELEMENT ?? 1;
    const start = data.byteOffset + dataOffset * element;
    const length = size !== undefined ? size * element : data.byteLength - dataOffset * element;
    return new Uint8Array(data.buffer, start, length).slice();
  }
  return new Uint8Array(data, dataOffset, size ?? data.byteLength - dataOffset).slice();
}

/**
 * Starts recording the GPU commands of the code that runs until `finish`. `inputs`: the tensors
 * that carry the step's per-step values (a batch, timesteps, coefficients); they are put on the
 * GPU first, and a replay writes new values into their buffers. Everything else the recorded code
 * uploads must be the same in every step (`StepGraph.fromRecordings` checks two steps).
 *
 * Throws unless the webgpu backend of `selectBackend` is active and no recording is in progress.
 */
export function startStepRecording(inputs: readonly tf.Tensor[]): StepRecording {
  const where = 'startStepRecording';
  const backend = graphBackend(where);
  if (active !== null) throw new Error(`${where}: a recording is already in progress`);
  if (!Array.isArray(inputs) || inputs.some((t) => !(t instanceof tf.Tensor) || t.isDisposed)) {
    throw new TypeError(`${where}: inputs must be an array of live tf.Tensors`);
  }
  return new StepRecording(backend, inputs);
}

export class StepRecording implements RecordingHooks {
  readonly commands: RecordedCommand[] = [];
  readonly inputs: readonly RecordedTensor[];
  outputs: readonly RecordedTensor[] = [];
  readonly variables: readonly RecordedVariable[];
  /** Buffers whose first use in the step is a read (not made by the step), with their owner then. */
  readonly readFirst = new Map<GpuBuffer, object | undefined>();
  /** Why this recording cannot be replayed (first reason), if it cannot. */
  invalid: string | undefined;
  finished = false;
  readonly backend: GraphBackend;
  private readonly seen = new Set<GpuBuffer>();
  private readonly owners = new Map<GpuBuffer, object>();
  private readonly uniforms = new Map<GpuBuffer, Uint8Array>();
  private readonly groups = new WeakMap<object, { layout: object; entries: { binding: number; resource: unknown }[] }>();
  private readonly restore: (() => void)[] = [];
  private pipeline: object | null = null;
  private group: object | null = null;

  constructor(backend: GraphBackend, inputs: readonly tf.Tensor[]) {
    this.backend = backend;
    flushBackend(backend);
    this.inputs = inputs.map((t, i) => {
      backend.uploadToGPU(t.dataId);
      const data = backend.tensorMap.get(t.dataId);
      const buffer = data?.resource as GpuBuffer | undefined;
      if (buffer === undefined || buffer === null || typeof buffer.size !== 'number') {
        throw new TypeError(`startStepRecording: inputs[${i}] is not in a GPU buffer (dtype ${t.dtype})`);
      }
      return { dataId: t.dataId, buffer, shape: [...t.shape], dtype: t.dtype };
    });
    this.variables = Object.values(tf.engine().state.registeredVariables).map((variable) => ({
      variable,
      before: { dataId: variable.dataId, buffer: this.bufferOf(variable.dataId) },
    }));
    this.install();
    active = this;
  }

  /**
   * Ends the recording: submits what tfjs encoded, notes the buffers of `outputs` (the tensors a
   * replay reads back) and where every variable's data is now. The caller may then read the
   * outputs and dispose what the step made; `StepGraph.fromRecordings` is called after that.
   */
  finish(outputs: readonly tf.Tensor[]): void {
    if (this.finished) throw new Error('StepRecording.finish: already finished');
    try {
      flushBackend(this.backend);
    } finally {
      this.uninstall();
      active = null;
      this.finished = true;
    }
    this.outputs = outputs.map((t, i) => {
      const buffer = t.isDisposed ? undefined : this.bufferOf(t.dataId);
      if (buffer === undefined || buffer === null) throw new TypeError(`StepRecording.finish: outputs[${i}] is not in a GPU buffer`);
      return { dataId: t.dataId, buffer, shape: [...t.shape], dtype: t.dtype };
    });
    for (const v of this.variables) v.after = { dataId: v.variable.dataId, buffer: this.bufferOf(v.variable.dataId) };
  }

  /** Drops a recording that was started but is not wanted (e.g. the step threw). */
  abandon(): void {
    if (!this.finished) {
      this.uninstall();
      active = null;
      this.finished = true;
    }
    this.invalid ??= 'abandoned';
  }

  owner(buffer: unknown, dataId: object): void {
    if (buffer !== null && typeof buffer === 'object') this.owners.set(buffer as GpuBuffer, dataId);
  }

  readBack(): void {
    this.fail('the step reads a tensor back from the GPU (its host code could depend on the values)');
  }

  unsupported(what: string): void {
    this.fail(what);
  }

  encoder(encoder: GpuCommandEncoderLike): void {
    const self = this;
    const e = encoder as GpuCommandEncoderLike & Record<string, unknown>;
    const begin = encoder.beginComputePass;
    const copy = encoder.copyBufferToBuffer;
    e.beginComputePass = function (descriptor?: object) {
      if (descriptor !== undefined && (descriptor as { timestampWrites?: unknown }).timestampWrites !== undefined) self.fail('the step is profiled (timestamp queries)');
      const pass = begin.call(encoder, descriptor) as GpuComputePassLike & Record<string, unknown>;
      const setPipeline = pass.setPipeline;
      const setBindGroup = pass.setBindGroup;
      const dispatch = pass.dispatchWorkgroups;
      pass.setPipeline = function (pipeline: object) {
        self.pipeline = pipeline;
        setPipeline.call(pass, pipeline);
      };
      pass.setBindGroup = function (index: number, group: object) {
        if (index !== 0) self.fail(`a dispatch uses bind group ${index} (only group 0 is recorded)`);
        self.group = group;
        setBindGroup.call(pass, index, group);
      };
      pass.dispatchWorkgroups = function (x: number, y = 1, z = 1) {
        self.dispatch(x, y, z);
        dispatch.call(pass, x, y, z);
      };
      pass.dispatchWorkgroupsIndirect = () => {
        self.fail('an indirect dispatch');
        throw new Error('StepRecording: indirect dispatches are not supported while recording');
      };
      return pass;
    };
    e.copyBufferToBuffer = function (src: GpuBuffer, srcOffset: number, dst: GpuBuffer, dstOffset: number, size: number) {
      if ((dst.usage & BUFFER_USAGE.MAP_READ) !== 0) self.readBack();
      else if ((src.usage & BUFFER_USAGE.MAP_WRITE) !== 0) self.fail('an upload through a mapped staging buffer (a dtype other than float32, int32 or bool)');
      else self.push({ kind: 'copy', src, srcOffset, dst, dstOffset, size }, [src], [dst]);
      copy.call(encoder, src, srcOffset, dst, dstOffset, size);
    };
    for (const name of ['clearBuffer', 'resolveQuerySet', 'writeTimestamp', 'copyBufferToTexture', 'copyTextureToBuffer', 'copyTextureToTexture', 'beginRenderPass']) {
      const original = e[name];
      if (typeof original !== 'function') continue;
      e[name] = function (...args: unknown[]) {
        self.fail(`a '${name}' command`);
        return (original as (...a: unknown[]) => unknown).apply(encoder, args);
      };
    }
  }

  private dispatch(x: number, y: number, z: number): void {
    const group = this.group === null ? undefined : this.groups.get(this.group);
    if (this.pipeline === null || group === undefined) {
      this.fail('a dispatch whose bind group was made before the recording started');
      return;
    }
    const bindings: RecordedBinding[] = [];
    for (const entry of group.entries) {
      const r = entry.resource as { buffer?: GpuBuffer; offset?: number; size?: number } | null;
      if (r === null || typeof r !== 'object' || r.buffer === undefined || typeof r.buffer.size !== 'number') {
        this.fail('a dispatch binds a texture or sampler');
        return;
      }
      const offset = r.offset ?? 0;
      const size = r.size ?? r.buffer.size - offset;
      if ((r.buffer.usage & BUFFER_USAGE.UNIFORM) !== 0) {
        const shadow = this.uniforms.get(r.buffer);
        if (shadow === undefined) {
          this.fail('a uniform buffer written before the recording started');
          return;
        }
        bindings.push({ binding: entry.binding, buffer: r.buffer, offset, size, uniform: shadow.slice(offset, offset + size) });
      } else {
        bindings.push({ binding: entry.binding, buffer: r.buffer, offset, size });
      }
    }
    // tfjs binds the output first, then the inputs, then the uniforms (runWebGPUProgram).
    const storage = bindings.filter((b) => b.uniform === undefined).sort((a, b) => a.binding - b.binding);
    this.push({ kind: 'dispatch', pipeline: this.pipeline, layout: group.layout, bindings, workgroups: [x, y, z] }, storage.slice(1).map((b) => b.buffer), storage.slice(0, 1).map((b) => b.buffer));
  }

  private push(command: RecordedCommand, reads: readonly GpuBuffer[], writes: readonly GpuBuffer[]): void {
    for (const b of reads) {
      if (!this.seen.has(b)) {
        this.seen.add(b);
        this.readFirst.set(b, this.owners.get(b));
      }
    }
    for (const b of writes) this.seen.add(b);
    this.commands.push(command);
  }

  private fail(reason: string): void {
    this.invalid ??= reason;
  }

  private bufferOf(dataId: object): GpuBuffer | null {
    const resource = this.backend.tensorMap.get(dataId)?.resource as GpuBuffer | undefined;
    return resource !== undefined && resource !== null && typeof resource.size === 'number' ? resource : null;
  }

  /** Hooks on the device and its queue, taken off again by `uninstall`. */
  private install(): void {
    const self = this;
    const device = this.backend.device;
    const queue = this.backend.queue;
    const createBindGroup = device.createBindGroup;
    const writeBuffer = queue.writeBuffer;
    this.restore.push(
      patch(device, 'createBindGroup', function (descriptor: { layout: object; entries: { binding: number; resource: unknown }[] }) {
        const group = createBindGroup.call(device, descriptor);
        self.groups.set(group, { layout: descriptor.layout, entries: [...descriptor.entries] });
        return group;
      }),
      patch(queue, 'writeBuffer', function (buffer: GpuBuffer, offset: number, data: ArrayBufferView | ArrayBuffer, dataOffset?: number, size?: number) {
        const bytes = bytesOf(data, dataOffset, size);
        if ((buffer.usage & BUFFER_USAGE.UNIFORM) !== 0) {
          let shadow = self.uniforms.get(buffer);
          if (shadow === undefined) self.uniforms.set(buffer, (shadow = new Uint8Array(buffer.size)));
          shadow.set(bytes, offset);
        } else {
          self.push({ kind: 'write', dst: buffer, offset, bytes }, [], [buffer]);
        }
        writeBuffer.call(queue, buffer, offset, data, dataOffset, size);
      }),
    );
  }

  private uninstall(): void {
    for (const undo of this.restore.splice(0)) undo();
  }
}
