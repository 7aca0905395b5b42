// Picks and builds a backend by name; 'auto' takes the fastest that works on this machine.

import { BackendName } from '../config';
import { Backend } from './backend';
import { ReferenceBackend } from './reference/reference';
import { createWasmBackend } from './wasm';

export interface BackendOptions {
  /** wasm worker threads; 0: one per available core. */
  threads: number;
}

// gpu.js is loaded only when asked for: it pulls in a lot at start-up, and sampling should start fast.
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
      return createWasmBackend({ threads: opts.threads || undefined });
    case 'gpujs':
      return loadGpujs().createGpujsBackend({ mode: 'auto' });
    case 'auto':
      // No GPU is reachable from Node on most machines; the wasm SIMD backend is the fast CPU path.
      return createWasmBackend({ threads: opts.threads || undefined });
  }
}
