// Picks and builds a backend by name; 'auto' takes the fastest that works on this machine.

import * as fs from 'fs';
import { Backend, BackendName } from './backend';
import { ReferenceBackend } from './reference/reference';
import { createWasmBackend } from './wasm';

export type GpuMode = 'auto' | 'headlessgl' | 'webgpu' | 'cpu';
export const GPU_MODES: readonly GpuMode[] = ['auto', 'headlessgl', 'webgpu', 'cpu'];

export interface BackendOptions {
  /** wasm worker threads; 0: one per available core. */
  threads: number;
  /** gpu.js mode for --backend gpujs. */
  gpuMode?: GpuMode;
  /** 'auto' may consider the GPU (training); sampling at batch 1 never gains from it. */
  preferGpu?: boolean;
}

// gpu.js is loaded only when asked for: it pulls in a lot at start-up, and sampling should start fast.
interface GpujsModule {
  createGpujsBackend(opts: { mode: GpuMode }): Promise<Backend>;
  probeHeadlessGl(): Promise<{ works: boolean; renderer?: string }>;
  probeWebGpu(): Promise<{ works: boolean; renderer?: string; software?: boolean }>;
  isSoftwareRenderer(renderer: string): boolean;
}

function loadGpujs(): GpujsModule {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const gpujs = require('./gpujs') as GpujsModule;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const probe = require('./gpujs/probe') as Pick<GpujsModule, 'probeHeadlessGl' | 'probeWebGpu' | 'isSoftwareRenderer'>;
  return {
    createGpujsBackend: gpujs.createGpujsBackend, probeHeadlessGl: probe.probeHeadlessGl,
    probeWebGpu: probe.probeWebGpu, isSoftwareRenderer: probe.isSoftwareRenderer,
  };
}

/** A GPU may be reachable: only then is probing gpu.js (a child process, ~1 s) worth it. */
function gpuDeviceNodePresent(): boolean {
  // Metal and D3D12 have no device node to look for.
  if (process.platform === 'darwin' || process.platform === 'win32') return true;
  try {
    if (fs.existsSync('/dev/nvidia0')) return true;
    return fs.readdirSync('/dev/dri').some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * For 'auto': gpu.js on a hardware GPU, else null. WebGPU first (compute shaders reach the
 * whole GPU), then headless-gl. A software adapter or rasteriser (lavapipe, llvmpipe) runs the
 * same kernels far slower than the wasm backend, so it never counts.
 */
async function hardwareGpujs(): Promise<Backend | null> {
  if (!gpuDeviceNodePresent()) return null;
  const gpujs = loadGpujs();
  const [webgpu, gl] = await Promise.all([gpujs.probeWebGpu(), gpujs.probeHeadlessGl()]);
  const modes: GpuMode[] = [];
  if (webgpu.works && !webgpu.software) modes.push('webgpu');
  if (gl.works && gl.renderer && !gpujs.isSoftwareRenderer(gl.renderer)) modes.push('headlessgl');
  for (const mode of modes) {
    try {
      return await gpujs.createGpujsBackend({ mode });
    } catch {
      // the next mode, else wasm
    }
  }
  return null;
}

export async function createBackend(name: BackendName, opts: BackendOptions): Promise<Backend> {
  switch (name) {
    case 'reference':
      return new ReferenceBackend('float32');
    case 'wasm':
      return createWasmBackend({ threads: opts.threads || undefined });
    case 'gpujs':
      return loadGpujs().createGpujsBackend({ mode: opts.gpuMode ?? 'auto' });
    case 'auto': {
      // Most machines have no GPU that Node can reach; there the wasm SIMD backend is fastest.
      const gpu = opts.preferGpu ? await hardwareGpujs() : null;
      return gpu ?? createWasmBackend({ threads: opts.threads || undefined });
    }
  }
}
