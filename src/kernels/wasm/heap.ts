// The wasm backend's memory: one shared, growable WebAssembly.Memory and the allocator over it.
//
// Every tensor lives here for the whole training step; kernels (on any thread) get byte
// offsets. Blocks are 64-byte aligned (a cache line, so threads writing neighbouring tensors
// never share one) and recycled through exact-size free lists: the engine allocates the same
// few shapes over and over, so a freed block is almost always reused by the next request of
// its size, and a general-purpose allocator would buy nothing.

import { WasmMemory, wasmApi } from './wasm-api';

const PAGE_BYTES = 65536;
const ALIGN = 64;

export class WasmHeap {
  readonly memory: WasmMemory;
  /** Views over the whole memory; replaced after every grow (the old ones keep the old length). */
  f32: Float32Array;
  i32: Int32Array;
  private top: number;
  private readonly free = new Map<number, number[]>();
  private readonly maxBytes: number;

  /** base: first byte the allocator may hand out (above the module's static data). */
  constructor(base: number, initialBytes: number, maxBytes: number) {
    this.maxBytes = maxBytes;
    this.memory = new wasmApi.Memory({
      initial: Math.ceil(initialBytes / PAGE_BYTES),
      maximum: Math.floor(maxBytes / PAGE_BYTES),
      shared: true,
    });
    this.top = roundUp(base, ALIGN);
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }

  /** A zeroed block of at least `bytes` bytes; returns its byte offset. */
  alloc(bytes: number): number {
    const size = blockSize(bytes);
    const reused = this.free.get(size)?.pop();
    if (reused !== undefined) {
      this.f32.fill(0, reused >>> 2, (reused + size) >>> 2);
      return reused;
    }
    const ptr = this.top;
    this.ensure(ptr + size);
    this.top = ptr + size;
    // Memory above `top` has never been handed out, so it is still zero.
    return ptr;
  }

  /** Returns a block from alloc(bytes) to its free list. */
  release(ptr: number, bytes: number): void {
    const size = blockSize(bytes);
    let list = this.free.get(size);
    if (!list) this.free.set(size, (list = []));
    list.push(ptr);
  }

  private ensure(end: number): void {
    const have = this.memory.buffer.byteLength;
    if (end <= have) return;
    if (end > this.maxBytes) {
      // Names only what a user can change: the model and batch sizes (the limit is wasm32's).
      throw new Error(`wasm backend: out of memory: ${mib(end)} MiB needed, it holds at most ${mib(this.maxBytes)} MiB; ` +
        'use a smaller model (--hidden, --layers, --embedding) or batch (--batch, --seq-len)');
    }
    // Grow geometrically so a model's allocations cost a handful of grows, not hundreds.
    const want = Math.min(this.maxBytes, Math.max(end, have * 1.5));
    this.memory.grow(Math.ceil((want - have) / PAGE_BYTES));
    this.f32 = new Float32Array(this.memory.buffer);
    this.i32 = new Int32Array(this.memory.buffer);
  }
}

function roundUp(x: number, to: number): number {
  return Math.ceil(x / to) * to;
}

function blockSize(bytes: number): number {
  return roundUp(Math.max(bytes, 1), ALIGN);
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(0);
}
