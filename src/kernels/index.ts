// Picks and builds a backend by name; 'auto' takes the fastest that works on this machine.

import { BackendName } from '../config';
import { Backend } from './backend';
import { ReferenceBackend } from './reference/reference';

export interface BackendOptions {
  /** wasm worker threads; 0: one per available core. */
  threads: number;
}

// The wasm and gpu.js backends are loaded only when asked for: gpu.js pulls in a lot at start-up.
interface WasmModule { createWasmBackend(opts: { threads?: number }): Promise<Backend> }

function loadWasm(): WasmModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./wasm') as WasmModule;
}

interface GpujsModule { createGpujsBackend(opts: { mode: string }): Promise<Backend> }

function loadGpujs(): GpujsModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('./gpujs') as GpujsModule;
}

export async function createBackend(name: BackendName, opts: BackendOptions): Promise<Backend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend('float32');
    case 'wasm':
      return loadWasm().createWasmBackend({ threads: opts.threads || undefined });
    case 'gpujs':
      return loadGpujs().createGpujsBackend({ mode: 'auto' });
    case 'auto':
      // No GPU is reachable from Node on most machines; the wasm SIMD backend is the fast CPU path.
      return loadWasm().createWasmBackend({ threads: opts.threads || undefined });
  }
}
