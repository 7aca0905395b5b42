// What the conformance suite cannot see of the gpujs backend: the mode probe, honest device
// names, a clean refusal where a mode does not work, tensors that stay on the device, and cells
// that stay finite where a shader's own tanh does not.

import { Backend, CELL_GATES, CellName, Tensor } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createGpujsBackend, probeGpujsModes } from '../../src/kernels/gpujs';
import { GpujsBackend, GpujsKernelMode } from '../../src/kernels/gpujs/backend';
import { spawnSync } from 'child_process';

const headlessGl = process.env.RNN_TEST_HEADLESSGL === '1';
const webGpu = process.env.RNN_TEST_WEBGPU === '1';

describe('probeGpujsModes', () => {
  it('answers for every mode without printing, cpu always working', async () => {
    const printed: unknown[] = [];
    const spies = (['log', 'warn', 'error', 'info'] as const).map((name) =>
      jest.spyOn(console, name).mockImplementation((...args: unknown[]) => { printed.push(args); }));
    const writes = jest.spyOn(process.stdout, 'write');
    try {
      const modes = await probeGpujsModes();
      expect(modes.map((m) => m.mode)).toEqual(['headlessgl', 'webgpu', 'cpu']);
      expect(modes.find((m) => m.mode === 'cpu')?.works).toBe(true);
      for (const m of modes) {
        // A mode that fails says why; one that works says on what.
        expect(m.works ? m.device : m.reason).toEqual(expect.any(String));
        if (m.device && /llvmpipe|softpipe|swiftshader|lavapipe/i.test(m.device)) {
          expect(m.device).toMatch(/software/);
        }
      }
      // Whole objects, so that a failure shows the reason the probe gave.
      if (headlessGl) expect(modes.find((m) => m.mode === 'headlessgl')).toEqual(expect.objectContaining({ works: true }));
      if (webGpu) {
        const wg = modes.find((m) => m.mode === 'webgpu');
        expect(wg).toEqual(expect.objectContaining({ works: true }));
        expect(wg?.adapter).toEqual(expect.objectContaining({ vendor: expect.any(String), description: expect.any(String) }));
      }
      expect(printed).toEqual([]);
      expect(writes).not.toHaveBeenCalled();
    } finally {
      spies.forEach((s) => s.mockRestore());
      writes.mockRestore();
    }
  });
});

// Whether gpu.js's optional gl package (headless-gl) loads here, resolved from gpu.js as the probe
// resolves it. `npm ci --omit=optional`, or a machine that could not build gl's native code, leaves it
// out; then the probe's answer is that the package did not load, whatever the display.
const glLoads = spawnSync(process.execPath, ['-e',
  "require(require.resolve('gl', { paths: [require('path').dirname(require.resolve('gpu.js'))] }))"],
{ stdio: 'ignore' }).status === 0;
const GL_DID_NOT_LOAD = /^the gl package \(headless-gl\) did not load: .+; its native build needs npm to run its install script/;

describe('probeHeadlessGl', () => {
  const display = process.env.DISPLAY;
  afterEach(() => {
    if (display === undefined) delete process.env.DISPLAY;
    else process.env.DISPLAY = display;
  });

  it(`without a display refuses at once, saying what it needs (gl ${glLoads ? 'loads' : 'absent'} here)`, async () => {
    delete process.env.DISPLAY;
    const [gl] = await probeGpujsModes();
    const reason = glLoads ? /needs an X display.*xvfb-run/ : GL_DID_NOT_LOAD;
    expect(gl).toEqual({ mode: 'headlessgl', works: false, reason: expect.stringMatching(reason) });
  });

  it(`on a display that does not answer asks again before refusing, and names the display (gl ${glLoads ? 'loads' : 'absent'} here)`, async () => {
    process.env.DISPLAY = ':7919';
    const [gl] = await probeGpujsModes();
    const reason = glLoads ? /display :7919 \(4 tries\)/ : GL_DID_NOT_LOAD;
    expect(gl).toEqual({ mode: 'headlessgl', works: false, reason: expect.stringMatching(reason) });
  });
});

describe('createGpujsBackend', () => {
  it('cpu mode says so', async () => {
    const backend = await createGpujsBackend({ mode: 'cpu' });
    expect(backend.name).toBe('gpujs');
    expect(backend.description).toMatch(/cpu mode/);
    backend.destroy();
  });

  it('auto mode names what it chose', async () => {
    const backend = await createGpujsBackend({ mode: 'auto' });
    expect(backend.description).toMatch(headlessGl ? /headlessgl on / : webGpu ? /webgpu on / : /cpu mode|webgpu on /);
    backend.destroy();
    await (backend as GpujsBackend).settled();
  });

  it('webgpu mode without a Vulkan driver refuses with the reason instead of crashing or falling back', async () => {
    const saved = { icd: process.env.VK_ICD_FILENAMES, driver: process.env.VK_DRIVER_FILES };
    // The probe child inherits these: no driver manifest, so Dawn finds no adapter.
    process.env.VK_ICD_FILENAMES = process.env.VK_DRIVER_FILES = '/nonexistent/icd.json';
    try {
      await expect(createGpujsBackend({ mode: 'webgpu' })).rejects.toThrow(/webgpu mode does not work here: .*adapter/);
    } finally {
      for (const [name, value] of [['VK_ICD_FILENAMES', saved.icd], ['VK_DRIVER_FILES', saved.driver]] as const) {
        if (value === undefined) delete process.env[name]; else process.env[name] = value;
      }
    }
  });

  (webGpu ? it : it.skip)('webgpu names the adapter, software as software, and keeps tensors in device buffers (runs with RNN_TEST_WEBGPU=1)', async () => {
    const backend = await createGpujsBackend({ mode: 'webgpu' }) as GpujsBackend;
    expect(backend.description).toMatch(/^gpu\.js webgpu on .*\(vendor /);
    if (/llvmpipe|lavapipe|swiftshader/i.test(backend.description)) expect(backend.description).toMatch(/\(software\)$/);
    const a = backend.alloc(3, 4), b = backend.alloc(4, 5), out = backend.alloc(3, 5);
    backend.upload(a, Float32Array.from({ length: 12 }, (_, i) => i));
    backend.upload(b, Float32Array.from({ length: 20 }, (_, i) => i % 3));
    backend.matmul(a, b, out);
    backend.clampInPlace(out, 50);
    // Storage is the promise of a gpu.js pipeline buffer, never an array read back per op.
    const storage = await (out as unknown as { root: { data: Promise<{ type: string }> } }).root.data;
    expect(storage.type).toBe('WebGPUBuffer');
    expect(Array.from(await backend.download(out)).slice(0, 2)).toEqual([4, 7]);
    backend.destroy();
    await backend.settled();
    // The last webgpu backend takes navigator.gpu away again, or Node would not exit.
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });

  (webGpu ? it : it.skip)('webgpu raises a failed kernel at the next call, not as an unhandled rejection (runs with RNN_TEST_WEBGPU=1)', async () => {
    const backend = await createGpujsBackend({ mode: 'webgpu' }) as GpujsBackend;
    const t = backend.alloc(2, 2);
    // A kernel whose WGSL cannot compile, queued like any other.
    const bad = (backend as unknown as { kernel(key: string, spec: object): unknown }).kernel('bad', { source: 'function bad(x) { return x[this.thread.x] + undefinedName; }', output: 4 });
    (backend as unknown as { run(k: unknown, ...args: unknown[]): unknown }).run(bad, (t as unknown as { root: { data: unknown } }).root.data);
    await expect(backend.download(t)).rejects.toThrow(/gpujs backend \(webgpu\)/);
    expect(() => backend.fill(t, 1)).toThrow(/gpujs backend \(webgpu\)/);
    backend.destroy();
    await backend.settled();
  });

  (headlessGl ? it : it.skip)('headlessgl names the renderer and says when it is software (runs with RNN_TEST_HEADLESSGL=1)', async () => {
    const backend = await createGpujsBackend({ mode: 'headlessgl' });
    expect(backend.description).toMatch(/^gpu\.js headlessgl on /);
    if (/llvmpipe|softpipe|swiftshader/i.test(backend.description)) {
      expect(backend.description).toMatch(/\(software\)/);
    }
    backend.destroy();
  });

  (headlessGl ? it : it.skip)('headlessgl keeps tensors on the device between kernels (runs with RNN_TEST_HEADLESSGL=1)', async () => {
    const backend = await createGpujsBackend({ mode: 'headlessgl' }) as GpujsBackend;
    const a = backend.alloc(3, 4), b = backend.alloc(4, 5), out = backend.alloc(3, 5);
    backend.upload(a, Float32Array.from({ length: 12 }, (_, i) => i));
    backend.upload(b, Float32Array.from({ length: 20 }, (_, i) => i % 3));
    backend.matmul(a, b, out);
    backend.clampInPlace(out, 50);
    // Storage is a gpu.js Texture, not an array read back after each op.
    const storage = (out as unknown as { root: { data: unknown } }).root.data;
    expect(storage).not.toBeInstanceOf(Float32Array);
    expect(typeof (storage as { delete?: unknown }).delete).toBe('function');
    expect(backend.messages.filter((m) => /fall/i.test(m))).toEqual([]);
    const got = await backend.download(out);
    // out[0, 0] = Σ_k a[0, k] b[k, 0] = 0·0 + 1·2 + 2·1 + 3·0 (b[k, 0] = 5k mod 3).
    expect(got[0]).toBe(4);
    backend.destroy();
  });
});

describe('gpujs backend memory', () => {
  it('rejects a tensor after dispose and after destroy', async () => {
    const backend = await createGpujsBackend({ mode: 'cpu' });
    const t = backend.alloc(2, 2);
    backend.dispose(t);
    expect(() => backend.fill(t, 1)).toThrow(/after dispose/);
    const u = backend.alloc(2, 2);
    backend.destroy();
    expect(() => backend.fill(u, 1)).toThrow();
  });

  it('a view written by an op leaves the rest of its parent alone', async () => {
    const backend = await createGpujsBackend({ mode: headlessGl ? 'headlessgl' : webGpu ? 'webgpu' : 'cpu' });
    const parent = backend.alloc(4, 3);
    backend.upload(parent, Float32Array.from({ length: 12 }, (_, i) => i));
    backend.fill(backend.rowsOf(parent, 1, 2), -1);
    backend.copy(backend.rowsOf(parent, 0, 1), backend.rowsOf(parent, 3, 1));
    expect(Array.from(await backend.download(parent))).toEqual([0, 1, 2, -1, -1, -1, -1, -1, -1, 0, 1, 2]);
    backend.destroy();
  });

  (headlessGl ? it : it.skip)('headlessgl writes a step view without rebuilding its parent (runs with RNN_TEST_HEADLESSGL=1)', async () => {
    const backend = await createGpujsBackend({ mode: 'headlessgl' }) as GpujsBackend;
    const steps = 4, B = 2, H = 3;
    const x = backend.alloc(steps * B, H);
    const views = Array.from({ length: steps }, (_, t) => backend.rowsOf(x, t * B, B));
    const root = (x as unknown as { root: { data: unknown } }).root;
    const before = root.data;
    views.forEach((v, t) => backend.fill(v, t + 1));
    // Each write kept its own block; the parent's texture was not copied.
    expect(root.data).toBe(before);
    expect(Array.from(await backend.download(views[2]))).toEqual([3, 3, 3, 3, 3, 3]);
    expect(root.data).toBe(before);
    // A whole read merges the blocks once.
    const all = Array.from(await backend.download(x));
    expect(all).toEqual(Array.from({ length: steps * B * H }, (_, i) => Math.floor(i / (B * H)) + 1));
    expect(root.data).not.toBe(before);
    backend.destroy();
  });
});

// gpu.js's GLSL tanh is (e^2x − 1)/(e^2x + 1), NaN past x ≈ 44; the conformance cases draw
// pre-activations within ±3, so only this case sees a saturated cell. Every mode CI has.
describe('gpujs cells with saturated pre-activations', () => {
  const modes: GpujsKernelMode[] = ['cpu', ...(headlessGl ? ['headlessgl' as const] : []), ...(webGpu ? ['webgpu' as const] : [])];
  const B = 2, H = 3;
  for (const mode of modes) {
    it(`${mode}: every cell's forward and backward are finite and match the reference at |x| up to 100`, async () => {
      const backend = await createGpujsBackend({ mode });
      const reference = new ReferenceBackend('float64');
      try {
        for (const cell of Object.keys(CELL_GATES) as CellName[]) {
          const G = CELL_GATES[cell];
          // ±(45 … 100), past the NaN threshold on both sides; states and peepholes of moderate size.
          const saturated = (n: number): number[] => Array.from({ length: n }, (_, i) => (i % 2 ? -1 : 1) * (45 + ((i * 37) % 56)));
          const moderate = (n: number, seed: number): number[] => Array.from({ length: n }, (_, i) => Math.sin(i * 1.7 + seed));
          const values: Record<string, [number, number, number[]]> = {
            gates: [B, G * H, saturated(B * G * H)], rec: [B, 3 * H, saturated(B * 3 * H).reverse()],
            hPrev: [B, H, moderate(B * H, 1)], h: [B, H, moderate(B * H, 2)],
            cPrev: [B, H, moderate(B * H, 3)], c: [B, H, moderate(B * H, 4)], peep: [1, 3 * H, moderate(3 * H, 5)],
            dh: [B, H, moderate(B * H, 6)], dhRec: [B, H, moderate(B * H, 7)], dc: [B, H, moderate(B * H, 8)],
            dGates: [B, G * H, moderate(B * G * H, 9)], dRec: [B, 3 * H, moderate(B * 3 * H, 10)], dPeep: [B, 3 * H, moderate(B * 3 * H, 11)],
          };
          const make = (be: Backend): Record<string, Tensor> => Object.fromEntries(Object.entries(values).map(([name, [rows, cols, data]]) => {
            const t = be.alloc(rows, cols);
            be.upload(t, data);
            return [name, t];
          }));
          const got = make(backend), want = make(reference);
          for (const [be, t] of [[backend, got], [reference, want]] as const) {
            const lstmLike = cell === 'lstm' || cell === 'peephole';
            const step = {
              gates: t.gates, hPrev: t.hPrev, h: t.h, ...(lstmLike ? { cPrev: t.cPrev, c: t.c } : {}),
              ...(cell === 'gru' ? { rec: t.rec } : {}), ...(cell === 'peephole' ? { peep: t.peep } : {}),
            };
            be.cell(cell).forward(step);
            be.cell(cell).backward({
              ...step, dh: t.dh, dhRec: t.dhRec, dGates: t.dGates, ...(lstmLike ? { dc: t.dc } : {}),
              ...(cell === 'gru' ? { dRec: t.dRec } : {}), ...(cell === 'peephole' ? { dPeep: t.dPeep } : {}),
            });
          }
          for (const name of Object.keys(values)) {
            const a = Array.from(await backend.download(got[name])), b = Array.from(await reference.download(want[name]));
            expect({ cell, name, finite: a.every(Number.isFinite) }).toEqual({ cell, name, finite: true });
            a.forEach((x, i) => { if (!(Math.abs(x - b[i]) <= 1e-5 * (1 + Math.abs(b[i])))) throw new Error(`${cell} ${name}[${i}]: ${x}, want ${b[i]}`); });
          }
        }
      } finally {
        backend.destroy();
        if (mode === 'webgpu') await (backend as GpujsBackend).settled();
      }
    });
  }
});
