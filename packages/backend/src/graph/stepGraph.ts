import * as tf from '@tensorflow/tfjs';
import {
  BUFFER_USAGE,
  flushBackend,
  type GpuBuffer,
  type GpuComputePassLike,
  type GraphBackend,
  type RecordedCommand,
  type RecordedTensor,
  type StepRecording,
} from './stepRecording.js';

type OwnedBuffer = GpuBuffer & { destroy(): void; mapAsync(mode: number): Promise<void>; getMappedRange(): ArrayBuffer; unmap(): void };

/** A command ready to encode: bind groups made, uploads turned into copies from a constants buffer. */
type ReplayCommand =
  | { readonly kind: 'dispatch'; readonly pipeline: object; readonly group: object; readonly workgroups: readonly [number, number, number] }
  | { readonly kind: 'copy'; readonly src: GpuBuffer; readonly srcOffset: number; readonly dst: GpuBuffer; readonly dstOffset: number; readonly size: number };

/** A variable the step replaces: a replay first copies its current data (`out`) to where the step reads it (`in`). */
interface StateCopy {
  readonly variable: tf.Variable;
  readonly outDataId: object;
  readonly out: GpuBuffer;
  readonly in: GpuBuffer | null;
}

const MAP_READ_MODE = 0x0001;

/** Why two recordings cannot make a graph; the trainer reports it and runs its steps the usual way. */
export class StepGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StepGraphError';
  }
}

/**
 * A training step recorded on the WebGPU backend, issued again without running its code: the
 * host work per step falls from recording ~960 programs through tfjs's engine, tape and backend
 * to one command buffer of pre-made bind groups (issue 7). Made by `fromRecordings` from two
 * recordings of consecutive steps that issued the same commands: the same programs on
 * corresponding buffers with the same uniforms and the same uploaded constants. What changes
 * from step to step enters through the recording's inputs (a replay writes the new values into
 * their buffers) and the variables (a replay reads each variable's current data and leaves the
 * new data where the variable holds it, so the model, the optimizer state and checkpoints see
 * every step).
 *
 * The buffers the step uses for its intermediates are taken out of tfjs's pool for the graph's
 * life and given back by `dispose`; tensors the step reads but does not make (constants cached by
 * a model) are kept alive. A graph is `current` while every variable it replaces or reads still
 * holds the data it had after the recording (assigning a variable, e.g. restoring a checkpoint,
 * ends that: record again).
 */
export class StepGraph {
  private readonly backend: GraphBackend;
  private readonly commands: readonly ReplayCommand[];
  private readonly inputs: readonly RecordedTensor[];
  private readonly outputs: readonly RecordedTensor[];
  private readonly states: readonly StateCopy[];
  /** Variables read but not replaced, with the data they must still hold. */
  private readonly readVariables: readonly { variable: tf.Variable; dataId: object }[];
  /** Buffers taken from tfjs's pool, by pool key. */
  private readonly reserved: readonly GpuBuffer[];
  private readonly pinned: readonly object[];
  private readonly owned: readonly OwnedBuffer[];
  /** Read-back buffers, one set per run in flight (a set is reused once its run has resolved). */
  private readonly stagingSets: OwnedBuffer[][];
  private readonly freeStaging: OwnedBuffer[][];
  private readonly swap: OwnedBuffer | null;
  private readonly running = new Set<Promise<unknown>>();
  private disposed = false;
  /** GPU commands of one replay (dispatches and copies, including the state and output copies). */
  readonly commandCount: number;

  private constructor(parts: {
    backend: GraphBackend;
    commands: ReplayCommand[];
    inputs: readonly RecordedTensor[];
    outputs: readonly RecordedTensor[];
    states: StateCopy[];
    readVariables: { variable: tf.Variable; dataId: object }[];
    reserved: GpuBuffer[];
    pinned: object[];
    owned: OwnedBuffer[];
    staging: OwnedBuffer[];
    swap: OwnedBuffer | null;
  }) {
    this.backend = parts.backend;
    this.commands = parts.commands;
    this.inputs = parts.inputs;
    this.outputs = parts.outputs;
    this.states = parts.states;
    this.readVariables = parts.readVariables;
    this.reserved = parts.reserved;
    this.pinned = parts.pinned;
    this.owned = parts.owned;
    this.stagingSets = [parts.staging];
    this.freeStaging = [parts.staging];
    this.swap = parts.swap;
    this.commandCount = this.commands.length + this.states.filter((s) => s.in !== null).length * (this.swap === null ? 1 : 2) + this.outputs.length;
  }

  /**
   * A graph from two finished recordings of consecutive runs of the same step, replaying the
   * second. Call it once the second step's tensors are disposed (its intermediates must be back in
   * tfjs's pool) and before anything else runs on the backend. Throws `StepGraphError` naming the
   * first difference when the two did not issue the same commands (a per-step value the step
   * computes on the host and uploads, a uniform that changes, a different program), or when the
   * second recording cannot be replayed (it read a tensor back, it was profiled, a tensor it made
   * outlives it).
   */
  static fromRecordings(first: StepRecording, second: StepRecording): StepGraph {
    for (const [name, r] of [['first', first], ['second', second]] as const) {
      if (!r.finished) throw new StepGraphError(`StepGraph.fromRecordings: the ${name} recording is not finished`);
      if (r.invalid !== undefined) throw new StepGraphError(`the ${name} recorded step cannot be replayed: ${r.invalid}`);
    }
    const backend = second.backend;
    if (first.backend !== backend || (tf.backend() as unknown) !== backend) throw new StepGraphError('the recordings were made on another backend instance');
    compare(first, second);
    return build(backend, second);
  }

  /**
   * Whether the variables still hold the data the graph reads and replaces (see the class), and
   * no other tensor shares the data a replay changes in place (a `tf.clone` of a variable keeps
   * its values when a step runs through tfjs, which gives the variable new data).
   */
  get current(): boolean {
    if (this.disposed || (tf.backend() as unknown) !== this.backend) return false;
    const sole = (dataId: object) => this.backend.tensorMap.get(dataId)?.refCount === 1;
    return (
      this.states.every((s) => !s.variable.isDisposed && s.variable.dataId === s.outDataId && sole(s.outDataId)) &&
      this.readVariables.every((r) => !r.variable.isDisposed && r.variable.dataId === r.dataId)
    );
  }

  /**
   * Runs the step again with new `inputs` (tensors shaped like the recording's, on the CPU or the
   * GPU; the caller keeps and disposes them) and resolves with the outputs' values. A run may be
   * queued while earlier ones are in flight (the GPU runs them in order, each reading the
   * variables the one before left): the host prepares step k + 1 while the GPU runs step k. The
   * variables hold the step's results when it resolves (and for any tfjs work queued after the
   * call, at once). Throws at once, having queued nothing, on bad inputs, and
   * `StepGraphError` when the graph is no longer `current` (so the caller can run the step the
   * usual way with the same inputs).
   */
  run(inputs: readonly tf.Tensor[]): Promise<tf.TypedArray[]> {
    const where = 'StepGraph.run';
    if (this.disposed) throw new Error(`${where}: the graph is disposed`);
    if (!this.current) throw new StepGraphError(`${where}: a variable the graph reads or replaces was assigned since it was recorded, or its data is shared with another tensor (or the backend changed): record the step again`);
    if (!Array.isArray(inputs) || inputs.length !== this.inputs.length) throw new RangeError(`${where}: inputs must be ${this.inputs.length} tensors, got ${Array.isArray(inputs) ? inputs.length : typeof inputs}`);
    inputs.forEach((t, i) => {
      const want = this.inputs[i]!;
      if (!(t instanceof tf.Tensor) || t.isDisposed || t.dtype !== want.dtype || t.shape.length !== want.shape.length || t.shape.some((d: number, j: number) => d !== want.shape[j])) {
        throw new RangeError(`${where}: inputs[${i}] must be a live ${want.dtype} tensor [${want.shape.join(', ')}], got ${t instanceof tf.Tensor ? `${t.dtype} [${t.shape.join(', ')}]${t.isDisposed ? ' (disposed)' : ''}` : typeof t}`);
      }
    });
    const backend = this.backend;
    // tfjs's queued work (which may compute an input) goes first.
    flushBackend(backend);
    const device = backend.device;
    const encoder = device.createCommandEncoder();
    const copies: ReplayCommand[] = [];
    inputs.forEach((t, i) => {
      const slot = this.inputs[i]!.buffer;
      const data = backend.tensorMap.get(t.dataId)!;
      if (data.values !== null && data.values !== undefined) {
        const given = data.values;
        const values = t.dtype === 'float32' ? (given instanceof Float32Array ? given : Float32Array.from(given)) : given instanceof Int32Array ? given : Int32Array.from(given);
        backend.queue.writeBuffer(slot, 0, values);
      } else {
        const buffer = data.resource as GpuBuffer;
        copies.push({ kind: 'copy', src: buffer, srcOffset: 0, dst: slot, dstOffset: 0, size: byteSize(this.inputs[i]!) });
      }
    });
    for (const s of this.states) {
      if (s.in === null) continue;
      if (this.swap === null) copies.push({ kind: 'copy', src: s.out, srcOffset: 0, dst: s.in, dstOffset: 0, size: s.out.size });
    }
    if (this.swap !== null) {
      // Some variable's new buffer is another's old one: stage every copy so none reads a value
      // that an earlier copy of this replay overwrote.
      let at = 0;
      const staged = this.states.filter((s) => s.in !== null).map((s) => {
        const offset = at;
        at += s.out.size;
        copies.push({ kind: 'copy', src: s.out, srcOffset: 0, dst: this.swap!, dstOffset: offset, size: s.out.size });
        return { s, offset };
      });
      for (const { s, offset } of staged) copies.push({ kind: 'copy', src: this.swap, srcOffset: offset, dst: s.in!, dstOffset: 0, size: s.out.size });
    }
    // Inputs' slots and intermediates are shared by queued runs: the queue orders every write and
    // copy after the work submitted before it. Read-back buffers are not (one mapped or being
    // mapped cannot be written), so each run in flight has its own.
    const staging = this.freeStaging.pop() ?? this.newStaging();
    const outputs = this.outputs.map((o, i): ReplayCommand => ({ kind: 'copy', src: o.buffer, srcOffset: 0, dst: staging[i]!, dstOffset: 0, size: staging[i]!.size }));
    let pass: GpuComputePassLike | null = null;
    let pipeline: object | null = null;
    for (const list of [copies, this.commands, outputs]) {
      for (const c of list) {
        if (c.kind === 'dispatch') {
          if (pass === null) {
            pass = encoder.beginComputePass();
            pipeline = null;
          }
          if (c.pipeline !== pipeline) pass.setPipeline((pipeline = c.pipeline));
          pass.setBindGroup(0, c.group);
          pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
        } else {
          if (pass !== null) {
            pass.end();
            pass = null;
          }
          encoder.copyBufferToBuffer(c.src, c.srcOffset, c.dst, c.dstOffset, c.size);
        }
      }
    }
    if (pass !== null) pass.end();
    backend.queue.submit([encoder.finish()]);
    // A variable read back before keeps its values cached on the CPU (tfjs assumes a tensor's data
    // never changes); the replay just changed them on the GPU.
    for (const s of this.states) {
      const data = backend.tensorMap.get(s.outDataId);
      if (data !== undefined) data.values = null;
    }
    const read = Promise.all(
      staging.map(async (buffer, i) => {
        await buffer.mapAsync(MAP_READ_MODE);
        try {
          const bytes = buffer.getMappedRange().slice(0, byteSize(this.outputs[i]!));
          return this.outputs[i]!.dtype === 'float32' ? new Float32Array(bytes) : new Int32Array(bytes);
        } finally {
          buffer.unmap();
        }
      }),
    );
    const done = read.finally(() => {
      this.running.delete(done);
      if (!this.disposed) this.freeStaging.push(staging);
    });
    this.running.add(done);
    return done;
  }

  /** Runs now in flight (queued and not yet resolved). */
  get inFlight(): number {
    return this.running.size;
  }

  private newStaging(): OwnedBuffer[] {
    const set = this.outputs.map((o) => this.backend.device.createBuffer({ size: Math.max(4, byteSize(o)), usage: BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST }) as OwnedBuffer);
    this.stagingSets.push(set);
    return set;
  }

  /**
   * Gives the intermediates' buffers back to tfjs's pool, lets go of the tensors the graph kept
   * alive and frees its own buffers (once the GPU is done with them). Idempotent.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const backend = this.backend;
    if ((tf.backend() as unknown) === backend) {
      returnToPool(backend, this.reserved);
      for (const dataId of this.pinned) backend.disposeData(dataId);
    }
    const own = [...this.owned, ...this.stagingSets.flat(), ...(this.swap === null ? [] : [this.swap])];
    void Promise.allSettled([...this.running])
      .then(() => backend.queue.onSubmittedWorkDone())
      .catch(() => undefined)
      .then(() => own.forEach((b) => b.destroy()));
  }
}

/** Puts buffers taken out of tfjs's pool (by `build`) back into it. */
function returnToPool(backend: GraphBackend, buffers: readonly GpuBuffer[]): void {
  const pool = backend.bufferManager.freeBuffers;
  for (const b of buffers) {
    const key = `${b.size}_${b.usage}`;
    if (!pool.has(key)) pool.set(key, []);
    pool.get(key)!.push(b);
    backend.bufferManager.numFreeBuffers++;
  }
}

function byteSize(t: { shape: readonly number[] }): number {
  return 4 * t.shape.reduce((a, d) => a * d, 1);
}

function describe(c: RecordedCommand, i: number): string {
  if (c.kind === 'dispatch') return `command ${i} (a dispatch of ${c.workgroups.join('x')} workgroups)`;
  if (c.kind === 'copy') return `command ${i} (a copy of ${c.size} bytes)`;
  return `command ${i} (an upload of ${c.bytes.byteLength} bytes)`;
}

function sameBytes(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Checks that two recordings issued the same commands on corresponding buffers (a one-to-one
 * map, followed through every command), that inputs, outputs, replaced variables and tensors read
 * from outside correspond, and that the latter are the same tensors (not a new upload each step).
 */
function compare(a: StepRecording, b: StepRecording): void {
  const fail = (what: string): never => {
    throw new StepGraphError(`two consecutive steps differ: ${what}; a value the step computes on the host (not one of its inputs) or a program's settings changed between them`);
  };
  if (a.commands.length !== b.commands.length) fail(`they issued ${a.commands.length} and ${b.commands.length} commands`);
  if (a.inputs.length !== b.inputs.length || a.outputs.length !== b.outputs.length) fail('their inputs or outputs differ in number');
  const ab = new Map<GpuBuffer, GpuBuffer>();
  const ba = new Map<GpuBuffer, GpuBuffer>();
  const match = (x: GpuBuffer, y: GpuBuffer, what: string) => {
    const mx = ab.get(x);
    const my = ba.get(y);
    if (mx === undefined && my === undefined) {
      if (x.size !== y.size || x.usage !== y.usage) fail(`${what} uses buffers of different sizes`);
      ab.set(x, y);
      ba.set(y, x);
    } else if (mx !== y || my !== x) {
      fail(`${what} uses a buffer the other step used elsewhere`);
    }
  };
  a.inputs.forEach((x, i) => {
    const y = b.inputs[i]!;
    if (x.dtype !== y.dtype || x.shape.join() !== y.shape.join()) fail(`inputs[${i}] has another shape or dtype`);
    match(x.buffer, y.buffer, `inputs[${i}]`);
  });
  a.commands.forEach((x, i) => {
    const y = b.commands[i]!;
    const what = describe(y, i);
    if (x.kind !== y.kind) fail(`${what} is a different kind of command`);
    if (x.kind === 'dispatch' && y.kind === 'dispatch') {
      if (x.pipeline !== y.pipeline) fail(`${what} runs another program`);
      if (x.workgroups.join() !== y.workgroups.join()) fail(`${what} has another size`);
      if (x.bindings.length !== y.bindings.length) fail(`${what} binds another number of buffers`);
      x.bindings.forEach((bx, j) => {
        const by = y.bindings[j]!;
        if (bx.binding !== by.binding || bx.offset !== by.offset || bx.size !== by.size) fail(`${what} binds differently`);
        if (!sameBytes(bx.uniform, by.uniform)) fail(`${what} has other uniform values`);
        if (bx.uniform === undefined) match(bx.buffer, by.buffer, what);
      });
    } else if (x.kind === 'copy' && y.kind === 'copy') {
      if (x.srcOffset !== y.srcOffset || x.dstOffset !== y.dstOffset || x.size !== y.size) fail(`${what} copies another range`);
      match(x.src, y.src, what);
      match(x.dst, y.dst, what);
    } else if (x.kind === 'write' && y.kind === 'write') {
      if (x.offset !== y.offset || !sameBytes(x.bytes, y.bytes)) fail(`${what} uploads other values`);
      match(x.dst, y.dst, what);
    }
  });
  a.outputs.forEach((x, i) => {
    const y = b.outputs[i]!;
    if (x.dtype !== y.dtype || x.shape.join() !== y.shape.join()) fail(`outputs[${i}] has another shape or dtype`);
    match(x.buffer, y.buffer, `outputs[${i}]`);
  });
  // Read from outside the step: the same data in both (a tensor uploaded anew each step would be a
  // per-step value that is not an input).
  const inputBuffers = new Set(b.inputs.map((t) => t.buffer));
  const varsBefore = new Map(b.variables.map((v) => [v.before.buffer, v]));
  for (const [buffer, owner] of b.readFirst) {
    if (inputBuffers.has(buffer) || varsBefore.has(buffer)) continue;
    const other = ba.get(buffer);
    if (other === undefined || a.readFirst.get(other) !== owner || owner === undefined) {
      fail('the step reads a tensor made outside it that is not the same in both steps');
    }
  }
  // Variables replaced in both, at corresponding buffers.
  const replaced = (r: StepRecording) => new Map(r.variables.filter((v) => v.after !== undefined && v.after.dataId !== v.before.dataId).map((v) => [v.variable, v]));
  const ra = replaced(a);
  const rb = replaced(b);
  if (ra.size !== rb.size || [...rb.keys()].some((v) => !ra.has(v))) fail('they replace different variables');
  for (const [variable, y] of rb) {
    const x = ra.get(variable)!;
    for (const side of ['before', 'after'] as const) {
      const bx = x[side]?.buffer ?? null;
      const by = y[side]?.buffer ?? null;
      if ((bx === null) !== (by === null) || (bx !== null && by !== null && ab.has(bx) && ab.get(bx) !== by)) fail(`variable '${variable.name}' is kept in buffers that do not correspond`);
    }
  }
}

/** Takes the second recording's buffers out of tfjs's pool and prepares its commands. */
function build(backend: GraphBackend, r: StepRecording): StepGraph {
  const used = new Set<GpuBuffer>();
  for (const c of r.commands) {
    if (c.kind === 'dispatch') for (const b of c.bindings) if (b.uniform === undefined) used.add(b.buffer);
    if (c.kind === 'copy') used.add(c.src).add(c.dst);
    if (c.kind === 'write') used.add(c.dst);
  }
  for (const t of [...r.inputs, ...r.outputs]) used.add(t.buffer);
  const changed = r.variables.filter((v) => v.after !== undefined && v.after.dataId !== v.before.dataId);
  const heldByVariables = new Set<GpuBuffer>();
  for (const v of r.variables) if (v.after?.buffer) heldByVariables.add(v.after.buffer);
  const beforeOf = new Map(r.variables.filter((v) => v.before.buffer !== null).map((v) => [v.before.buffer!, v]));
  // Read from outside: pinned tensors, or variables that must not change (checked per run).
  const pinned: object[] = [];
  const readVariables: { variable: tf.Variable; dataId: object }[] = [];
  const external = new Set<GpuBuffer>();
  for (const [buffer, owner] of r.readFirst) {
    if (r.inputs.some((t) => t.buffer === buffer)) continue;
    const v = beforeOf.get(buffer);
    if (v !== undefined) {
      if (v.after?.dataId === v.before.dataId) {
        readVariables.push({ variable: v.variable, dataId: v.before.dataId });
        external.add(buffer);
      }
      continue;
    }
    if (owner === undefined || !backend.tensorMap.has(owner)) throw new StepGraphError('the step reads a tensor made outside it that no longer exists');
    pinned.push(owner);
    external.add(buffer);
  }
  // Everything else the step touches must be back in tfjs's pool: take it out.
  const pool = backend.bufferManager.freeBuffers;
  const reserved: GpuBuffer[] = [];
  const giveBack = () => returnToPool(backend, reserved);
  for (const b of used) {
    if (external.has(b) || heldByVariables.has(b)) continue;
    const list = pool.get(`${b.size}_${b.usage}`);
    const at = list === undefined ? -1 : list.indexOf(b);
    if (at < 0) {
      giveBack();
      throw new StepGraphError('a tensor the step made is still alive after it (the graph would overwrite it); dispose what the step makes before building the graph');
    }
    list!.splice(at, 1);
    backend.bufferManager.numFreeBuffers--;
    reserved.push(b);
  }
  const device = backend.device;
  const owned: OwnedBuffer[] = [];
  let commands: ReplayCommand[];
  try {
    commands = prepare(device, backend, r.commands, owned);
  } catch (error) {
    giveBack();
    owned.forEach((b) => b.destroy());
    throw error;
  }
  for (const dataId of pinned) backend.incRef(dataId);
  const states: StateCopy[] = changed.map((v) => {
    if (v.after!.buffer === null) throw new StepGraphError(`variable '${v.variable.name}' is not on the GPU after the step`);
    return { variable: v.variable, outDataId: v.after!.dataId, out: v.after!.buffer, in: v.before.buffer !== null && used.has(v.before.buffer) ? v.before.buffer : null };
  });
  const outs = new Set(states.map((s) => s.out));
  const overlapping = states.some((s) => s.in !== null && outs.has(s.in));
  const stateBytes = states.reduce((a, s) => a + (s.in === null ? 0 : s.out.size), 0);
  const swap = overlapping && stateBytes > 0 ? device.createBuffer({ size: stateBytes, usage: BUFFER_USAGE.COPY_SRC | BUFFER_USAGE.COPY_DST }) : null;
  const staging = r.outputs.map((o) => device.createBuffer({ size: Math.max(4, byteSize(o)), usage: BUFFER_USAGE.MAP_READ | BUFFER_USAGE.COPY_DST }));
  return new (StepGraph as unknown as new (parts: object) => StepGraph)({
    backend,
    commands,
    inputs: r.inputs,
    outputs: r.outputs,
    states,
    readVariables,
    reserved,
    pinned,
    owned,
    staging,
    swap,
  });
}

/**
 * The recorded commands with their uniforms moved into one buffer of the graph's (each at an
 * aligned offset, identical ones shared) and new bind groups pointing there, and every upload the
 * step made turned into a copy from one constants buffer at the same place in the stream: tfjs
 * only writes a buffer no queued command still uses, so the copy is equivalent, and the whole
 * step fits one command buffer.
 */
function prepare(device: GraphBackend['device'], backend: GraphBackend, recorded: readonly RecordedCommand[], owned: OwnedBuffer[]): ReplayCommand[] {
  const align = device.limits.minUniformBufferOffsetAlignment;
  // Each distinct uniform block once, at an aligned offset; `offsetOf` for every binding's block.
  const byContent = new Map<string, number>();
  const offsetOf = new Map<Uint8Array, number>();
  const uniformBlobs: [Uint8Array, number][] = [];
  let uniformBytes = 0;
  let constantBytes = 0;
  for (const c of recorded) {
    if (c.kind === 'dispatch') {
      for (const b of c.bindings) {
        if (b.uniform === undefined) continue;
        const key = Buffer.from(b.uniform.buffer, b.uniform.byteOffset, b.uniform.byteLength).toString('base64');
        let at = byContent.get(key);
        if (at === undefined) {
          byContent.set(key, (at = uniformBytes));
          uniformBlobs.push([b.uniform, at]);
          uniformBytes = Math.ceil((uniformBytes + b.uniform.byteLength) / align) * align;
        }
        offsetOf.set(b.uniform, at);
      }
    } else if (c.kind === 'write') {
      constantBytes += Math.ceil(c.bytes.byteLength / 4) * 4;
    }
  }
  const uniforms = uniformBytes > 0 ? device.createBuffer({ size: uniformBytes, usage: BUFFER_USAGE.UNIFORM | BUFFER_USAGE.COPY_DST }) : null;
  if (uniforms !== null) owned.push(uniforms);
  const constants = constantBytes > 0 ? device.createBuffer({ size: constantBytes, usage: BUFFER_USAGE.COPY_SRC | BUFFER_USAGE.COPY_DST }) : null;
  if (constants !== null) owned.push(constants);
  if (uniforms !== null) {
    const all = new Uint8Array(uniformBytes);
    for (const [blob, at] of uniformBlobs) all.set(blob, at);
    backend.queue.writeBuffer(uniforms, 0, all);
  }
  const constantData = new Uint8Array(constantBytes);
  let constantAt = 0;
  const out: ReplayCommand[] = recorded.map((c): ReplayCommand => {
    if (c.kind === 'copy') return c;
    if (c.kind === 'write') {
      if (c.bytes.byteLength % 4 !== 0 || c.offset % 4 !== 0) throw new StepGraphError('the step uploads a value whose size is not a multiple of 4 bytes');
      const at = constantAt;
      constantData.set(c.bytes, at);
      constantAt += c.bytes.byteLength;
      return { kind: 'copy', src: constants!, srcOffset: at, dst: c.dst, dstOffset: c.offset, size: c.bytes.byteLength };
    }
    const entries = c.bindings.map((b) => {
      if (b.uniform === undefined) return { binding: b.binding, resource: { buffer: b.buffer, offset: b.offset, size: b.size } };
      return { binding: b.binding, resource: { buffer: uniforms!, offset: offsetOf.get(b.uniform)!, size: b.size } };
    });
    return { kind: 'dispatch', pipeline: c.pipeline, group: device.createBindGroup({ layout: c.layout, entries }), workgroups: c.workgroups };
  });
  if (constants !== null) backend.queue.writeBuffer(constants, 0, constantData);
  return out;
}
