// Dawn (the `webgpu` package) under gpu.js: load it, give gpu.js its navigator.gpu, name the
// adapter truthfully, and take it all down again so Node can exit.
//
// gpu.js's webgpu mode never imports `webgpu` itself: it reads globalThis.navigator.gpu and
// keeps one device for the whole process (WebGPUContext, a module singleton). So the first
// webgpu backend installs navigator.gpu and asks gpu.js's WebGPUContext for the device (the
// very adapter gpu.js will run on); the last one to go destroys the device and removes
// navigator, without which Dawn's instance keeps Node's event loop alive.

import * as path from 'path';

/** What Dawn says about the adapter, plus our verdict on whether it is a GPU at all. */
export interface WebGpuAdapter {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU rasteriser (lavapipe/llvmpipe, SwiftShader) or Dawn's fallback adapter. */
  software: boolean;
}

/** Vulkan/D3D/Metal drivers that run on the CPU: never call one of these a GPU. */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic/i;

interface DawnModule {
  create(flags: string[]): unknown;
}

interface GpuDevice {
  destroy(): void;
  onuncapturederror: ((e: { error: { message: string } }) => void) | null;
}

interface GpuAdapterLike {
  isFallbackAdapter?: boolean;
  info?: Partial<Record<'vendor' | 'architecture' | 'device' | 'description', string>> & { isFallbackAdapter?: boolean };
}

interface WebGpuContextClass {
  acquire(): Promise<{ adapter: GpuAdapterLike; device: GpuDevice }>;
  destroy(): Promise<void>;
}

// tsc compiles import() to require() in CommonJS; a Function body is left alone, so this is a
// real dynamic import (the package is ESM-only). Jest's VM refuses import() (without
// --experimental-vm-modules) and require() of ES modules; there we load the native addon the
// package's index.js wraps, from the same per-platform path (dist/<platform>-<arch>/dawn.node).
const importEsm = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

async function loadDawn(): Promise<DawnModule> {
  let entry: string;
  try {
    entry = require.resolve('webgpu');
  } catch (e) {
    throw new Error(`the webgpu package (Dawn) is not installed: ${(e as Error).message.split('\n')[0]}`);
  }
  try {
    return await importEsm(entry) as DawnModule;
  } catch (e) {
    if (!/dynamic import callback|experimental-vm-modules/i.test(String((e as Error).message))) throw e;
    const arch = process.platform === 'darwin' ? 'universal' : process.arch;
    return require(path.join(path.dirname(entry), 'dist', `${process.platform}-${arch}`, 'dawn.node')) as DawnModule;
  }
}

export function describeAdapter(adapter: GpuAdapterLike): WebGpuAdapter {
  const info = adapter.info ?? {};
  const fields = {
    vendor: info.vendor ?? '', architecture: info.architecture ?? '',
    device: info.device ?? '', description: info.description ?? '',
  };
  const fallback = Boolean(info.isFallbackAdapter ?? adapter.isFallbackAdapter);
  const software = fallback || SOFTWARE_ADAPTER.test(Object.values(fields).join(' '));
  return { ...fields, software };
}

/**
 * One line for stderr and `rnn info`: Dawn's description, then every field it gave, e.g.
 * 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6) (vendor mesa, architecture software, device
 * llvmpipe-…) (software)'. A software adapter always ends in '(software)'.
 */
export function adapterName(a: WebGpuAdapter): string {
  const fields = [
    a.vendor && `vendor ${a.vendor}`, a.architecture && `architecture ${a.architecture}`,
    a.device && a.description && `device ${a.device}`,
  ].filter(Boolean).join(', ');
  const head = a.description || a.device || 'unknown adapter';
  return `${head}${fields ? ` (${fields})` : ''}${a.software ? ' (software)' : ''}`;
}

let users = 0;
let installedNavigator = false;
let pending: Promise<{ adapter: WebGpuAdapter; device: GpuDevice }> | null = null;
/** The last teardown: a new device waits for it, or it would remove the new navigator. */
let teardown: Promise<void> = Promise.resolve();
/** Uncaptured device errors, for the backend to raise at its next call (nothing here prints). */
const deviceErrors: string[] = [];

let contextClass: WebGpuContextClass | null = null;

function webGpuContext(): WebGpuContextClass {
  // Not exported from gpu.js's index; the same module instance gpu.js's webgpu kernels use.
  // Kept once found: the teardown may run after a test runner has stopped serving require().
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  contextClass ??= (require('gpu.js/src/backend/web-gpu/context') as { WebGPUContext: WebGpuContextClass }).WebGPUContext;
  return contextClass;
}

async function open(): Promise<{ adapter: WebGpuAdapter; device: GpuDevice }> {
  await teardown;
  // Dawn's Vulkan loader wants a runtime dir; a bare container (CI, a device machine) has none.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = require('os').tmpdir();
  const dawn = await loadDawn();
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (!g.navigator) {
    g.navigator = { gpu: dawn.create([]) };
    installedNavigator = true;
  } else if (!g.navigator.gpu) {
    g.navigator.gpu = dawn.create([]);
    installedNavigator = true;
  }
  try {
    const { adapter, device } = await webGpuContext().acquire();
    device.onuncapturederror = (e) => { deviceErrors.push(e.error.message); };
    return { adapter: describeAdapter(adapter), device };
  } catch (e) {
    uninstall();
    throw new Error(String((e as Error).message).split('\n')[0]);
  }
}

function uninstall(): void {
  if (!installedNavigator) return;
  const g = globalThis as { navigator?: { gpu?: unknown } };
  if (g.navigator && Object.keys(g.navigator).length === 1) delete g.navigator;
  else if (g.navigator) delete g.navigator.gpu;
  installedNavigator = false;
}

/** The shared device gpu.js runs on, for one more backend. Pair with releaseWebGpu(). */
export async function acquireWebGpu(): Promise<WebGpuAdapter> {
  pending ??= open();
  try {
    const { adapter } = await pending;
    users++;
    return adapter;
  } catch (e) {
    pending = null;
    throw e;
  }
}

/** Device errors reported since the last call (Dawn reports them asynchronously). */
export function takeDeviceErrors(): string[] {
  return deviceErrors.splice(0);
}

/** One backend is done; the last one destroys the device and lets Node exit. */
export function releaseWebGpu(): Promise<void> {
  if (users === 0) return Promise.resolve();
  users--;
  if (users > 0) return Promise.resolve();
  pending = null;
  teardown = webGpuContext().destroy().catch(() => undefined).then(uninstall);
  return teardown;
}
