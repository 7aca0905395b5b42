// Entry point of the gpu.js backend: pick a gpu.js mode, say truthfully what runs the kernels.

import { Backend } from '../backend';
import { GpujsBackend } from './backend';
import {
  GpujsMode, GpujsModeProbe, describeRenderer, isSoftwareRenderer, probeGpujsModes, probeHeadlessGl, probeWebGpu,
} from './probe';
import { acquireWebGpu, adapterName } from './webgpu';

export { GpujsBackend, probeGpujsModes };
export type { GpujsMode, GpujsModeProbe };

export interface GpujsOptions {
  /** 'auto': webgpu on a hardware adapter, else headlessgl on a hardware renderer, else whichever works, else cpu. */
  mode: GpujsMode;
}

async function webGpu(): Promise<GpujsBackend> {
  // Probed in a child first: Dawn on an unsupported system (old glibc, no Vulkan loader) can
  // crash the process rather than throw.
  const probe = await probeWebGpu();
  if (!probe.works) {
    throw new Error(`gpu.js webgpu mode does not work here: ${probe.reason}; it needs a Vulkan driver ` +
      '(a GPU\'s, or Mesa\'s lavapipe: apt-get install mesa-vulkan-drivers from bookworm-backports, see .ci/run)');
  }
  const adapter = await acquireWebGpu();
  return new GpujsBackend('webgpu', `gpu.js webgpu on ${adapterName(adapter)}`);
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
    case 'webgpu':
      return webGpu();
    case 'auto': {
      // Prefer hardware, and on hardware WebGPU: compute shaders reach all of a GPU, GL's pixel
      // shaders only its graphics-capable part. With software only, headlessgl (llvmpipe) runs
      // our kernels faster than lavapipe does.
      const [gl, wg] = await Promise.all([probeHeadlessGl(), probeWebGpu()]);
      const hardware = (p: { works: boolean; renderer?: string; software?: boolean }): boolean =>
        p.works && !p.software && !isSoftwareRenderer(p.renderer ?? 'unknown');
      const order: Array<() => Promise<GpujsBackend>> = hardware(wg) ? [webGpu, headlessGl]
        : hardware(gl) ? [headlessGl, webGpu] : [headlessGl, webGpu];
      for (const make of order) {
        try {
          return await make();
        } catch {
          // the next mode
        }
      }
      return new GpujsBackend('cpu', 'gpu.js cpu mode (JavaScript on the CPU; headlessgl and webgpu unavailable)');
    }
    default:
      throw new Error(`gpu.js mode '${String((opts as { mode: unknown }).mode)}': use auto, headlessgl, webgpu or cpu`);
  }
}
