// The slice of the WebAssembly JS API the backend uses, typed here because the project's
// TypeScript lib (ES2022, no DOM) does not declare the WebAssembly global.

export interface WasmMemory {
  /** A SharedArrayBuffer for a shared memory; a new object, longer, after every grow. */
  readonly buffer: SharedArrayBuffer;
  /** Grows by `pages` 64 KiB pages; throws a RangeError past the maximum. */
  grow(pages: number): number;
}

/** A compiled module; opaque, cloneable to worker threads. */
export interface WasmModule {
  readonly __wasmModule?: never;
}

export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: boolean }) => WasmMemory;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: object };
  compile(bytes: Uint8Array): Promise<WasmModule>;
  /** Whether this engine would compile the bytes (features it lacks make it false). */
  validate(bytes: Uint8Array): boolean;
}

export const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
