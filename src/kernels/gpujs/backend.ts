// The gpu.js backend: every Backend method as gpu.js kernels, tensors resident on the device.
//
// Adding a kernel (dropout, a new loss, …): (1) write its source in sources.ts, one string per
// op, a thread per flat output element, shapes as constants, row views read through offset
// arguments (`x, xOff`); several outputs go through sub-kernel functions (see the top of
// sources.ts). (2) Here, add the Backend method: check shapes, take a cached kernel with
// this.kernel(key, spec) (key names the op and every constant), run it with
// this.run(kernel, ...this.at(x), …) and this.commit(out, result); for several outputs use
// this.runOutputs(key, spec, args), which is one kernel map in GL/cpu modes and one kernel per
// output in webgpu. Nothing else differs by mode: the same source becomes GLSL, WGSL or
// JavaScript. (3) Add the op to the conformance suite (test/kernels/conformance.test.ts),
// which runs it on every mode CI has (cpu, headlessgl, webgpu). A new recurrent cell needs none
// of (2): it is one file in cells/ (its passes, see cells/cell.ts) and a line in cells/index.ts.
//
// Modes. 'headlessgl' (GLSL fragment shaders on textures, through headless-gl), 'webgpu'
// (WGSL compute shaders on storage buffers, through Dawn: Vulkan, Metal, D3D12) and 'cpu'.
//
// Storage. A root tensor owns one gpu.js output: a Texture in headlessgl, a pipeline buffer
// (WebGPUBufferResult) in webgpu, a Float32Array in cpu mode. Kernels run with
// `pipeline: true, immutable: true`, so each returns a fresh texture or buffer and the
// backend swaps it into the root (deleting the old one); nothing is read back until
// download(). A row view is (root, element offset): kernels read it through an offset
// argument; a kernel writing a view computes a compact result of the view's size.
//
// webgpu is asynchronous: a kernel call answers with a promise of its buffer (its first call
// also compiles the shader). The Backend's methods stay synchronous: in webgpu mode every
// kernel call, release and read-back joins one queue (this.tail) in program order, and a
// root's storage is the promise of its buffer; download() awaits its place in the queue. So
// the engine's calls mean the same in every mode, and a failure surfaces at the next call.
//
// Row views on GPU modes (headlessgl, webgpu). A kernel's output is always a whole new texture, so splicing a view's
// result into its root costs the root's size: the engine writes one [B, ·] view per time step
// of a [T·B, ·] tensor, which made a window cost T² view-sized copies. So a GL root is kept
// in blocks: the first row view of a root that tiles it (its size divides the root's, at an
// offset that is a multiple of that size) fixes a block size, and a write that lies inside
// one block keeps its result as that block's own texture (root.blocks), newer than root.data
// there. A read inside one block reads that texture; any other read first merges the pending
// blocks into root.data, up to MERGE_BLOCKS per full-size pass (once a window, not once a
// step). cpu mode writes views in place with set().
//
// Kernels. One gpu.js kernel per (operation, shape), built on first use and cached: shapes are
// compile-time constants, so loops have constant bounds (see sources.ts). Settings are always
// explicit, because gpu.js degrades quietly otherwise: precision 'single' (not 8-bit
// 'unsigned' textures), tactic 'precision' (highp, never lowp/mediump shaders), and
// loopMaxIterations above every loop bound.
//
// Where webgpu differs: no kernel maps, so the multi-output ops (a cell pass with subOutputs,
// the softmax row pass, Adam) run once per output, each pass recomputing the shared arithmetic;
// and a merge of pending blocks takes MERGE_BLOCKS_WEBGPU blocks per pass (the storage-buffer
// limit), not MERGE_BLOCKS.
//
// Letters: B batch, H hidden, E embedding, V vocab, N rows of a window (T·B).

import { GPU } from 'gpu.js';
import {
  AdamParams, Backend, CellKernels, CellName, CellStep, CellStepGrad, FloatArray, IndexTensor, MatmulOptions, QuantTensor,
  Tensor, adamScalars, cellDims, cellKernelsOf, matmulDims, matmulQuantDims, quantizeRows, sameShape, softmaxCrossEntropyDims,
} from '../backend';
import { CellPass, GPUJS_CELLS, StepTensor, cellHelpers, cellSubKernels } from './cells';
import { quietly } from './quiet';
import * as src from './sources';
import { releaseWebGpu, takeDeviceErrors } from './webgpu';

/** The gpu.js modes this backend runs on. */
export type GpujsKernelMode = 'headlessgl' | 'webgpu' | 'cpu';

/** A device texture (headlessgl) or buffer (webgpu; toArray is then a promise), or a plain array (cpu). */
interface GpuTexture {
  delete(): void;
  toArray(): ArrayLike<number> | Promise<ArrayLike<number>>;
}
/** webgpu: a buffer not yet made; it settles in queue order (see the top of this file). */
type Pending = Promise<GpuTexture>;
type Storage = GpuTexture | Float32Array | Pending;

// Our kernels index with float32 arithmetic (rowOf in sources.ts): integers are exact below 2^24.
const MAX_GPU_ELEMENTS = 1 << 24;
/**
 * Blocks merged into a root per full-size pass: each is a texture argument of the merge
 * kernel, and a fragment shader may sample 16 textures (GL ES 2.0 guarantees only 8; WebGL
 * contexts on desktop Mesa, ANGLE and GPUs give at least 16). 8 + the root's own is 9.
 */
const MERGE_BLOCKS = 8;
/**
 * WebGPU's default limit is 8 storage buffers per shader stage (gpu.js asks for no more), and
 * the merge kernel's output is one of them: 6 blocks + the root + the output.
 */
const MERGE_BLOCKS_WEBGPU = 6;
/** How many of gpu.js's console messages a backend keeps for diagnostics. */
const MAX_MESSAGES = 100;

class Root {
  disposed = false;
  /** Elements per block, fixed by the first row view that tiles the root; 0: one piece. */
  blockSize = 0;
  /** Block k's contents where newer than data's elements [k·blockSize, (k+1)·blockSize). */
  readonly blocks = new Map<number, Storage>();
  constructor(public data: Storage, readonly size: number) {}
}

class GpuTensor implements Tensor {
  readonly size: number;
  constructor(
    readonly id: number,
    readonly rows: number,
    readonly cols: number,
    readonly root: Root,
    /** Element offset of this tensor's first value in root (0 unless a row view). */
    readonly offset: number,
  ) {
    this.size = rows * cols;
  }
}

class GpuIndices implements IndexTensor {
  constructor(readonly id: number, readonly length: number, readonly root: Root) {}
}

/** A gpu.js kernel as we call it: arguments in, one output (or a kernel map's outputs). */
type KernelFn = (...args: unknown[]) => unknown;
type KernelMapResult = { result: Storage } & Record<string, Storage>;

interface KernelSpec {
  source: string;
  output: number;
  constants?: Record<string, number>;
  /** Sub-kernels of a kernel map, by output name (GL and cpu modes; see runOutputs). */
  subKernels?: Record<string, string>;
  /** The longest loop in the kernel, so gpu.js's loop cap never truncates it. */
  loopBound?: number;
}

/** Device storage (anything but cpu mode's arrays). */
function isTexture(x: Storage): x is GpuTexture | Pending {
  return !(x instanceof Float32Array);
}

function isPending(x: Storage): x is Pending {
  return typeof (x as { then?: unknown }).then === 'function';
}

function noop(): void {
  // a settled promise's handler that does nothing
}

export class GpujsBackend implements Backend {
  readonly name = 'gpujs';
  /** What gpu.js printed while we were calling it, for diagnostics. */
  readonly messages: string[] = [];
  private readonly gpu: GPU;
  private readonly kernels = new Map<string, KernelFn>();
  private readonly roots = new Set<Root>();
  private nextId = 1;
  /**
   * Storage a flush replaced, released at the next commit, not at once: an earlier argument
   * of the kernel being called may have been read from it (a block, then the whole root).
   */
  private readonly retired: Storage[] = [];
  private destroyed = false;
  /** webgpu: the end of the queue every kernel call, release and read-back joins. */
  private tail: Promise<void> = Promise.resolve();
  /** webgpu: the first failure in the queue, raised at every later call. */
  private failure: Error | null = null;

  constructor(readonly mode: GpujsKernelMode, readonly description: string) {
    this.gpu = quietly(this.messages, () => new GPU({ mode }));
    const gpu = this.gpu as unknown as { addFunction(source: string): void };
    for (const helper of [...src.HELPERS, ...cellHelpers()]) gpu.addFunction(helper);
    // No kernel maps in webgpu: the sub-kernel functions become plain functions (see runOutputs).
    if (mode === 'webgpu') for (const helper of [...src.SUBKERNEL_HELPERS, ...cellSubKernels()]) gpu.addFunction(helper);
  }

  // ---- kernels ----------------------------------------------------------------------------

  private kernel(key: string, spec: KernelSpec): KernelFn {
    const cached = this.kernels.get(key);
    if (cached) return cached;
    const settings = {
      output: [spec.output],
      pipeline: true,
      immutable: true,
      precision: 'single' as const,
      tactic: 'precision' as const,
      // Texture sizes become uniforms: a kernel accepts any root a view points into.
      dynamicArguments: true,
      dynamicOutput: false,
      constants: spec.constants ?? {},
      loopMaxIterations: Math.max(1000, (spec.loopBound ?? 0) + 1),
    };
    const gpu = this.gpu as unknown as {
      createKernel(source: string, settings: object): KernelFn;
      createKernelMap(subKernels: Record<string, string>, source: string, settings: object): KernelFn;
    };
    const kernel = quietly(this.messages, () => (spec.subKernels
      ? gpu.createKernelMap(spec.subKernels, spec.source, settings)
      : gpu.createKernel(spec.source, settings)));
    this.kernels.set(key, kernel);
    return kernel;
  }

  /** Runs a kernel; a quiet fallback to gpu.js's cpu kernels in a GL mode is an error. */
  private run<T>(kernel: KernelFn, ...args: unknown[]): T {
    if (this.destroyed) throw new Error('gpujs backend: used after destroy()');
    if (this.mode === 'webgpu') return this.enqueueKernel(kernel, args) as T;
    const printed: string[] = [];
    const out = quietly(printed, () => kernel(...args)) as T;
    if (printed.length > 0) {
      // Keep the latest few for diagnostics; a warning per run must not grow without bound.
      this.messages.push(...printed);
      this.messages.splice(0, Math.max(0, this.messages.length - MAX_MESSAGES));
      const fellBack = printed.find((m) => /fall(ing)? ?back/i.test(m));
      if (fellBack) throw new Error(`gpujs backend (${this.mode}): gpu.js fell back: ${fellBack}`);
    }
    return out;
  }

  /**
   * webgpu: the kernel runs when the queue reaches it, on its arguments' buffers (settled by
   * then: they were queued earlier); the promise of its buffer is the new storage.
   */
  private enqueueKernel(kernel: KernelFn, args: unknown[]): Pending {
    this.raiseFailure();
    const result = this.tail.then(async () => {
      if (this.failure) throw this.failure;
      const resolved = await Promise.all(args);
      const printed: string[] = [];
      const out = await quietly(printed, () => kernel(...resolved)) as GpuTexture;
      const errors = takeDeviceErrors();
      if (printed.length > 0) {
        this.messages.push(...printed);
        this.messages.splice(0, Math.max(0, this.messages.length - MAX_MESSAGES));
      }
      if (errors.length > 0) throw new Error(`gpujs backend (webgpu): device error: ${errors[0]}`);
      return out;
    });
    this.tail = result.then(noop, (e: unknown) => {
      this.failure ??= new Error(`gpujs backend (webgpu): ${String((e as Error)?.message ?? e).split('\n')[0]}`);
    });
    // Nothing may go unhandled: a failure is raised through this.failure instead.
    result.catch(noop);
    return result;
  }

  private raiseFailure(): void {
    if (this.failure) throw this.failure;
  }

  /**
   * An op with several outputs (spec.subKernels, see sources.ts): in GL and cpu modes one
   * kernel map; in webgpu, which has none, the same source once per output, with constant
   * OUTPUT 0 (the result), 1, 2, … (the sub-kernels in order).
   */
  private runOutputs(key: string, spec: KernelSpec & { subKernels: Record<string, string> }, args: unknown[]): KernelMapResult {
    const constants = { ...spec.constants, OUTPUT: 0 };
    if (this.mode !== 'webgpu') {
      return this.run<KernelMapResult>(this.kernel(key, { ...spec, constants }), ...args);
    }
    const names = ['result', ...Object.keys(spec.subKernels)];
    const out: Record<string, Storage> = {};
    names.forEach((name, j) => {
      const single = { source: spec.source, output: spec.output, loopBound: spec.loopBound, constants: { ...constants, OUTPUT: j } };
      out[name] = this.run<Storage>(this.kernel(`${key}#${j}`, single), ...args);
    });
    return out as KernelMapResult;
  }

  // ---- memory -----------------------------------------------------------------------------

  private t(x: Tensor): GpuTensor {
    if (!(x instanceof GpuTensor)) throw new Error('gpujs backend: tensor from another backend');
    if (x.root.disposed) throw new Error('gpujs backend: tensor used after dispose()');
    return x;
  }

  private idx(x: IndexTensor): GpuIndices {
    if (!(x instanceof GpuIndices)) throw new Error('gpujs backend: indices from another backend');
    if (x.root.disposed) throw new Error('gpujs backend: indices used after dispose()');
    return x;
  }

  private newRoot(size: number): Root {
    if (this.mode !== 'cpu' && size > MAX_GPU_ELEMENTS) {
      throw new Error(`gpujs backend: a tensor of ${size} values is over ${MAX_GPU_ELEMENTS}, ` +
        `the most these kernels index exactly in float32 on ${this.mode}; use a smaller model or batch`);
    }
    const root = new Root(this.zeros(size), size);
    this.roots.add(root);
    return root;
  }

  private zeros(size: number): Storage {
    if (this.mode === 'cpu') return new Float32Array(size);
    return this.run<Storage>(this.kernel(`fill:${size}`, { source: src.FILL, output: size }), 0);
  }

  private release(data: Storage): void {
    if (isPending(data)) {
      // After every kernel queued so far, some of which may read it.
      this.tail = this.tail.then(() => data.then((buffer) => buffer.delete(), noop));
    } else if (isTexture(data)) {
      data.delete();
    }
  }

  /** Makes `result` (dst.size values) the contents of dst, a root or a row view. */
  private commit(dst: GpuTensor, result: Storage): void {
    // Every kernel of the operation has run, so nothing read from retired storage is pending.
    for (const old of this.retired.splice(0)) this.release(old);
    const root = dst.root;
    if (dst.offset === 0 && dst.size === root.size) {
      this.releaseBlocks(root);
      this.release(root.data);
      root.data = result;
      return;
    }
    if (!isTexture(root.data) || !isTexture(result)) {
      // cpu mode: the root's array is ours alone, so a view is written in place.
      (root.data as Float32Array).set(result as Float32Array, dst.offset);
      return;
    }
    const k = this.blockOf(dst);
    if (k >= 0) {
      // Inside one block: costs the block's size, never the root's.
      const blockStart = k * root.blockSize;
      const old = root.blocks.get(k);
      if (dst.offset === blockStart && dst.size === root.blockSize) {
        root.blocks.set(k, result);
      } else {
        const base = old ?? this.run<Storage>(
          this.kernel(`copy:${root.blockSize}`, { source: src.COPY, output: root.blockSize }), root.data, blockStart);
        const lo = dst.offset - blockStart;
        root.blocks.set(k, this.splice(base, result, lo, lo + dst.size, root.blockSize));
        if (!old) this.release(base);
        this.release(result);
      }
      if (old) this.release(old);
      return;
    }
    this.flush(root);
    const spliced = this.splice(root.data, result, dst.offset, dst.offset + dst.size, root.size);
    this.release(root.data);
    this.release(result);
    root.data = spliced;
  }

  /** parent (size values) with elements [lo, hi) taken from part: a new storage. */
  private splice(parent: Storage, part: Storage, lo: number, hi: number, size: number): Storage {
    const kernel = this.kernel(`splice:${size}`, { source: src.SPLICE, output: size });
    return this.run<Storage>(kernel, parent, part, lo, hi);
  }

  /** Where a kernel reads t: a block's own texture if t lies in a pending block, else the root's. */
  private at(t: GpuTensor): [Storage, number] {
    const root = t.root;
    const k = this.blockOf(t);
    if (k >= 0) {
      const block = root.blocks.get(k);
      return block ? [block, t.offset - k * root.blockSize] : [root.data, t.offset];
    }
    this.flush(root);
    return [root.data, t.offset];
  }

  /** The block t lies inside, or -1 (no blocks, or t spans more than one). */
  private blockOf(t: GpuTensor): number {
    const bs = t.root.blockSize;
    if (bs === 0 || t.size === 0) return -1;
    const k = Math.floor(t.offset / bs);
    return t.offset + t.size <= (k + 1) * bs ? k : -1;
  }

  /** Writes every pending block into root.data, MERGE_BLOCKS per full-size pass. */
  private flush(root: Root): void {
    if (root.blocks.size === 0) return;
    const pending = [...root.blocks];
    root.blocks.clear();
    const slots = this.mode === 'webgpu' ? MERGE_BLOCKS_WEBGPU : MERGE_BLOCKS;
    const kernel = this.kernel(`mergeBlocks:${root.size},${root.blockSize}`, {
      source: src.mergeBlocks(slots), output: root.size, constants: { BS: root.blockSize },
    });
    for (let first = 0; first < pending.length; first += slots) {
      const group = pending.slice(first, first + slots);
      const args: unknown[] = [root.data];
      // Unused slots repeat a block under index -1, which no element matches.
      for (let s = 0; s < slots; s++) {
        const [k, block] = group[s] ?? [-1, group[0][1]];
        args.push(block, k);
      }
      const merged = this.run<Storage>(kernel, ...args);
      this.retired.push(root.data);
      root.data = merged;
    }
    for (const [, block] of pending) this.retired.push(block);
  }

  private releaseBlocks(root: Root): void {
    for (const block of root.blocks.values()) this.release(block);
    root.blocks.clear();
  }

  alloc(rows: number, cols: number): Tensor {
    if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) {
      throw new Error(`alloc: bad shape [${rows}, ${cols}]`);
    }
    return new GpuTensor(this.nextId++, rows, cols, this.newRoot(Math.max(1, rows * cols)), 0);
  }

  rowsOf(x: Tensor, start: number, count: number): Tensor {
    const t = this.t(x);
    if (start < 0 || count < 0 || start + count > t.rows) {
      throw new Error(`rowsOf: rows [${start}, ${start + count}) outside [0, ${t.rows})`);
    }
    const view = new GpuTensor(this.nextId++, count, t.cols, t.root, t.offset + start * t.cols);
    const root = t.root;
    // The first view that tiles its root sets the block size (see the top of this file): the
    // engine's first view of a [T·B, ·] tensor is a step's [B, ·] at a multiple of B rows.
    if (this.mode !== 'cpu' && root.blockSize === 0 && view.size > 0 && view.size < root.size &&
      root.size % view.size === 0 && view.offset % view.size === 0) {
      root.blockSize = view.size;
    }
    return view;
  }

  private uploadArray(data: Float32Array): Storage {
    if (this.mode === 'cpu') return data;
    const upload = this.kernel(`upload:${data.length}`, { source: src.UPLOAD, output: data.length });
    return this.run<Storage>(upload, data);
  }

  upload(x: Tensor, data: ArrayLike<number>): void {
    const t = this.t(x);
    if (data.length !== t.size) throw new Error(`upload: ${data.length} values for a tensor of ${t.size}`);
    if (t.size === 0) return;
    this.commit(t, this.uploadArray(Float32Array.from(data)));
  }

  async download(x: Tensor): Promise<FloatArray> {
    const t = this.t(x);
    const [data, offset] = this.at(t);
    const all = isPending(data) ? await this.readBack(data)
      : isTexture(data) ? quietly(this.messages, () => data.toArray()) as ArrayLike<number> : data;
    const out = new Float32Array(t.size);
    for (let i = 0; i < t.size; i++) out[i] = all[offset + i];
    return out;
  }

  /**
   * webgpu: the copy to a staging buffer is queued in order (so a later release cannot come
   * first); the queue moves on while the mapping completes.
   */
  private async readBack(data: Pending): Promise<ArrayLike<number>> {
    this.raiseFailure();
    const started = this.tail.then(async () => {
      if (this.failure) throw this.failure;
      const buffer = await data;
      return { values: Promise.resolve(buffer.toArray()) };
    });
    this.tail = started.then(noop, noop);
    const { values } = await started.catch((e: unknown) => {
      throw this.failure ?? e;
    });
    return values;
  }

  allocIndices(length: number): IndexTensor {
    return new GpuIndices(this.nextId++, length, this.newRoot(Math.max(1, length)));
  }

  uploadIndices(x: IndexTensor, data: Int32Array): void {
    const t = this.idx(x);
    if (data.length !== t.length) throw new Error(`uploadIndices: ${data.length} ids for ${t.length}`);
    if (t.length === 0) return;
    // Ids are stored as floats: exact below 2^24, far above any vocabulary.
    const stored = this.uploadArray(Float32Array.from(data));
    this.release(t.root.data);
    t.root.data = stored;
  }

  dispose(x: Tensor | IndexTensor | QuantTensor): void {
    // A view shares its root's memory and is never disposed on its own.
    if (x instanceof GpuTensor && (x.offset !== 0 || x.size !== x.root.size)) return;
    const root = x instanceof GpuTensor ? x.root : x instanceof GpuIndices ? x.root : null;
    if (!root || root.disposed) return;
    root.disposed = true;
    this.releaseBlocks(root);
    this.release(root.data);
    this.roots.delete(root);
  }

  destroy(): void {
    if (this.destroyed) return;
    for (const root of this.roots) {
      root.disposed = true;
      this.releaseBlocks(root);
      this.release(root.data);
    }
    this.roots.clear();
    for (const old of this.retired.splice(0)) this.release(old);
    this.kernels.clear();
    this.destroyed = true;
    // gpu.js tears down on a timer and reports through a promise nobody else awaits; in webgpu
    // the shared device goes after the queued releases, with the last backend (webgpu.ts).
    const gpu = this.gpu;
    const teardown = (): Promise<void> => quietly(this.messages, () => gpu.destroy()).catch(noop);
    if (this.mode === 'webgpu') {
      this.tail = this.tail.then(teardown).then(() => releaseWebGpu());
    } else {
      teardown();
    }
  }

  /** webgpu: resolves once everything queued has run (and, after destroy, the device is gone). */
  settled(): Promise<void> {
    return this.tail;
  }

  // ---- dense ------------------------------------------------------------------------------

  matmul(ax: Tensor, bx: Tensor, outx: Tensor, opts: MatmulOptions = {}): void {
    const a = this.t(ax), b = this.t(bx), out = this.t(outx);
    const { M, K, N } = matmulDims(a, b, out, opts);
    if (out.size === 0) return;
    const accumulate = Boolean(opts.accumulate);
    // A [M, K] is read at aOff + m·aStrideM + k·aStrideK; Aᵀ stored [K, M] swaps the strides.
    const constants = {
      N, K,
      aStrideM: opts.transposeA ? 1 : K, aStrideK: opts.transposeA ? M : 1,
      bStrideK: opts.transposeB ? 1 : N, bStrideN: opts.transposeB ? K : 1,
    };
    const key = `matmul:${M},${K},${N},${opts.transposeA ? 1 : 0}${opts.transposeB ? 1 : 0}${accumulate ? 1 : 0}`;
    const kernel = this.kernel(key, {
      source: src.matmul(accumulate), output: M * N, constants, loopBound: K,
    });
    const args: unknown[] = [...this.at(a), ...this.at(b)];
    if (accumulate) args.push(...this.at(out));
    this.commit(out, this.run<Storage>(kernel, ...args));
  }

  // int8 weights: a fallback, no int8 kernel. quantize rounds the weights to int8 (quantizeRows,
  // as every backend) and keeps them dequantised as float32, so the product is the float matmul
  // with exactly the int8 model's weights: the same results (A is not rounded), none of the speed.
  async quantize(weightx: Tensor): Promise<QuantTensor> {
    const w = this.t(weightx);
    const { values, scales } = quantizeRows(await this.download(w), w.rows, w.cols);
    const dequantised = new Float32Array(w.size);
    for (let i = 0; i < w.size; i++) dequantised[i] = scales[Math.floor(i / w.cols)] * values[i];
    const q = this.alloc(w.rows, w.cols);
    this.upload(q, dequantised);
    return q;
  }

  matmulQuant(ax: Tensor, qx: QuantTensor, outx: Tensor, opts: { accumulate?: boolean } = {}): void {
    if (!(qx instanceof GpuTensor)) throw new Error('gpujs backend: int8 weights from another backend');
    matmulQuantDims(ax, qx, outx);
    this.matmul(ax, qx, outx, { transposeB: true, accumulate: opts.accumulate });
  }

  addRowVector(outx: Tensor, biasx: Tensor): void {
    const out = this.t(outx), bias = this.t(biasx);
    if (bias.size !== out.cols) throw new Error(`addRowVector: bias of ${bias.size} for ${out.cols} columns`);
    if (out.size === 0) return;
    const kernel = this.kernel(`addRowVector:${out.size},${out.cols}`, {
      source: src.ADD_ROW_VECTOR, output: out.size, constants: { C: out.cols },
    });
    this.commit(out, this.run<Storage>(kernel, ...this.at(out), ...this.at(bias)));
  }

  sumRows(ax: Tensor, outx: Tensor, accumulate: boolean): void {
    const a = this.t(ax), out = this.t(outx);
    if (out.size !== a.cols) throw new Error(`sumRows: out of ${out.size} for ${a.cols} columns`);
    if (out.size === 0) return;
    const kernel = this.kernel(`sumRows:${a.rows},${a.cols},${accumulate ? 1 : 0}`, {
      source: src.sumRows(accumulate), output: a.cols, constants: { R: a.rows, C: a.cols }, loopBound: a.rows,
    });
    const args: unknown[] = [...this.at(a)];
    if (accumulate) args.push(...this.at(out));
    this.commit(out, this.run<Storage>(kernel, ...args));
  }

  fill(x: Tensor, value: number): void {
    const t = this.t(x);
    if (t.size === 0) return;
    if (this.mode === 'cpu') {
      (t.root.data as Float32Array).fill(value, t.offset, t.offset + t.size);
      return;
    }
    this.commit(t, this.run<Storage>(this.kernel(`fill:${t.size}`, { source: src.FILL, output: t.size }), value));
  }

  copy(srcx: Tensor, dstx: Tensor): void {
    const from = this.t(srcx), dst = this.t(dstx);
    if (from.size !== dst.size) throw new Error(`copy: ${from.size} values into ${dst.size}`);
    if (dst.size === 0) return;
    const kernel = this.kernel(`copy:${dst.size}`, { source: src.COPY, output: dst.size });
    this.commit(dst, this.run<Storage>(kernel, ...this.at(from)));
  }

  // ---- embedding --------------------------------------------------------------------------

  embeddingForward(weightx: Tensor, tokensx: IndexTensor, outx: Tensor): void {
    const w = this.t(weightx), tokens = this.idx(tokensx), out = this.t(outx);
    const E = w.cols;
    if (out.rows !== tokens.length || out.cols !== E) {
      throw new Error(`embeddingForward: out [${out.rows},${out.cols}] for ${tokens.length} tokens of ${E}`);
    }
    if (out.size === 0) return;
    const kernel = this.kernel(`embeddingForward:${out.size},${E}`, {
      source: src.EMBEDDING_FORWARD, output: out.size, constants: { E },
    });
    this.commit(out, this.run<Storage>(kernel, ...this.at(w), tokens.root.data));
  }

  embeddingBackward(dOutx: Tensor, tokensx: IndexTensor, dWeightx: Tensor): void {
    const dOut = this.t(dOutx), tokens = this.idx(tokensx), dw = this.t(dWeightx);
    const E = dw.cols, N = tokens.length;
    if (dOut.rows !== N || dOut.cols !== E) {
      throw new Error(`embeddingBackward: dOut [${dOut.rows},${dOut.cols}] for ${N} tokens of ${E}`);
    }
    if (dw.size === 0 || N === 0) return;
    const kernel = this.kernel(`embeddingBackward:${dw.size},${E},${N}`, {
      source: src.EMBEDDING_BACKWARD, output: dw.size, constants: { E, N }, loopBound: N,
    });
    this.commit(dw, this.run<Storage>(kernel, ...this.at(dw), ...this.at(dOut), tokens.root.data));
  }

  // ---- loss -------------------------------------------------------------------------------

  softmaxCrossEntropy(
    logitsx: Tensor, targetsx: IndexTensor, lossx: Tensor,
    dLogitsx: Tensor | null, gradScale: number,
  ): void {
    const logits = this.t(logitsx), targets = this.idx(targetsx), loss = this.t(lossx);
    const dLogits = dLogitsx ? this.t(dLogitsx) : null;
    const { N, V } = softmaxCrossEntropyDims(logitsx, targetsx, lossx, dLogitsx);
    if (N === 0) {
      this.fill(loss, 0);
      return;
    }
    const rows = this.runOutputs(`softmaxRowStats:${N},${V}`, {
      source: src.SOFTMAX_ROW_STATS, output: N, constants: { V }, loopBound: V,
      subKernels: src.SOFTMAX_ROW_STATS_OUTPUTS,
    }, [...this.at(logits), targets.root.data]);
    let gradient: Storage | null = null;
    if (dLogits) {
      const grad = this.kernel(`softmaxGradient:${N},${V}`, {
        source: src.SOFTMAX_GRADIENT, output: N * V, constants: { V },
      });
      gradient = this.run<Storage>(grad, ...this.at(logits), targets.root.data, rows.result, gradScale);
    }
    const total = this.sum(rows.rowLoss, 0, N, false, null);
    this.release(rows.result);
    this.release(rows.rowLoss);
    this.commit(loss, total);
    if (dLogits && gradient) this.commit(dLogits, gradient);
  }

  /** Σ of n values of data from offset (squared if asked), plus prev[0] when given: [1]. */
  private sum(data: Storage, offset: number, n: number, square: boolean, prev: GpuTensor | null): Storage {
    const CHUNK = Math.max(1, Math.ceil(Math.sqrt(n)));
    const P = Math.ceil(n / CHUNK);
    const partial = this.kernel(`partialSum:${n},${square ? 1 : 0}`, {
      source: src.PARTIAL_SUM, output: P, constants: { n, CHUNK, SQUARE: square ? 1 : 0 }, loopBound: CHUNK,
    });
    const partials = this.run<Storage>(partial, data, offset);
    const final = this.kernel(`finalSum:${P},${prev ? 1 : 0}`, {
      source: src.finalSum(prev !== null), output: 1, constants: { P }, loopBound: P,
    });
    const total = prev
      ? this.run<Storage>(final, partials, ...this.at(prev))
      : this.run<Storage>(final, partials);
    this.release(partials);
    return total;
  }

  // ---- recurrent cells (cells/) ---------------------------------------------------------

  cell(name: CellName): CellKernels {
    const cell = cellKernelsOf(this.name, GPUJS_CELLS, name);
    return {
      forward: (step) => this.runCell(name, cell.forward, step),
      backward: (step) => this.runCell(name, cell.backward, step),
    };
  }

  /**
   * One step of a cell: every pass runs on the step's tensors as they came in, and only then are
   * the outputs written, so an output may also be one of the inputs (cells/cell.ts).
   */
  private runCell(name: CellName, passes: CellPass[], step: CellStep | CellStepGrad): void {
    const { B, H } = cellDims(name, step);
    if (B * H === 0) return;
    const tensors = step as Partial<Record<StepTensor, Tensor>>;
    const tensor = (which: StepTensor): GpuTensor => this.t(tensors[which]!);
    const results: Array<[GpuTensor, Storage]> = [];
    for (const pass of passes) {
      const out = tensor(pass.out);
      const args = pass.inputs.flatMap((which) => this.at(tensor(which)));
      const spec = { source: pass.source, output: out.size, constants: { H, ...pass.constants } };
      const key = `${name}:${pass.name}:${B},${H}`;
      if (!pass.subOutputs) {
        results.push([out, this.run<Storage>(this.kernel(key, spec), ...args)]);
        continue;
      }
      const subKernels = pass.subOutputs as Record<string, string>;
      const outputs = this.runOutputs(key, { ...spec, subKernels }, args);
      results.push([out, outputs.result]);
      for (const which of Object.keys(subKernels) as StepTensor[]) results.push([tensor(which), outputs[which]]);
    }
    for (const [out, result] of results) this.commit(out, result);
  }

  // ---- elementwise (dropout, zoneout) -----------------------------------------------------

  // Elementwise kernels: out is written by commit after the kernel ran, so it may alias an input.
  private elementwise(name: string, source: string, out: GpuTensor, inputs: GpuTensor[]): void {
    if (out.size === 0) return;
    const kernel = this.kernel(`${name}:${out.size}`, { source, output: out.size });
    this.commit(out, this.run<Storage>(kernel, ...inputs.flatMap((t) => this.at(t))));
  }

  mul(ax: Tensor, bx: Tensor, outx: Tensor): void {
    sameShape('mul', ax, bx, outx);
    this.elementwise('mul', src.MUL, this.t(outx), [this.t(ax), this.t(bx)]);
  }

  add(ax: Tensor, bx: Tensor, outx: Tensor): void {
    sameShape('add', ax, bx, outx);
    this.elementwise('add', src.ADD, this.t(outx), [this.t(ax), this.t(bx)]);
  }

  zoneoutForward(prevx: Tensor, candx: Tensor, maskx: Tensor, outx: Tensor): void {
    sameShape('zoneoutForward', prevx, candx, maskx, outx);
    this.elementwise('zoneoutForward', src.ZONEOUT_FORWARD, this.t(outx), [this.t(prevx), this.t(candx), this.t(maskx)]);
  }

  zoneoutBackward(dOutx: Tensor, maskx: Tensor, dCandx: Tensor, dPrevx: Tensor): void {
    sameShape('zoneoutBackward', dOutx, maskx, dCandx, dPrevx);
    const dOut = this.t(dOutx), mask = this.t(maskx);
    this.elementwise('zoneoutBackwardCand', src.ZONEOUT_BACKWARD_CAND, this.t(dCandx), [dOut, mask]);
    this.elementwise('mul', src.MUL, this.t(dPrevx), [mask, dOut]);
  }

  // ---- optimisation -----------------------------------------------------------------------

  clampInPlace(x: Tensor, limit: number): void {
    const t = this.t(x);
    if (t.size === 0) return;
    const kernel = this.kernel(`clamp:${t.size}`, { source: src.CLAMP, output: t.size });
    this.commit(t, this.run<Storage>(kernel, ...this.at(t), limit));
  }

  sumSquares(x: Tensor, outx: Tensor, accumulate: boolean): void {
    const t = this.t(x), out = this.t(outx);
    if (out.size !== 1) throw new Error(`sumSquares: out of ${out.size} values, want 1`);
    if (t.size === 0) {
      if (!accumulate) this.fill(out, 0);
      return;
    }
    this.commit(out, this.sum(...this.at(t), t.size, true, accumulate ? out : null));
  }

  adamStep(
    paramx: Tensor, gradx: Tensor, mx: Tensor, vx: Tensor,
    hyper: AdamParams, normSqx: Tensor | null, clipNorm: number,
  ): void {
    const p = this.t(paramx), g = this.t(gradx), m = this.t(mx), v = this.t(vx);
    if (g.size !== p.size || m.size !== p.size || v.size !== p.size) {
      throw new Error(`adamStep: param of ${p.size}, grad ${g.size}, m ${m.size}, v ${v.size}`);
    }
    if (p.size === 0) return;
    const normSq = normSqx ? this.t(normSqx) : null;
    const clip = normSq !== null && clipNorm > 0;
    const { lr, beta1, beta2, eps } = hyper;
    const { bc1, bc2, decay } = adamScalars(hyper);
    const args: unknown[] = [...this.at(p), ...this.at(g), ...this.at(m), ...this.at(v), lr, beta1, beta2, eps, bc1, bc2, decay];
    if (clip && normSq) args.push(...this.at(normSq), clipNorm);
    const next = this.runOutputs(`adam:${p.size},${clip ? 1 : 0}`, {
      source: src.adam(clip), output: p.size, subKernels: src.ADAM_OUTPUTS,
    }, args);
    this.commit(p, next.result);
    this.commit(m, next.m);
    this.commit(v, next.v);
  }
}
