// GEMM speed at the LSTM's shapes: reference vs wasm on 1 and on N threads, GFLOP/s side by side,
// for both wasm kernel modules: plain SIMD128 and relaxed SIMD (fused multiply-add), measured
// shape by shape one after the other so that their ratio survives a loaded machine.
//
// Plain JS over the compiled backends (ts-node is not a dependency): run `npm run build` first,
// or `npm run bench:gemm`, which does. Usage: node bench/gemm.js [--json] [--hidden 128,256,512] [--cpu-time]
//   [--batch 50] [--gates 4]   (the GRU of the size rule: --batch 32 --gates 3)
// JSON rows: wasm1/wasmN are the module the backend picks here (`simd`), plain1/plainN SIMD128 alone.
// --cpu-time: one-thread figures per CPU-second of this process, best of three windows, and no
// thread columns: on a machine other work shares, time the process spends descheduled drops out
// (so plain vs relaxed compares the kernels), though a thread count's speedup can't be read.
// Shapes (B=50 streams, T=50 steps, E=64, V=65, G=4 gate blocks; weights stored PyTorch-style [G·H, In];
// the tables print 4H for G·H):
//   rec fwd    h·W_hhᵀ        [B, H]·[4H, H]ᵀ        per step
//   proj fwd   x·W_ihᵀ        [T·B, In]·[4H, In]ᵀ    per window, In = E (layer 1) or H (layer 2)
//   dX         dGates·W_ih    [T·B, 4H]·[4H, In]
//   dW         dGatesᵀ·x      [T·B, 4H]ᵀ·[T·B, In]   accumulated
//   rec dh     dGates·W_hh    [B, 4H]·[4H, H]        per step
//   decoder    h·W_decᵀ       [T·B, H]·[V, H]ᵀ

'use strict';
const os = require('node:os');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist', 'kernels');
const { createWasmBackend } = require(path.join(dist, 'wasm'));
const { ReferenceBackend } = require(path.join(dist, 'reference', 'reference'));

const argOf = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const B = argOf('batch', 50), T = 50, E = 64, V = 65, G = argOf('gates', 4);
/** Seconds each measurement runs for (after one untimed warm-up call). */
const MEASURE_S = 0.25;
/** The reference is skipped above this many flops: it would take seconds per call. */
const REFERENCE_MAX_FLOPS = 2e8;

function shapesFor(H) {
  const s = [
    ['rec fwd', B, H, G * H, { transposeB: true }],
    ['proj fwd E', T * B, E, G * H, { transposeB: true }],
    ['proj fwd H', T * B, H, G * H, { transposeB: true }],
    ['dX E', T * B, G * H, E, {}],
    ['dX H', T * B, G * H, H, {}],
    ['dW E', G * H, T * B, E, { transposeA: true, accumulate: true }],
    ['dW H', G * H, T * B, H, { transposeA: true, accumulate: true }],
    ['rec dh', B, G * H, H, {}],
    ['decoder', T * B, H, V, { transposeB: true }],
  ];
  return s.map(([name, M, K, N, opts]) => ({ name, M, K, N, opts }));
}

function operands(backend, { M, K, N, opts }) {
  const a = opts.transposeA ? backend.alloc(K, M) : backend.alloc(M, K);
  const b = opts.transposeB ? backend.alloc(N, K) : backend.alloc(K, N);
  const out = backend.alloc(M, N);
  let seed = 1;
  const rand = (n) => Float32Array.from({ length: n }, () => ((seed = (seed * 16807) % 2147483647) / 2147483647) - 0.5);
  backend.upload(a, rand(a.size));
  backend.upload(b, rand(b.size));
  return { a, b, out, dispose: () => [a, b, out].forEach((t) => backend.dispose(t)) };
}

const CPU_TIME = process.argv.includes('--cpu-time');
/** Seconds since `start` (an hrtime, or a cpuUsage with --cpu-time). */
const clock = CPU_TIME
  ? { start: () => process.cpuUsage(), seconds: (t0) => { const u = process.cpuUsage(t0); return (u.user + u.system) / 1e6; } }
  : { start: () => process.hrtime.bigint(), seconds: (t0) => Number(process.hrtime.bigint() - t0) / 1e9 };

/** GFLOP/s of backend.matmul at this shape: calls repeated for MEASURE_S seconds (best of 3 with --cpu-time). */
function gflops(backend, shape) {
  const { a, b, out, dispose } = operands(backend, shape);
  backend.matmul(a, b, out, shape.opts);
  let best = 0;
  for (let window = 0; window < (CPU_TIME ? 3 : 1); window++) {
    let calls = 0;
    const start = clock.start();
    let elapsed = 0;
    while (elapsed < MEASURE_S) {
      backend.matmul(a, b, out, shape.opts);
      calls++;
      elapsed = clock.seconds(start);
    }
    best = Math.max(best, (2 * shape.M * shape.N * shape.K * calls) / elapsed / 1e9);
  }
  dispose();
  return best;
}

async function main() {
  const json = process.argv.includes('--json');
  const hiddenArg = process.argv.indexOf('--hidden');
  const hiddens = hiddenArg > 0 ? process.argv[hiddenArg + 1].split(',').map(Number) : [128, 256, 512];
  const threads = CPU_TIME ? 1 : os.availableParallelism();
  const reference = new ReferenceBackend('float32');
  // The module the backend picks on its own (relaxed where the engine accepts it), and the plain one.
  const one = await createWasmBackend({ threads: 1 });
  const many = threads > 1 ? await createWasmBackend({ threads }) : null;
  const plainOne = one.simd === 'plain' ? null : await createWasmBackend({ threads: 1, simd: 'plain' });
  const plainMany = one.simd === 'plain' || threads === 1 ? null : await createWasmBackend({ threads, simd: 'plain' });
  const many1 = threads > 1;
  if (!json) {
    process.stdout.write(`wasm module here: ${one.description}${CPU_TIME ? '; GFLOP/s per CPU-second' : ''}\n`);
    process.stdout.write(`GFLOP/s (M x K x N)        reference  plain-1t${many1 ? `  plain-${threads}t` : ''}` +
      `  ${one.simd}-1t${many1 ? `  ${one.simd}-${threads}t` : ''}\n`);
  }
  const rows = [];
  try {
    for (const H of hiddens) {
      for (const shape of shapesFor(H)) {
        const flops = 2 * shape.M * shape.N * shape.K;
        const row = { H, shape: shape.name, M: shape.M, K: shape.K, N: shape.N, mflop: flops / 1e6 };
        row.reference = flops <= REFERENCE_MAX_FLOPS ? gflops(reference, shape) : null;
        row.plain1 = plainOne ? gflops(plainOne, shape) : null;
        row.wasm1 = gflops(one, shape);
        if (row.plain1 === null) row.plain1 = row.wasm1;
        if (many1) {
          row[`plain${threads}`] = plainMany ? gflops(plainMany, shape) : null;
          row[`wasm${threads}`] = gflops(many, shape);
          if (row[`plain${threads}`] === null) row[`plain${threads}`] = row[`wasm${threads}`];
        }
        rows.push(row);
        if (!json) {
          const f = (x) => (x === null ? '-' : x.toFixed(1)).padStart(9);
          const label = `H=${H} ${shape.name}`.padEnd(18);
          const dims = `${shape.M}x${shape.K}x${shape.N}`.padEnd(15);
          const cols = many1 ? [row.reference, row.plain1, row[`plain${threads}`], row.wasm1, row[`wasm${threads}`]]
            : [row.reference, row.plain1, row.wasm1];
          process.stdout.write(`${label}${dims}${cols.map(f).join('')}\n`);
        }
      }
    }
  } finally {
    [one, many, plainOne, plainMany].forEach((b) => b?.destroy());
  }
  if (json) process.stdout.write(JSON.stringify({ threads, simd: one.simd, cpu: os.cpus()[0].model, rows }) + '\n');
}

main().catch((err) => {
  process.stderr.write(`bench/gemm: ${err.message}\n`);
  process.exit(1);
});
