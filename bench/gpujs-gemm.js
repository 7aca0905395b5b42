// GEMM speed of the gpujs backend at the LSTM's per-step shapes, in every gpu.js mode that
// works here, GFLOP/s side by side with the reference in the same run.
//
// Plain JS over the compiled backend (ts-node is not a dependency): `npm run build` first.
// headlessgl needs an X display: `xvfb-run -a node bench/gpujs-gemm.js`. Usage:
//   node bench/gpujs-gemm.js [--json] [--hidden 128,256,512]
// Shapes (B=50 streams, E=64; weights stored PyTorch-style [4H, In]):
//   rec fwd   h·W_hhᵀ      [B, H]·[4H, H]ᵀ
//   in fwd    x·W_ihᵀ      [B, E]·[4H, E]ᵀ
//   rec dh    dGates·W_hh  [B, 4H]·[4H, H]
// A GL or WebGPU device runs kernels asynchronously, so each timing ends with a download
// (readPixels; a mapped staging buffer), which is counted: the cost a training step pays to
// see its loss. A mode on a software device (llvmpipe, lavapipe) is labelled '(software)'.

'use strict';
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist', 'kernels');
const { createGpujsBackend, probeGpujsModes } = require(path.join(dist, 'gpujs'));
const { ReferenceBackend } = require(path.join(dist, 'reference', 'reference'));

const B = 50, E = 64;
/** Seconds each measurement runs for, after one untimed warm-up call (which compiles). */
const MEASURE_S = 0.3;

function argValue(name) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function shapesFor(H) {
  return [
    { name: 'rec fwd', M: B, K: H, N: 4 * H, opts: { transposeB: true } },
    { name: 'in fwd', M: B, K: E, N: 4 * H, opts: { transposeB: true } },
    { name: 'rec dh', M: B, K: 4 * H, N: H, opts: {} },
  ];
}

function randomData(n, seed) {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = (x / 4294967296) * 2 - 1;
  }
  return out;
}

async function gflops(backend, { M, K, N, opts }) {
  const a = opts.transposeA ? backend.alloc(K, M) : backend.alloc(M, K);
  const b = opts.transposeB ? backend.alloc(N, K) : backend.alloc(K, N);
  const out = backend.alloc(M, N);
  backend.upload(a, randomData(M * K, 1));
  backend.upload(b, randomData(K * N, 2));
  backend.matmul(a, b, out, opts);
  await backend.download(out);
  let reps = 1, seconds = 0;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) backend.matmul(a, b, out, opts);
    await backend.download(out);
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (seconds >= MEASURE_S) break;
    reps = Math.max(reps * 2, Math.ceil(reps * MEASURE_S / Math.max(seconds, 1e-3)));
  }
  for (const t of [a, b, out]) backend.dispose(t);
  return (2 * M * K * N * reps) / seconds / 1e9;
}

async function main() {
  const hidden = (argValue('--hidden') || '128,256,512').split(',').map(Number);
  const probes = await probeGpujsModes();
  const runs = [{ label: 'reference', description: 'plain TypeScript loops', create: async () => new ReferenceBackend('float32') }];
  for (const p of probes) {
    const software = p.software || /\(software\)/.test(p.device || '');
    if (p.works) runs.push({ label: `gpujs ${p.mode}${software ? ' (software)' : ''}`, create: () => createGpujsBackend({ mode: p.mode }) });
  }
  const rows = [];
  for (const run of runs) {
    const backend = await run.create();
    for (const H of hidden) {
      for (const shape of shapesFor(H)) {
        rows.push({ backend: run.label, device: backend.description, H, shape: shape.name,
          M: shape.M, K: shape.K, N: shape.N, gflops: await gflops(backend, shape) });
      }
    }
    backend.destroy();
  }
  if (process.argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ probes, rows }, null, 2)}\n`);
    return;
  }
  for (const p of probes) {
    process.stdout.write(`# ${p.mode}: ${p.works ? `works, ${p.device}` : `unavailable: ${p.reason}`}\n`);
  }
  const labels = runs.map((r) => r.label);
  process.stdout.write(`\n| H | shape | M×K×N | ${labels.join(' | ')} |\n|---|---|---|${labels.map(() => '---:').join('|')}|\n`);
  for (const H of hidden) {
    for (const shape of shapesFor(H)) {
      const cells = labels.map((l) => {
        const row = rows.find((r) => r.backend === l && r.H === H && r.shape === shape.name);
        return row ? row.gflops.toFixed(2) : '–';
      });
      process.stdout.write(`| ${H} | ${shape.name} | ${shape.M}×${shape.K}×${shape.N} | ${cells.join(' | ')} |\n`);
    }
  }
  process.stdout.write('\nGFLOP/s (2·M·K·N per matmul, readback included), one run, same machine.\n');
}

main().catch((err) => {
  process.stderr.write(`gpujs-gemm: ${err.message}\n`);
  process.exitCode = 1;
});
