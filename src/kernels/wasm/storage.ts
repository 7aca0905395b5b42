// The wasm backend's memory: tensors as byte offsets into the shared WebAssembly.Memory (WasmHeap),
// their lifetimes, uploads and downloads, and the cache of packed GEMM operands that every write
// must invalidate. The ops (backend.ts) run kernels on what this hands them.

import { FloatArray, IndexTensor, QuantTensor, Tensor } from '../backend';
import { WasmHeap } from './heap';

/** Packed B operands kept; past this the cache is emptied (a model uses about 4 per layer). */
const MAX_PACKED = 32;

export class WasmTensor implements Tensor {
  readonly size: number;
  disposed = false;
  constructor(
    readonly owner: WasmStorage,
    readonly id: number,
    readonly rows: number,
    readonly cols: number,
    /** Byte offset of element [0, 0]. */
    readonly ptr: number,
    /** A rowsOf view: shares its parent's block, never freed on its own. */
    readonly isView: boolean,
  ) {
    this.size = rows * cols;
  }
}

/**
 * op(B) of one matmul operand, packed whole (assembly/gemm.ts packBPanels), kept until any
 * write to the bytes it was packed from: weights are packed once per Adam step, not per call.
 */
export interface PackedB {
  /** The operand's bytes [src, end) and layout: a hit needs all of them equal. */
  src: number;
  end: number;
  rows: number;
  cols: number;
  trans: number;
  ptr: number;
  bytes: number;
  valid: boolean;
}

/** int8 weights in the layout of assembly/quant.ts: values [rows, Kp] (zero-padded), scales [rows]. */
export class WasmQuant implements QuantTensor {
  disposed = false;
  constructor(
    readonly owner: WasmStorage, readonly id: number, readonly rows: number, readonly cols: number,
    readonly ptr: number, readonly bytes: number, readonly scalesPtr: number,
  ) {}
}

export class WasmIndices implements IndexTensor {
  disposed = false;
  constructor(readonly owner: WasmStorage, readonly id: number, readonly length: number, readonly ptr: number) {}
}

export class WasmStorage {
  private nextId = 1;
  private destroyed = false;
  private readonly packed: PackedB[] = [];

  constructor(readonly heap: WasmHeap) {}

  tensor(x: Tensor): WasmTensor {
    this.live();
    if (!(x instanceof WasmTensor) || x.owner !== this) throw new Error('wasm backend: tensor from another backend');
    if (x.disposed) throw new Error(`wasm backend: tensor ${x.id} [${x.rows}, ${x.cols}] used after dispose`);
    return x;
  }

  indices(x: IndexTensor): WasmIndices {
    if (!(x instanceof WasmIndices) || x.owner !== this) throw new Error('wasm backend: indices from another backend');
    if (x.disposed) throw new Error(`wasm backend: indices ${x.id} used after dispose`);
    return x;
  }

  quant(x: QuantTensor): WasmQuant {
    this.live();
    if (!(x instanceof WasmQuant) || x.owner !== this) throw new Error('wasm backend: int8 weights from another backend');
    if (x.disposed) throw new Error(`wasm backend: int8 weights ${x.id} used after dispose`);
    return x;
  }

  live(): void {
    if (this.destroyed) throw new Error('wasm backend: used after destroy()');
  }

  /** Marks the storage destroyed; false when it already was. */
  destroy(): boolean {
    if (this.destroyed) return false;
    this.destroyed = true;
    return true;
  }

  /** Every kernel and copy that writes bytes [ptr, ptr + bytes) calls this: stale packs go. */
  wrote(ptr: number, bytes: number): void {
    const packed = this.packed;
    for (let i = 0; i < packed.length; i++) {
      const p = packed[i];
      if (p.valid && p.src < ptr + bytes && ptr < p.end) p.valid = false;
    }
  }

  wroteTensor(t: WasmTensor): void {
    if (this.packed.length) this.wrote(t.ptr, t.size * 4);
  }

  /**
   * The cache entry for op(b) (transposed or not): valid when b is unchanged since it was
   * packed; otherwise its block, of packedBytes(), for the caller to pack into and mark valid.
   */
  packedEntry(b: WasmTensor, trans: number, packedBytes: () => number): PackedB {
    const packed = this.packed;
    for (let i = 0; i < packed.length; i++) {
      const p = packed[i];
      if (p.src === b.ptr && p.rows === b.rows && p.cols === b.cols && p.trans === trans) return p;
    }
    if (packed.length >= MAX_PACKED) {
      for (const p of packed) this.heap.release(p.ptr, p.bytes);
      packed.length = 0;
    }
    const bytes = packedBytes();
    const entry = { src: b.ptr, end: b.ptr + b.size * 4, rows: b.rows, cols: b.cols, trans, ptr: this.heap.alloc(bytes), bytes, valid: false };
    packed.push(entry);
    return entry;
  }

  alloc(rows: number, cols: number): Tensor {
    this.live();
    if (!(Number.isInteger(rows) && Number.isInteger(cols) && rows >= 0 && cols >= 0)) {
      throw new Error(`alloc: bad shape [${rows}, ${cols}]`);
    }
    const t = new WasmTensor(this, this.nextId++, rows, cols, this.heap.alloc(rows * cols * 4), false);
    this.wroteTensor(t);
    return t;
  }

  rowsOf(x: Tensor, start: number, count: number): Tensor {
    const t = this.tensor(x);
    if (start < 0 || count < 0 || start + count > t.rows) {
      throw new Error(`rowsOf: rows [${start}, ${start + count}) outside [0, ${t.rows})`);
    }
    return new WasmTensor(this, this.nextId++, count, t.cols, t.ptr + start * t.cols * 4, true);
  }

  upload(x: Tensor, data: ArrayLike<number>): void {
    const t = this.tensor(x);
    if (data.length !== t.size) throw new Error(`upload: ${data.length} values for a tensor of ${t.size}`);
    // TypedArray.set converts (float64 → float32 rounds to nearest) and takes any array-like.
    this.heap.f32.set(data, t.ptr >>> 2);
    this.wroteTensor(t);
  }

  download(x: Tensor): FloatArray {
    const t = this.tensor(x);
    return this.heap.f32.slice(t.ptr >>> 2, (t.ptr >>> 2) + t.size);
  }

  allocIndices(length: number): IndexTensor {
    this.live();
    if (!(Number.isInteger(length) && length >= 0)) throw new Error(`allocIndices: bad length ${length}`);
    return new WasmIndices(this, this.nextId++, length, this.heap.alloc(length * 4));
  }

  uploadIndices(x: IndexTensor, data: Int32Array): void {
    const t = this.indices(x);
    if (data.length !== t.length) throw new Error(`uploadIndices: ${data.length} ids for ${t.length}`);
    this.heap.i32.set(data, t.ptr >>> 2);
    if (this.packed.length) this.wrote(t.ptr, t.length * 4);
  }

  /** Blocks for int8 weights of N rows (bytes of values, N scales), fresh packs of them dropped. */
  allocQuantBlocks(N: number, bytes: number): { ptr: number; scalesPtr: number } {
    const ptr = this.heap.alloc(bytes);
    const scalesPtr = this.heap.alloc(N * 4);
    // Fresh blocks may reuse the bytes a cached pack of B was made from.
    if (this.packed.length) {
      this.wrote(ptr, bytes);
      this.wrote(scalesPtr, N * 4);
    }
    return { ptr, scalesPtr };
  }

  releaseQuantBlocks(N: number, bytes: number, blocks: { ptr: number; scalesPtr: number }): void {
    this.heap.release(blocks.ptr, bytes);
    this.heap.release(blocks.scalesPtr, N * 4);
  }

  /** int8 weights [N, K] in blocks from allocQuantBlocks, now filled. */
  quantTensor(N: number, K: number, bytes: number, blocks: { ptr: number; scalesPtr: number }): WasmQuant {
    return new WasmQuant(this, this.nextId++, N, K, blocks.ptr, bytes, blocks.scalesPtr);
  }

  dispose(x: Tensor | IndexTensor | QuantTensor): void {
    if (this.destroyed) return;
    if (x instanceof WasmQuant) {
      const q = this.quant(x);
      q.disposed = true;
      this.heap.release(q.ptr, q.bytes);
      this.heap.release(q.scalesPtr, q.rows * 4);
      return;
    }
    if (x instanceof WasmIndices) {
      const t = this.indices(x);
      t.disposed = true;
      if (this.packed.length) this.wrote(t.ptr, t.length * 4);
      this.heap.release(t.ptr, t.length * 4);
      return;
    }
    const t = this.tensor(x as Tensor);
    if (t.isView) return;
    t.disposed = true;
    this.wroteTensor(t);
    this.heap.release(t.ptr, t.size * 4);
  }
}
