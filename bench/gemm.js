// GEMM speed at the LSTM's shapes: reference vs wasm on 1 and on N threads, GFLOP/s side by side,
// for both wasm kernel modules: plain SIMD128 and relaxed SIMD (fused multiply-add), measured
// shape by shape one after the other so that their ratio survives a loaded machine.
//
// Plain JS over the compiled backends (ts-node is not a dependency): run `npm run build` first,
// or `npm run bench:gemm`, which does. Usage: node bench/gemm.js [--json] [--hidden 128,256,512]
// JSON rows: wasm1/wasmN are the module the backend picks here (`simd`), plain1/plainN SIMD128 alone.
// Shapes (B=50 streams, T=50 steps, E=64, V=65; weights stored PyTorch-style [4H, In]):
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

const B = 50, T = 50, E = 64, V = 65;
/** Seconds each measurement runs for (after one untimed warm-up call). */
const MEASURE_S = 0.25;
/** The reference is skipped above this many flops: it would take seconds per call. */
const REFERENCE_MAX_FLOPS = 2e8;

function shapesFor(H) {
  const s = [
    ['rec fwd', B, H, 4 * H, { transposeB: true }],
    ['proj fwd E', T * B, E, 4 * H, { transposeB: true }],
    ['proj fwd H', T * B, H, 4 * H, { transposeB: true }],
    ['dX E', T * B, 4 * H, E, {}],
    ['dX H', T * B, 4 * H, H, {}],
    ['dW E', 4 * H, T * B, E, { transposeA: true, accumulate: true }],
    ['dW H', 4 * H, T * B, H, { transposeA: true, accumulate: true }],
    ['rec dh', B, 4 * H, H, {}],
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

/** GFLOP/s of backend.matmul at this shape: calls repeated for MEASURE_S seconds. */
function gflops(backend, shape) {
  const { a, b, out, dispose } = operands(backend, shape);
  backend.matmul(a, b, out, shape.opts);
  let calls = 0;
  const start = process.hrtime.bigint();
  let elapsed = 0;
  while (elapsed < MEASURE_S) {
    backend.matmul(a, b, out, shape.opts);
    calls++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  dispose();
  return (2 * shape.M * shape.N * shape.K * calls) / elapsed / 1e9;
}

async function main() {
  const json = process.argv.includes('--json');
  const hiddenArg = process.argv.indexOf('--hidden');
  const hiddens = hiddenArg > 0 ? process.argv[hiddenArg + 1].split(',').map(Number) : [128, 256, 512];
  const threads = os.availableParallelism();
  const reference = new ReferenceBackend('float32');
  // The module the backend picks on its own (relaxed where the engine accepts it), and the plain one.
  const one = await createWasmBackend({ threads: 1 });
  const many = threads > 1 ? await createWasmBackend({ threads }) : null;
  const plainOne = one.simd === 'plain' ? null : await createWasmBackend({ threads: 1, simd: 'plain' });
  const plainMany = one.simd === 'plain' || threads === 1 ? null : await createWasmBackend({ threads, simd: 'plain' });
  if (!json) {
    process.stdout.write(`wasm module here: ${one.description}\n`);
    process.stdout.write(`GFLOP/s (M x K x N)        reference  plain-1t  plain-${threads}t  ${one.simd}-1t  ${one.simd}-${threads}t\n`);
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
        row[`plain${threads}`] = plainMany ? gflops(plainMany, shape) : null;
        row[`wasm${threads}`] = many ? gflops(many, shape) : null;
        if (row.plain1 === null) row.plain1 = row.wasm1;
        if (row[`plain${threads}`] === null) row[`plain${threads}`] = row[`wasm${threads}`];
        rows.push(row);
        if (!json) {
          const f = (x) => (x === null ? '-' : x.toFixed(1)).padStart(9);
          const label = `H=${H} ${shape.name}`.padEnd(18);
          const dims = `${shape.M}x${shape.K}x${shape.N}`.padEnd(15);
          process.stdout.write(`${label}${dims}${f(row.reference)}${f(row.plain1)}${f(row[`plain${threads}`])}` +
            `${f(row.wasm1)}${f(row[`wasm${threads}`])}\n`);
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
