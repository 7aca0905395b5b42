// Entry point of the gpu.js backend: pick a gpu.js mode, say truthfully what runs the kernels.

import { Backend } from '../backend';
import { GpujsBackend } from './backend';
import {
  GpujsMode, GpujsModeProbe, describeRenderer, probeGpujsModes, probeHeadlessGl, probeWebGpu,
} from './probe';

export { GpujsBackend, probeGpujsModes };
export type { GpujsMode, GpujsModeProbe };

export interface GpujsOptions {
  /** 'auto' takes headlessgl when it works here, else cpu. */
  mode: GpujsMode;
}

async function headlessGl(): Promise<GpujsBackend> {
  // Probed in a child first: a broken native module or a missing display answers there.
  const probe = await probeHeadlessGl();
  if (!probe.works) {
    throw new Error(`gpu.js headlessgl mode does not work here: ${probe.reason}; ` +
      'it needs the gl package built (npm install-scripts approve gl; npm rebuild gl) and an X display (xvfb-run -a)');
  }
  const precision = probe.highpFloat ? `, highp float ${probe.highpFloat[2]}-bit mantissa` : '';
  return new GpujsBackend('headlessgl',
    `gpu.js headlessgl on ${describeRenderer(probe.renderer ?? 'unknown renderer')}${precision}`);
}

export async function createGpujsBackend(opts: GpujsOptions): Promise<Backend> {
  switch (opts.mode) {
    case 'cpu':
      return new GpujsBackend('cpu', 'gpu.js cpu mode (JavaScript on the CPU)');
    case 'headlessgl':
      return headlessGl();
    case 'webgpu': {
      const probe = await probeWebGpu();
      throw new Error(probe.works
        ? `gpu.js webgpu mode: Dawn offers ${probe.renderer}, but this backend does not drive ` +
          'gpu.js webgpu kernels yet; use --backend gpujs with mode headlessgl or cpu'
        : `gpu.js webgpu mode does not work here: ${probe.reason}`);
    }
    case 'auto': {
      try {
        return await headlessGl();
      } catch {
        return new GpujsBackend('cpu', 'gpu.js cpu mode (JavaScript on the CPU; headlessgl unavailable)');
      }
    }
    default:
      throw new Error(`gpu.js mode '${String((opts as { mode: unknown }).mode)}': use auto, headlessgl, webgpu or cpu`);
  }
}
