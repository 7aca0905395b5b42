// Creates the wasm backend: compiles build/wasm/kernels.wasm, sets up memory and worker threads.
//
// The kernels are AssemblyScript in ./assembly, compiled by `npm run build:wasm` (part of
// `npm run build`). The .wasm is found by walking up from this file to the package root, so
// the same code works from src/ under ts-jest and from dist/.

import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Backend } from '../backend';
import { Kernels, THREADED_KERNELS, WasmBackend } from './backend';
import { WasmHeap } from './heap';
import { ThreadPool } from './pool';
import { wasmApi } from './wasm-api';

export interface WasmBackendOptions {
  /** Threads running kernels, this one included; default os.availableParallelism(). */
  threads?: number;
  /** Most memory the backend may grow to, in MiB (default 4096, wasm32's limit). */
  maxMemoryMiB?: number;
}

const WASM_RELATIVE_PATH = path.join('build', 'wasm', 'kernels.wasm');
const INITIAL_MEMORY_BYTES = 16 * 2 ** 20;

/** The compiled kernels' path, or an Error that says how to build them. */
export function kernelsPath(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`wasm backend: no package.json above ${__dirname}`);
    dir = up;
  }
  const file = path.join(dir, WASM_RELATIVE_PATH);
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
  const module = await wasmApi.compile(await fs.promises.readFile(kernelsPath()));
  // The module's static data sits at the bottom of memory; the allocator starts a page up.
  const probe = new wasmApi.Memory({ initial: 1, maximum: 1, shared: true });
  const base = (new wasmApi.Instance(module, { env: { memory: probe } }).exports as unknown as Kernels).heapBase();
  const heap = new WasmHeap(base, INITIAL_MEMORY_BYTES, maxMiB * 2 ** 20);
  const kernels = new wasmApi.Instance(module, { env: { memory: heap.memory } }).exports as unknown as Kernels;
  // Each thread packs GEMM operands into its own scratch block.
  const scratch = Array.from({ length: threads }, () => heap.alloc(kernels.gemmScratchBytes()));
  const pool = threads > 1 ? await ThreadPool.start(scratch.slice(1), module, heap.memory, THREADED_KERNELS) : null;
  return new WasmBackend(kernels, heap, pool, scratch);
}
