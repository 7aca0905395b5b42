// Creates the wasm backend: compiles the kernel module, sets up memory and worker threads.
//
// The kernels are AssemblyScript in ./assembly, compiled twice by `npm run build:wasm` (part of
// `npm run build`): build/wasm/kernels.wasm with SIMD128 alone, and kernels-relaxed.wasm with
// relaxed SIMD too, whose GEMM micro-kernel multiplies and adds in one f32x4.relaxed_madd (a
// fused multiply-add on CPUs that have one). Each process takes the relaxed module where its
// engine accepts it and the plain one otherwise. The .wasm is found by walking up from this file
// to the package root, so the same code works from src/ under ts-jest and from dist/.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import { Backend } from '../backend';
import { Kernels, THREADED_KERNELS, WasmBackend, WasmSimd } from './backend';
import { WasmHeap } from './heap';
import { ThreadPool } from './pool';
import { wasmApi } from './wasm-api';

export interface WasmBackendOptions {
  /** Threads running kernels, this one included; default os.availableParallelism(). */
  threads?: number;
  /** Most memory the backend may grow to, in MiB (default 4096, wasm32's limit). */
  maxMemoryMiB?: number;
  /**
   * The kernel module: 'relaxed' (fused multiply-add in the GEMM), 'plain' (SIMD128 only), or
   * 'auto' (default): relaxed where this engine accepts relaxed SIMD, else plain.
   */
  simd?: 'auto' | WasmSimd;
}

const MODULE_FILES: Record<WasmSimd, string> = { plain: 'kernels.wasm', relaxed: 'kernels-relaxed.wasm' };
const INITIAL_MEMORY_BYTES = 16 * 2 ** 20;
/** V8's switch for relaxed SIMD before Node 22 ships it: process-wide, read when a module compiles. */
const RELAXED_SIMD_FLAG = '--experimental-wasm-relaxed-simd';

/** The module `requested` resolves to, given whether the engine accepts relaxed SIMD (asked only if needed). */
export function chooseSimd(requested: 'auto' | WasmSimd, acceptsRelaxed: () => boolean): WasmSimd {
  if (requested === 'plain') return 'plain';
  if (acceptsRelaxed()) return 'relaxed';
  if (requested === 'auto') return 'plain';
  throw new Error(`wasm backend: this JavaScript engine (Node ${process.versions.node}) refuses relaxed SIMD; ask for simd 'auto' or 'plain'`);
}

/**
 * Whether this engine compiles the relaxed module: Node ≥ 22 as it is, Node 20 once V8's flag is
 * on (switched on here, before the module is compiled; workers share the compiled module).
 */
function acceptsRelaxed(bytes: Uint8Array): boolean {
  if (wasmApi.validate(bytes)) return true;
  v8.setFlagsFromString(RELAXED_SIMD_FLAG);
  return wasmApi.validate(bytes);
}

/** The path of a compiled kernel module in build/wasm, or an Error that says how to build it. */
export function kernelsPath(name = MODULE_FILES.plain): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`wasm backend: no package.json above ${__dirname}`);
    dir = up;
  }
  const file = path.join(dir, 'build', 'wasm', name);
  if (!fs.existsSync(file)) throw new Error(`wasm backend: ${file} is missing; run \`npm run build:wasm\``);
  return file;
}

export async function createWasmBackend(opts: WasmBackendOptions = {}): Promise<Backend> {
  const threads = opts.threads ?? os.availableParallelism();
  if (!(Number.isInteger(threads) && threads >= 1 && threads <= 256)) {
    throw new Error(`wasm backend: threads must be an integer in [1, 256], got ${threads}`);
  }
  const maxMiB = opts.maxMemoryMiB ?? 4096;
  if (!(maxMiB >= 16 && maxMiB <= 4096)) {
    throw new Error(`wasm backend: maxMemoryMiB must be in [16, 4096], got ${maxMiB}`);
  }
  const requested = opts.simd ?? 'auto';
  if (!['auto', 'plain', 'relaxed'].includes(requested)) {
    throw new Error(`wasm backend: simd must be auto, plain or relaxed, got ${String(requested)}`);
  }
  const relaxedBytes = requested === 'plain' ? null : await fs.promises.readFile(kernelsPath(MODULE_FILES.relaxed));
  const simd = chooseSimd(requested, () => acceptsRelaxed(relaxedBytes!));
  const bytes = simd === 'relaxed' ? relaxedBytes! : await fs.promises.readFile(kernelsPath(MODULE_FILES.plain));
  const module = await wasmApi.compile(bytes);
  // The module's static data sits at the bottom of memory; the allocator starts a page up.
  const probe = new wasmApi.Memory({ initial: 1, maximum: 1, shared: true });
  const base = (new wasmApi.Instance(module, { env: { memory: probe } }).exports as unknown as Kernels).heapBase();
  const heap = new WasmHeap(base, INITIAL_MEMORY_BYTES, maxMiB * 2 ** 20);
  const kernels = new wasmApi.Instance(module, { env: { memory: heap.memory } }).exports as unknown as Kernels;
  // Each thread packs GEMM operands into its own scratch block.
  const scratch = Array.from({ length: threads }, () => heap.alloc(kernels.gemmScratchBytes()));
  const pool = threads > 1 ? await ThreadPool.start(scratch.slice(1), module, heap.memory, THREADED_KERNELS) : null;
  return new WasmBackend(kernels, heap, pool, scratch, simd);
}
