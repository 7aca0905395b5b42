// Which gpu.js modes work on this machine, each tried in a child process with a time limit,
// so a native module that crashes (Dawn on an old glibc) or hangs cannot take us down.

import { execFile } from 'child_process';
import { pathToFileURL } from 'url';
import { adapterName, describeAdapter } from './webgpu';

export type GpujsMode = 'auto' | 'headlessgl' | 'webgpu' | 'cpu';

export interface GpujsModeProbe {
  mode: Exclude<GpujsMode, 'auto'>;
  works: boolean;
  /** The device that would run the kernels, e.g. 'llvmpipe (LLVM 15.0.6, 256 bits) (software)'. */
  device?: string;
  /** Why it does not work. */
  reason?: string;
  /** webgpu: Dawn's adapter fields, as reported. */
  adapter?: { vendor: string; architecture: string; device: string; description: string };
  /** webgpu: the adapter runs on the CPU. */
  software?: boolean;
}

const PROBE_TIMEOUT_MS = 15000;
/** Further tries of a headless-gl context that came back null (see probeHeadlessGl). */
const HEADLESSGL_RETRIES = 3;
const HEADLESSGL_RETRY_MS = 200;

/** Renderer names of software rasterisers: never call one of these a GPU. */
const SOFTWARE_RENDERER = /llvmpipe|softpipe|swiftshader|lavapipe|software|swrast|microsoft basic/i;

export function isSoftwareRenderer(renderer: string): boolean {
  return SOFTWARE_RENDERER.test(renderer);
}

export function describeRenderer(renderer: string): string {
  return isSoftwareRenderer(renderer) ? `${renderer} (software)` : renderer;
}

// Runs in the child: make a headless-gl gpu.js kernel, run it, name the renderer behind it.
const HEADLESSGL_SCRIPT = `
const quiet = () => {};
console.log = console.warn = console.error = console.info = quiet;
const out = (r) => process.stdout.write(JSON.stringify(r));
try {
  try {
    require(require.resolve('gl', { paths: [require('path').dirname(process.argv[1])] }));
  } catch (e) {
    throw new Error('the gl package (headless-gl) did not load: ' + String(e && e.message || e).split('\\n')[0].replace(/[:\\s]+$/, '') +
      '; its native build needs npm to run its install script (package.json allowScripts approves gl)');
  }
  const { GPU } = require(process.argv[1]);
  const gpu = new GPU({ mode: 'headlessgl' });
  const k = gpu.createKernel('function (a) { return a[this.thread.x] * 2; }',
    { output: [3], precision: 'single', tactic: 'precision' });
  const r = Array.from(k(new Float32Array([1, 2, 3.5])));
  if (r.join() !== '2,4,7') throw new Error('a test kernel computed ' + r.join() + ', not 2,4,7');
  const gl = k.kernel.context;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  let renderer = info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER);
  // headless-gl names only 'ANGLE'; the driver ANGLE runs on shows in the libraries it loaded.
  try {
    const libs = require('fs').readFileSync('/proc/self/maps', 'utf8');
    const dri = /([a-z0-9_]+)_dri[.]so/.exec(libs);
    const llvm = /libLLVM-?([0-9.]+)?[.]so/.exec(libs);
    if (dri) {
      const driver = dri[1] === 'swrast' || dri[1] === 'kms_swrast' ? (llvm ? 'llvmpipe' : 'softpipe') : dri[1];
      renderer = renderer + ' on Mesa ' + driver + ' (' + dri[1] + '_dri.so' + (llvm ? ', LLVM' + (llvm[1] ? ' ' + llvm[1] : '') : '') + ')';
    } else if (/libGLX_nvidia|libnvidia-glcore/.test(libs)) {
      renderer = renderer + ' on the NVIDIA driver';
    }
  } catch (e) {}
  const hp = gl.getShaderPrecisionFormat(gl.FRAGMENT_SHADER, gl.HIGH_FLOAT);
  out({ works: true, renderer: String(renderer), highpFloat: hp ? [hp.rangeMin, hp.rangeMax, hp.precision] : null,
    maxTextureSize: gl.getParameter(gl.MAX_TEXTURE_SIZE) });
} catch (e) {
  out({ works: false, reason: String(e && e.message || e) });
}
`;

// Runs in the child as an ES module: load Dawn through the 'webgpu' package, ask for an adapter
// and a device (Dawn refuses some drivers only there, e.g. Mesa 22's lavapipe), run nothing.
const WEBGPU_SCRIPT = `
const out = (r) => process.stdout.write(JSON.stringify(r));
if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = (await import('os')).tmpdir();
try {
  const { create } = await import(process.argv[1]);
  const gpu = create([]);
  const adapter = await gpu.requestAdapter();
  if (!adapter) {
    out({ works: false, reason: 'Dawn loaded but offered no WebGPU adapter (no Vulkan driver it accepts)' });
  } else {
    const info = adapter.info || {};
    const device = await adapter.requestDevice();
    device.destroy();
    out({ works: true, adapter: { vendor: info.vendor || '', architecture: info.architecture || '',
      device: info.device || '', description: info.description || '' },
      fallback: Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter) });
  }
} catch (e) {
  out({ works: false, reason: String(e && e.message || e).split('\\n')[0] });
}
process.exit(0);
`;

interface ChildResult {
  works?: boolean;
  reason?: string;
  renderer?: string;
  highpFloat?: [number, number, number] | null;
  maxTextureSize?: number;
  fallback?: boolean;
  adapter?: { vendor: string; architecture: string; device: string; description: string };
}

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { env: process.env, timeout: PROBE_TIMEOUT_MS, windowsHide: true, maxBuffer: 1 << 20 },
      (error, stdout) => {
        try {
          const parsed = JSON.parse(stdout) as ChildResult;
          if (typeof parsed.works === 'boolean') {
            resolve(parsed);
            return;
          }
        } catch {
          // fall through: no answer from the child
        }
        const why = error && (error as NodeJS.ErrnoException & { killed?: boolean }).killed
          ? `timed out after ${PROBE_TIMEOUT_MS} ms`
          : `probe process failed${error ? `: ${String(error.message).split('\n')[0]}` : ''}`;
        resolve({ works: false, reason: why });
      });
  });
}

export interface HeadlessGlInfo extends ChildResult {
  works: boolean;
}

/** Tries gpu.js headlessgl in a child process: does a kernel run, and on what renderer. */
export async function probeHeadlessGl(): Promise<HeadlessGlInfo> {
  let gpujsPath: string;
  try {
    gpujsPath = require.resolve('gpu.js');
  } catch (e) {
    return { works: false, reason: `gpu.js is not installed: ${(e as Error).message.split("\n")[0]}` };
  }
  let r = await runChild(['-e', HEADLESSGL_SCRIPT, gpujsPath]);
  // headless-gl's context creation fails now and then with an X display there (silently: a
  // null context, which gpu.js reports as "not supported"), most often when another process
  // starts Mesa at the same moment, e.g. the webgpu probe beside it on a loaded machine: 3 in
  // 100 paired starts here. Ask again, a little later each time. Without a display the refusal
  // is certain, and is not asked again.
  for (let retry = 1; retry <= HEADLESSGL_RETRIES && process.env.DISPLAY && !r.works && /not supported/i.test(r.reason ?? ''); retry++) {
    await new Promise((resolve) => setTimeout(resolve, HEADLESSGL_RETRY_MS * retry));
    r = await runChild(['-e', HEADLESSGL_SCRIPT, gpujsPath]);
  }
  return { ...r, works: Boolean(r.works) };
}

export interface WebGpuProbe extends ChildResult {
  works: boolean;
  /** The adapter's one-line name, '(software)' where it is one (see webgpu.ts). */
  renderer?: string;
  software?: boolean;
}

/** Tries Dawn in a child process: is there an adapter and a device, and what is it. */
export async function probeWebGpu(): Promise<WebGpuProbe> {
  let webgpuPath: string;
  try {
    webgpuPath = require.resolve('webgpu');
  } catch (e) {
    return { works: false, reason: `the webgpu package (Dawn) is not installed: ${(e as Error).message.split("\n")[0]}` };
  }
  const r = await runChild(['--input-type=module', '-e', WEBGPU_SCRIPT, pathToFileURL(webgpuPath).href]);
  if (!r.works || !r.adapter) return { ...r, works: false, reason: r.reason ?? 'the probe named no adapter' };
  const adapter = describeAdapter({ info: { ...r.adapter, isFallbackAdapter: r.fallback } });
  return { ...r, works: true, renderer: adapterName(adapter), software: adapter.software };
}

function headlessGlReason(reason: string | undefined): string {
  const why = reason ?? 'unknown';
  if (/not supported/i.test(why)) {
    return process.env.DISPLAY
      ? `headless-gl could not create a WebGL context on display ${process.env.DISPLAY} (${1 + HEADLESSGL_RETRIES} tries): ` +
        'does that X server run, and does it offer GLX (glxinfo -B)?'
      : 'headless-gl could not create a WebGL context: it needs an X display (run under xvfb-run -a)';
  }
  return why;
}

/** Every gpu.js mode, whether it works here and on what; for `rnn info`. Never prints. */
export async function probeGpujsModes(): Promise<GpujsModeProbe[]> {
  const [gl, webgpu] = await Promise.all([probeHeadlessGl(), probeWebGpu()]);
  return [
    gl.works
      ? { mode: 'headlessgl', works: true, device: describeRenderer(gl.renderer ?? 'unknown renderer') }
      : { mode: 'headlessgl', works: false, reason: headlessGlReason(gl.reason) },
    webgpu.works
      ? { mode: 'webgpu', works: true, device: webgpu.renderer ?? 'unknown adapter', adapter: webgpu.adapter, software: webgpu.software }
      : { mode: 'webgpu', works: false, reason: webgpu.reason },
    { mode: 'cpu', works: true, device: 'JavaScript on the CPU' },
  ];
}
