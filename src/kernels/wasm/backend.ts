// The wasm backend: the Backend interface over SIMD128 kernels in one shared WebAssembly.Memory.
//
// Tensors are byte offsets into the memory (WasmHeap); a row view is the same memory at a
// later offset. Their allocation, lifetimes and the packed-operand cache live in storage.ts; this
// file holds the ops. Kernels run in place, with no copies between JS arrays and wasm memory:
// upload and download are the only copies. GEMMs (and big recurrent cells) are split across the
// ThreadPool's workers, with this thread doing its own share.

import {
  AdamParams, Backend, CellKernels, CellName, CellStep, FloatArray, IndexTensor, MatmulOptions, QuantTensor, Tensor,
  adamScalars, cellDims, cellKernelsOf, clipScale, matmulDims, matmulQuantDims, sameShape, softmaxCrossEntropyDims,
} from '../backend';
import { cellSpec } from '../../cells';
import { CELL_KERNEL_NAMES, WASM_CELLS, WasmCellKernel } from './cells';
import { WasmHeap } from './heap';
import { WasmIndices, WasmQuant, WasmStorage, WasmTensor } from './storage';
import { ThreadPool } from './pool';

/** The exports of assembly/index.ts. Pointers are byte offsets; flags are 0 or 1. */
export interface Kernels {
  heapBase(): number;
  gemmScratchBytes(): number;
  /** The micro-tile's rows (MR): 4, or 6 in the relaxed module. */
  microTileRows(): number;
  gemm(
    M: number, N: number, K: number, a: number, lda: number, transA: number,
    b: number, ldb: number, transB: number, c: number, ldc: number, accumulate: number,
    m0: number, m1: number, n0: number, n1: number, scratch: number,
  ): void;
  fill(p: number, n: number, value: number): void;
  copy(src: number, dst: number, n: number): void;
  addRowVector(out: number, bias: number, rows: number, cols: number): void;
  sumRows(a: number, out: number, rows: number, cols: number, accumulate: number): void;
  clampInPlace(p: number, n: number, limit: number): void;
  sumSquares(p: number, n: number, out: number, accumulate: number): void;
  embeddingForward(weight: number, V: number, E: number, tokens: number, count: number, out: number): number;
  embeddingBackward(dOut: number, tokens: number, count: number, dWeight: number, V: number, E: number): number;
  mul(a: number, b: number, out: number, n: number): void;
  add(a: number, b: number, out: number, n: number): void;
  zoneoutForward(prev: number, cand: number, mask: number, out: number, n: number): void;
  zoneoutBackward(dOut: number, mask: number, dCand: number, dPrev: number, n: number): void;
  softmaxCrossEntropy(
    logits: number, targets: number, N: number, V: number, loss: number, dLogits: number, gradScale: number,
  ): number;
  packedBFloats(K: number, N: number): number;
  packBPanels(K: number, N: number, b: number, ldb: number, transB: number, p0: number, p1: number, dst: number): void;
  gemmPackedB(
    M: number, N: number, K: number, a: number, lda: number, transA: number, bp: number,
    c: number, ldc: number, accumulate: number, m0: number, m1: number, n0: number, n1: number, scratch: number,
  ): void;
  gemmChunk(...args: number[]): void;
  packBChunk(...args: number[]): void;
  gemmPackedBChunk(...args: number[]): void;
  addRowVectorChunk(...args: number[]): void;
  sumRowsChunk(...args: number[]): void;
  mulChunk(...args: number[]): void;
  adamStepChunk(...args: number[]): void;
  adamStep(
    p: number, g: number, m: number, v: number, n: number,
    lr: number, beta1: number, beta2: number, eps: number, bc1: number, bc2: number, scale: number, decay: number,
  ): void;
  /** assembly/quant.ts: the int8 row length Kp of a [N, K] weight. */
  quantRowBytes(K: number): number;
  gemmQ8(
    M: number, N: number, K: number, a: number, lda: number, q: number, scales: number,
    c: number, ldc: number, accumulate: number, n0: number, n1: number, scratch: number,
  ): void;
  gemmQ8Chunk(...args: number[]): void;
  /** quantizeRows in SIMD: returns the first row that is not finite, else -1. */
  quantizeQ8(w: number, N: number, K: number, q: number, scales: number): number;
}

/** The kernel module a backend runs (index.ts): SIMD128 alone, or with relaxed SIMD's fused multiply-add. */
export type WasmSimd = 'plain' | 'relaxed';

/** A cell kernel (cells/cell.ts): kernel(...pointers, B, H, chunks, chunk, scratch). */
type CellKernelFn = (...args: number[]) => void;

/** Kernels the workers can run: chunked, int32 arguments only (see pool.ts). */
export const THREADED_KERNELS = [
  'gemmChunk', 'packBChunk', 'gemmPackedBChunk', 'gemmQ8Chunk',
  'addRowVectorChunk', 'sumRowsChunk', 'mulChunk', 'adamStepChunk', ...CELL_KERNEL_NAMES,
];

// The micro-tile's columns in assembly/gemm.ts (its rows, MR, depend on the module: see
// microTileRows): splits between threads fall on tile edges.
const NR = 8;
/**
 * Below this many flops a GEMM runs on one thread: waking a worker and joining it costs a few
 * µs, and a 1 MFLOP product takes ~40 µs on one core.
 */
const PARALLEL_MIN_FLOPS = 1 << 20;
/** Chunks of a threaded job per thread: a late or slow thread takes fewer of them. */
const CHUNKS_PER_THREAD = 4;
/**
 * Chunks per thread of a product with few row tiles, cut by columns too (see gemmInto): at
 * [32, 512]·[512, 1536] on 2 threads, 4 per thread ran 93 GFLOP/s, 8 and 16 93–94, rows alone 84.
 */
const FEW_TILE_CHUNKS_PER_THREAD = 8;
/** Smaller chunks would spend too much of their time repacking the shared operand. */
const MIN_CHUNK_FLOPS = 1 << 19;
/**
 * Cells with fewer B·G·H gate units run on one thread. An LSTM's forward costs ~8 ns a hidden
 * unit (four gates), so at 8192 gate units (2048 LSTM units, ~16 µs) a split still beats the few
 * µs of waking a worker; a cell's cost is about proportional to its gates (exp per gate).
 */
const PARALLEL_MIN_GATE_UNITS = 8192;
/** A packed op(B) of fewer floats is packed on one thread (~1 ns a float). */
const PARALLEL_MIN_PACK_FLOATS = 1 << 15;
/**
 * Memory-bound kernels (bias add, column sums, products, Adam) over fewer floats run on one
 * thread. At 2x512 (B=32, T=64) they took 17 ms of a 370 ms step on one thread, the worker idle.
 */
const PARALLEL_MIN_POINTWISE = 1 << 16;
/** An f32's bits as an int32, for a float argument of a threaded kernel (the pool passes int32s). */
const F32 = new Float32Array(1), F32_BITS = new Int32Array(F32.buffer);
function f32Bits(x: number): number {
  F32[0] = x;
  return F32_BITS[0];
}
export class WasmBackend implements Backend {
  readonly name = 'wasm';
  readonly description: string;
  /** Tensors, their lifetimes and the packed-operand cache (storage.ts). */
  private readonly storage: WasmStorage;
  /** The module's micro-tile rows: fewer rows than this take the unpacked few-row path. */
  private readonly mr: number;
  constructor(
    private readonly kernels: Kernels,
    private readonly heap: WasmHeap,
    private readonly pool: ThreadPool | null,
    /** scratch[0]: this thread's GEMM packing buffers (the workers hold their own). */
    private readonly scratch: number[],
    /** Which module: 'relaxed' where the GEMM fuses multiply and add. */
    readonly simd: WasmSimd = 'plain',
  ) {
    this.storage = new WasmStorage(heap);
    this.mr = kernels.microTileRows();
    const threads = this.threads;
    const kind = simd === 'relaxed' ? 'wasm simd128 + relaxed fma' : 'wasm simd128';
    this.description = `${kind}, ${threads} thread${threads === 1 ? '' : 's'}`;
  }

  /** Threads that run kernels, this one included. */
  get threads(): number {
    return 1 + (this.pool ? this.pool.size : 0);
  }

  private t(x: Tensor): WasmTensor {
    return this.storage.tensor(x);
  }

  private idx(x: IndexTensor): WasmIndices {
    return this.storage.indices(x);
  }

  private quant(x: QuantTensor): WasmQuant {
    return this.storage.quant(x);
  }

  private wroteTensor(t: WasmTensor): void {
    this.storage.wroteTensor(t);
  }

  /** op(b) packed for gemmPackedB, from the cache when b is unchanged since it was packed. */
  private packB(b: WasmTensor, trans: number, K: number, N: number): number {
    const entry = this.storage.packedEntry(b, trans, () => this.kernels.packedBFloats(K, N) * 4);
    if (entry.valid) return entry.ptr;
    const floats = entry.bytes / 4;
    const panels = Math.ceil(N / NR);
    if (!this.pool || floats < PARALLEL_MIN_PACK_FLOATS || panels < 2) {
      this.kernels.packBPanels(K, N, b.ptr, b.cols, trans, 0, panels, entry.ptr);
    } else {
      const chunks = Math.min(panels, CHUNKS_PER_THREAD * this.threads);
      this.pool.run('packBChunk', [K, N, b.ptr, b.cols, trans, entry.ptr, chunks], chunks, this.scratch[0],
        this.kernels.packBChunk);
    }
    entry.valid = true;
    return entry.ptr;
  }

  // ---- memory ---------------------------------------------------------------------------

  alloc(rows: number, cols: number): Tensor {
    return this.storage.alloc(rows, cols);
  }

  rowsOf(x: Tensor, start: number, count: number): Tensor {
    return this.storage.rowsOf(x, start, count);
  }

  upload(x: Tensor, data: ArrayLike<number>): void {
    this.storage.upload(x, data);
  }

  async download(x: Tensor): Promise<FloatArray> {
    return this.storage.download(x);
  }

  allocIndices(length: number): IndexTensor {
    return this.storage.allocIndices(length);
  }

  uploadIndices(x: IndexTensor, data: Int32Array): void {
    this.storage.uploadIndices(x, data);
  }

  dispose(x: Tensor | IndexTensor | QuantTensor): void {
    this.storage.dispose(x);
  }

  destroy(): void {
    if (this.storage.destroy()) this.pool?.destroy();
  }

  // ---- dense ----------------------------------------------------------------------------

  matmul(ax: Tensor, bx: Tensor, outx: Tensor, opts: MatmulOptions = {}): void {
    const a = this.t(ax), b = this.t(bx), out = this.t(outx);
    const transA = opts.transposeA ? 1 : 0, transB = opts.transposeB ? 1 : 0;
    const { M, K, N } = matmulDims(a, b, out, opts);
    const acc = opts.accumulate ? 1 : 0;
    const flops = 2 * M * N * K;
    // After the product, so a pack of B made from bytes this product overwrites is dropped.
    try {
      this.gemmInto(M, N, K, a, transA, b, transB, out, acc, flops);
    } finally {
      this.wroteTensor(out);
    }
  }

  private gemmInto(
    M: number, N: number, K: number, a: WasmTensor, transA: number, b: WasmTensor, transB: number,
    out: WasmTensor, acc: number, flops: number,
  ): void {
    if (M >= this.mr && K > 0 && N > 0) {
      // op(B) packed once (or found packed), then C cut by rows (and columns): no chunk repacks B.
      const bp = this.packB(b, transB, K, N);
      if (!this.pool || flops < PARALLEL_MIN_FLOPS) {
        this.kernels.gemmPackedB(M, N, K, a.ptr, a.cols, transA, bp, out.ptr, out.cols, acc, 0, M, 0, N, this.scratch[0]);
        return;
      }
      const tiles = Math.ceil(M / this.mr);
      const most = Math.max(1, Math.floor(flops / MIN_CHUNK_FLOPS));
      const rowChunks = Math.min(tiles, CHUNKS_PER_THREAD * this.threads, most);
      // Few row tiles (a per-step product: B = 32 rows is 6 tiles, the last of 2 rows) cut
      // unevenly among threads, and a thread then waits for another's last tile: C's columns
      // are cut too, into small enough pieces that the wait is short.
      const colChunks = rowChunks >= tiles && tiles < FEW_TILE_CHUNKS_PER_THREAD * this.threads
        ? Math.max(1, Math.min(Math.ceil(N / NR), Math.floor(most / rowChunks),
          Math.ceil((FEW_TILE_CHUNKS_PER_THREAD * this.threads) / rowChunks)))
        : 1;
      const chunks = rowChunks * colChunks;
      this.pool.run('gemmPackedBChunk', [M, N, K, a.ptr, a.cols, transA, bp, out.ptr, out.cols, acc, rowChunks, chunks],
        chunks, this.scratch[0], this.kernels.gemmPackedBChunk);
      return;
    }
    if (!this.pool || flops < PARALLEL_MIN_FLOPS) {
      this.kernels.gemm(M, N, K, a.ptr, a.cols, transA, b.ptr, b.cols, transB, out.ptr, out.cols, acc,
        0, M, 0, N, this.scratch[0]);
      return;
    }
    // Fewer rows than a micro-tile (a GEMV when sampling one stream): cut the columns on
    // micro-tile edges; each chunk reads its slice of B once, unpacked.
    const byRows = M >= N ? 1 : 0;
    const tiles = byRows ? Math.ceil(M / this.mr) : Math.ceil(N / NR);
    const chunks = Math.max(1, Math.min(tiles, CHUNKS_PER_THREAD * this.threads,
      Math.floor(flops / MIN_CHUNK_FLOPS)));
    const args = [M, N, K, a.ptr, a.cols, transA, b.ptr, b.cols, transB, out.ptr, out.cols, acc, byRows, chunks];
    this.pool.run('gemmChunk', args, chunks, this.scratch[0], this.kernels.gemmChunk);
  }

  // ---- int8 weights ---------------------------------------------------------------------

  async quantize(weightx: Tensor): Promise<QuantTensor> {
    const w = this.t(weightx);
    const { rows: N, cols: K } = w;
    const bytes = N * this.kernels.quantRowBytes(K);
    const blocks = this.storage.allocQuantBlocks(N, bytes);
    const bad = this.kernels.quantizeQ8(w.ptr, N, K, blocks.ptr, blocks.scalesPtr);
    if (bad >= 0) {
      this.storage.releaseQuantBlocks(N, bytes, blocks);
      throw new Error(`quantize: row ${bad} holds a value that is not finite`);
    }
    return this.storage.quantTensor(N, K, bytes, blocks);
  }

  matmulQuant(ax: Tensor, qx: QuantTensor, outx: Tensor, opts: { accumulate?: boolean } = {}): void {
    const a = this.t(ax), q = this.quant(qx), out = this.t(outx);
    const { M, K, N } = matmulQuantDims(a, q, out);
    const acc = opts.accumulate ? 1 : 0;
    this.wroteTensor(out);
    const flops = 2 * M * N * K;
    if (!this.pool || flops < PARALLEL_MIN_FLOPS || N < 8) {
      this.kernels.gemmQ8(M, N, K, a.ptr, a.cols, q.ptr, q.scalesPtr, out.ptr, out.cols, acc, 0, N, this.scratch[0]);
      return;
    }
    // Cut by columns: each thread reads only its rows of W, and rounds A's rows itself.
    const chunks = Math.max(1, Math.min(Math.ceil(N / 4), CHUNKS_PER_THREAD * this.threads, Math.floor(flops / MIN_CHUNK_FLOPS)));
    this.pool.run('gemmQ8Chunk', [M, N, K, a.ptr, a.cols, q.ptr, q.scalesPtr, out.ptr, out.cols, acc, chunks], chunks,
      this.scratch[0], this.kernels.gemmQ8Chunk);
  }

  addRowVector(outx: Tensor, biasx: Tensor): void {
    const out = this.t(outx), bias = this.t(biasx);
    if (bias.size !== out.cols) throw new Error(`addRowVector: bias of ${bias.size} for ${out.cols} columns`);
    this.wroteTensor(out);
    if (this.pool && out.rows >= 2 && out.size >= PARALLEL_MIN_POINTWISE) {
      const chunks = Math.min(out.rows, CHUNKS_PER_THREAD * this.threads);
      this.pool.run('addRowVectorChunk', [out.ptr, bias.ptr, out.rows, out.cols, chunks], chunks, this.scratch[0],
        this.kernels.addRowVectorChunk);
      return;
    }
    this.kernels.addRowVector(out.ptr, bias.ptr, out.rows, out.cols);
  }

  sumRows(ax: Tensor, outx: Tensor, accumulate: boolean): void {
    const a = this.t(ax), out = this.t(outx);
    if (out.size !== a.cols) throw new Error(`sumRows: out of ${out.size} for ${a.cols} columns`);
    this.wroteTensor(out);
    if (this.pool && a.cols >= 8 && a.size >= PARALLEL_MIN_POINTWISE) {
      const chunks = Math.min(Math.ceil(a.cols / 4), this.threads);
      this.pool.run('sumRowsChunk', [a.ptr, out.ptr, a.rows, a.cols, accumulate ? 1 : 0, chunks], chunks, this.scratch[0],
        this.kernels.sumRowsChunk);
      return;
    }
    this.kernels.sumRows(a.ptr, out.ptr, a.rows, a.cols, accumulate ? 1 : 0);
  }

  fill(x: Tensor, value: number): void {
    const t = this.t(x);
    this.kernels.fill(t.ptr, t.size, value);
    this.wroteTensor(t);
  }

  copy(srcx: Tensor, dstx: Tensor): void {
    const src = this.t(srcx), dst = this.t(dstx);
    if (src.size !== dst.size) throw new Error(`copy: ${src.size} values into ${dst.size}`);
    this.kernels.copy(src.ptr, dst.ptr, src.size);
    this.wroteTensor(dst);
  }

  // ---- embedding ------------------------------------------------------------------------

  embeddingForward(weightx: Tensor, tokensx: IndexTensor, outx: Tensor): void {
    const w = this.t(weightx), tokens = this.idx(tokensx), out = this.t(outx);
    if (out.rows !== tokens.length || out.cols !== w.cols) {
      throw new Error(`embeddingForward: out [${out.rows}, ${out.cols}] for ${tokens.length} ids of width ${w.cols}`);
    }
    this.wroteTensor(out);
    const bad = this.kernels.embeddingForward(w.ptr, w.rows, w.cols, tokens.ptr, tokens.length, out.ptr);
    if (bad >= 0) this.badId('embeddingForward', tokens, bad, w.rows);
  }

  embeddingBackward(dOutx: Tensor, tokensx: IndexTensor, dWeightx: Tensor): void {
    const dOut = this.t(dOutx), tokens = this.idx(tokensx), dw = this.t(dWeightx);
    if (dOut.rows !== tokens.length || dOut.cols !== dw.cols) {
      throw new Error(`embeddingBackward: dOut [${dOut.rows}, ${dOut.cols}] for ${tokens.length} ids of width ${dw.cols}`);
    }
    this.wroteTensor(dw);
    const bad = this.kernels.embeddingBackward(dOut.ptr, tokens.ptr, tokens.length, dw.ptr, dw.rows, dw.cols);
    if (bad >= 0) this.badId('embeddingBackward', tokens, bad, dw.rows);
  }

  private badId(kernel: string, tokens: WasmIndices, at: number, vocab: number): never {
    const id = this.heap.i32[(tokens.ptr >>> 2) + at];
    throw new Error(`${kernel}: id ${id} at position ${at} is outside the vocabulary [0, ${vocab})`);
  }

  // ---- recurrent cells ----------------------------------------------------------------

  /** The cells with wasm kernels (cells/index.ts); any other throws, naming itself. */
  cell(name: CellName): CellKernels {
    const spec = cellKernelsOf(this.name, WASM_CELLS, name);
    const forward = this.cellKernel(spec.forward.kernel), backward = this.cellKernel(spec.backward.kernel);
    return {
      forward: (s) => this.runCell(name, spec.forward, forward, s),
      backward: (s) => this.runCell(name, spec.backward, backward, s),
    };
  }

  private cellKernel(kernel: string): CellKernelFn {
    const fn = (this.kernels as unknown as Record<string, CellKernelFn | undefined>)[kernel];
    if (typeof fn !== 'function') throw new Error(`wasm backend: build/wasm lacks ${kernel}; run \`npm run build:wasm\``);
    return fn;
  }

  // Runs a cell kernel over B rows, cut by rows across threads when the cell is big. Each unit is
  // computed by the same lanes whatever the cut, so 1 and N threads agree bit for bit.
  private runCell<S extends CellStep>(cell: CellName, k: WasmCellKernel<S>, fn: CellKernelFn, step: S): void {
    const { B, H } = cellDims(cell, step);
    const args = k.args(step).map((x) => this.t(x).ptr);
    for (const w of k.writes(step)) this.wroteTensor(this.t(w));
    if (!this.pool || B < 2 || B * cellSpec(cell).gates * H < PARALLEL_MIN_GATE_UNITS) {
      fn(...args, B, H, 1, 0, this.scratch[0]);
      return;
    }
    const chunks = Math.min(B, CHUNKS_PER_THREAD * this.threads);
    this.pool.run(k.kernel, [...args, B, H, chunks], chunks, this.scratch[0], fn);
  }

  // ---- elementwise ----------------------------------------------------------------------

  mul(ax: Tensor, bx: Tensor, outx: Tensor): void {
    const n = sameShape('mul', ax, bx, outx);
    const out = this.t(outx);
    this.wroteTensor(out);
    const a = this.t(ax).ptr, b = this.t(bx).ptr;
    if (this.pool && n >= PARALLEL_MIN_POINTWISE) {
      const chunks = CHUNKS_PER_THREAD * this.threads;
      this.pool.run('mulChunk', [a, b, out.ptr, n, chunks], chunks, this.scratch[0], this.kernels.mulChunk);
      return;
    }
    this.kernels.mul(a, b, out.ptr, n);
  }

  add(ax: Tensor, bx: Tensor, outx: Tensor): void {
    const n = sameShape('add', ax, bx, outx);
    const out = this.t(outx);
    this.wroteTensor(out);
    this.kernels.add(this.t(ax).ptr, this.t(bx).ptr, out.ptr, n);
  }

  zoneoutForward(prevx: Tensor, candx: Tensor, maskx: Tensor, outx: Tensor): void {
    const n = sameShape('zoneoutForward', prevx, candx, maskx, outx);
    const out = this.t(outx);
    this.wroteTensor(out);
    this.kernels.zoneoutForward(this.t(prevx).ptr, this.t(candx).ptr, this.t(maskx).ptr, out.ptr, n);
  }

  zoneoutBackward(dOutx: Tensor, maskx: Tensor, dCandx: Tensor, dPrevx: Tensor): void {
    const n = sameShape('zoneoutBackward', dOutx, maskx, dCandx, dPrevx);
    const dCand = this.t(dCandx), dPrev = this.t(dPrevx);
    this.wroteTensor(dCand);
    this.wroteTensor(dPrev);
    this.kernels.zoneoutBackward(this.t(dOutx).ptr, this.t(maskx).ptr, dCand.ptr, dPrev.ptr, n);
  }

  // ---- loss -----------------------------------------------------------------------------

  softmaxCrossEntropy(
    logitsx: Tensor, targetsx: IndexTensor, lossx: Tensor,
    dLogitsx: Tensor | null, gradScale: number,
  ): void {
    const logits = this.t(logitsx), targets = this.idx(targetsx), loss = this.t(lossx);
    const dLogits = dLogitsx ? this.t(dLogitsx) : null;
    softmaxCrossEntropyDims(logitsx, targetsx, lossx, dLogitsx);
    this.wroteTensor(loss);
    if (dLogits) this.wroteTensor(dLogits);
    const bad = this.kernels.softmaxCrossEntropy(logits.ptr, targets.ptr, logits.rows, logits.cols, loss.ptr,
      dLogits ? dLogits.ptr : 0, gradScale);
    if (bad >= 0) this.badId('softmaxCrossEntropy', targets, bad, logits.cols);
  }

  // ---- optimisation ---------------------------------------------------------------------

  clampInPlace(x: Tensor, limit: number): void {
    const t = this.t(x);
    this.kernels.clampInPlace(t.ptr, t.size, limit);
    this.wroteTensor(t);
  }

  sumSquares(x: Tensor, outx: Tensor, accumulate: boolean): void {
    const t = this.t(x), out = this.t(outx);
    if (out.size < 1) throw new Error('sumSquares: out must hold one value');
    this.kernels.sumSquares(t.ptr, t.size, out.ptr, accumulate ? 1 : 0);
    this.wroteTensor(out);
  }

  adamStep(
    paramx: Tensor, gradx: Tensor, mx: Tensor, vx: Tensor,
    hyper: AdamParams, normSqx: Tensor | null, clipNorm: number,
  ): void {
    const p = this.t(paramx), grad = this.t(gradx), m = this.t(mx), v = this.t(vx);
    if (grad.size !== p.size || m.size !== p.size || v.size !== p.size) {
      throw new Error(`adamStep: param ${p.size}, grad ${grad.size}, m ${m.size}, v ${v.size} must agree`);
    }
    // The clip rule is clipScale's, on the float32 ‖g‖² the kernels summed: same as reference.
    const scale = normSqx ? clipScale(this.heap.f32[this.t(normSqx).ptr >>> 2], clipNorm) : 1;
    const { lr, beta1, beta2, eps } = hyper;
    const { bc1, bc2, decay } = adamScalars(hyper);
    this.wroteTensor(p);
    this.wroteTensor(m);
    this.wroteTensor(v);
    if (this.pool && p.size >= PARALLEL_MIN_POINTWISE) {
      // The kernel takes f32s: the bits of each value rounded to float32, as a direct call passes.
      const floats = [lr, beta1, beta2, eps, bc1, bc2, scale, decay].map(f32Bits);
      const chunks = CHUNKS_PER_THREAD * this.threads;
      this.pool.run('adamStepChunk', [p.ptr, grad.ptr, m.ptr, v.ptr, p.size, ...floats, chunks], chunks, this.scratch[0],
        this.kernels.adamStepChunk);
      return;
    }
    this.kernels.adamStep(p.ptr, grad.ptr, m.ptr, v.ptr, p.size, lr, beta1, beta2, eps, bc1, bc2, scale, decay);
  }
}
