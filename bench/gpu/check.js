// The device check's measurements, over the compiled dist/ (jest stays on the dev machine):
//   node bench/gpu/check.js conformance [--gpu-mode webgpu]   kernels vs the float64 reference
//   node bench/gpu/check.js gemm --backend B [--gpu-mode M]    GFLOP/s at [B·T, 512]·[512, 2048]
//   node bench/gpu/check.js checkpoint FILE                    a random 2x512 checkpoint
//   node bench/gpu/check.js sample FILE --backend B [--gpu-mode M] [--length N]
// Each prints one JSON object on stdout; bench/gpu/device-check.sh runs them in turn.
// Letters: B batch, T steps, H hidden, E embedding, V vocab.
'use strict';
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const dist = path.join(ROOT, 'dist');
const { createBackend } = require(path.join(dist, 'kernels'));
const { ReferenceBackend } = require(path.join(dist, 'kernels', 'reference', 'reference'));

function flag(name, fallback) {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function random(n, seed, scale = 1) {
  const out = new Float32Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5; x >>>= 0;
    out[i] = ((x / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

async function open() {
  return createBackend(flag('--backend', 'gpujs'), { threads: 0, gpuMode: flag('--gpu-mode', 'webgpu') });
}

/** The conformance suite's kernels on a few awkward shapes, each against float64, as one report. */
async function conformance() {
  const backend = await open();
  const reference = new ReferenceBackend('float64');
  const results = [];
  const tol = 2e-6;
  const both = (rows, cols, data) => {
    const t = backend.alloc(rows, cols), r = reference.alloc(rows, cols);
    backend.upload(t, data);
    reference.upload(r, data);
    return [t, r];
  };
  const check = async (name, pairs, scale = 1) => {
    let worst = 0;
    for (const [t, r] of pairs) {
      const got = await backend.download(t), want = await reference.download(r);
      for (let i = 0; i < want.length; i++) {
        const err = Math.abs(got[i] - want[i]) / (1 + Math.abs(want[i]));
        if (!(err <= worst)) worst = err;
      }
    }
    results.push({ name, ok: worst <= tol * scale, worst });
  };
  for (const [M, K, N] of [[1, 1, 1], [5, 7, 3], [33, 65, 31], [129, 300, 67], [2, 3, 16411]]) {
    for (const tA of [false, true]) {
      for (const tB of [false, true]) {
        const opts = { transposeA: tA, transposeB: tB, accumulate: true };
        const [a, ra] = both(tA ? K : M, tA ? M : K, random(M * K, M + K));
        const [b, rb] = both(tB ? N : K, tB ? K : N, random(K * N, K + N));
        const [o, ro] = both(M, N, random(M * N, N));
        backend.matmul(a, b, o, opts);
        reference.matmul(ra, rb, ro, opts);
        await check(`matmul ${M}x${K}x${N} tA=${tA} tB=${tB} acc`, [[o, ro]], Math.sqrt(K));
      }
    }
  }
  for (const [B, H] of [[1, 1], [3, 5], [33, 257]]) {
    const [g, rg] = both(B, 4 * H, random(B * 4 * H, H, 3));
    const [cp, rcp] = both(B, H, random(B * H, B));
    const [c, rc] = both(B, H, new Float32Array(B * H));
    const [h, rh] = both(B, H, new Float32Array(B * H));
    const [hp, rhp] = both(B, H, new Float32Array(B * H));
    backend.cell('lstm').forward({ gates: g, hPrev: hp, cPrev: cp, c, h });
    reference.cell('lstm').forward({ gates: rg, hPrev: rhp, cPrev: rcp, c: rc, h: rh });
    await check(`lstm forward B=${B} H=${H}`, [[g, rg], [c, rc], [h, rh]]);
    const [dh, rdh] = both(B, H, random(B * H, 7));
    const [dr, rdr] = both(B, H, random(B * H, 8));
    const [dc, rdc] = both(B, H, random(B * H, 9));
    const [dg, rdg] = both(B, 4 * H, new Float32Array(B * 4 * H));
    backend.cell('lstm').backward({ gates: g, hPrev: hp, cPrev: cp, c, h, dh, dhRec: dr, dc, dGates: dg });
    reference.cell('lstm').backward({ gates: rg, hPrev: rhp, cPrev: rcp, c: rc, h: rh, dh: rdh, dhRec: rdr, dc: rdc, dGates: rdg });
    await check(`lstm backward B=${B} H=${H}`, [[dg, rdg], [dc, rdc]]);
  }
  for (const [N, V] of [[1, 2], [65, 65], [3200, 65]]) {
    const ids = Int32Array.from({ length: N }, (_, i) => (i * 7919) % V);
    const t = backend.allocIndices(N), rt = reference.allocIndices(N);
    backend.uploadIndices(t, ids);
    reference.uploadIndices(rt, ids);
    const [l, rl] = both(N, V, random(N * V, V, 4));
    const [loss, rloss] = both(1, 1, new Float32Array(1));
    const [dl, rdl] = both(N, V, new Float32Array(N * V));
    backend.softmaxCrossEntropy(l, t, loss, dl, 1 / N);
    reference.softmaxCrossEntropy(rl, rt, rloss, rdl, 1 / N);
    await check(`softmax cross-entropy N=${N} V=${V}`, [[loss, rloss], [dl, rdl]], Math.sqrt(N));
  }
  {
    const n = 65 * 129;
    const [p, rp] = both(65, 129, random(n, 1));
    const [g, rg] = both(65, 129, random(n, 2));
    const [m, rm] = both(65, 129, random(n, 3, 0.1));
    const [v, rv] = both(65, 129, random(n, 4, 0.1).map(Math.abs));
    const [ns, rns] = both(1, 1, new Float32Array(1));
    backend.sumSquares(g, ns, false);
    reference.sumSquares(rg, rns, false);
    await check('sumSquares 65x129', [[ns, rns]], Math.sqrt(n));
    const hyper = { lr: 0.002, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 };
    backend.adamStep(p, g, m, v, hyper, ns, 0.5);
    reference.adamStep(rp, rg, rm, rv, hyper, rns, 0.5);
    await check('adam 65x129 clipNorm=0.5', [[p, rp], [m, rm], [v, rv]]);
  }
  const description = backend.description;
  backend.destroy();
  const failed = results.filter((r) => !r.ok);
  return { description, cases: results.length, passed: results.length - failed.length, failed };
}

/** GFLOP/s of out[B·T, 4H] = x[B·T, H]·W[H, 4H] at B=128, T=64, H=512: a layer's input GEMM. */
async function gemm() {
  const backend = await open();
  const M = 128 * 64, K = 512, N = 2048;
  const a = backend.alloc(M, K), b = backend.alloc(K, N), out = backend.alloc(M, N);
  backend.upload(a, random(M * K, 1));
  backend.upload(b, random(K * N, 2));
  backend.matmul(a, b, out);
  await backend.download(out);
  let reps = 1, seconds = 0;
  for (;;) {
    const start = process.hrtime.bigint();
    for (let r = 0; r < reps; r++) backend.matmul(a, b, out);
    await backend.download(out);
    seconds = Number(process.hrtime.bigint() - start) / 1e9;
    if (seconds >= 1 || reps >= 256) break;
    reps *= 2;
  }
  const description = backend.description;
  backend.destroy();
  return { description, M, K, N, reps, seconds, gflops: (2 * M * K * N * reps) / seconds / 1e9 };
}

async function checkpoint(file) {
  const { Model } = require(path.join(dist, 'engine', 'model'));
  const { Rng } = require(path.join(dist, 'engine', 'rng'));
  const { Vocab } = require(path.join(dist, 'data', 'vocab'));
  const { saveCheckpoint } = require(path.join(dist, 'checkpoint', 'checkpoint'));
  const { defaultTrainConfig } = require(path.join(dist, 'config'));
  const corpus = flag('--corpus', path.join(ROOT, 'corpora', 'tinyshakespeare.txt'));
  const vocab = Vocab.fromText(fs.readFileSync(corpus, 'utf8'));
  const modelConfig = { vocabSize: vocab.size, embeddingSize: 64, hiddenSize: 512, layers: 2 };
  const model = new Model(new ReferenceBackend('float32'), modelConfig);
  model.initialize(new Rng(1));
  const train = defaultTrainConfig();
  train.model = { layers: 2, hiddenSize: 512, embeddingSize: 64 };
  await saveCheckpoint(file, {
    model: modelConfig, train, vocab, adamStep: 0, createdAt: new Date().toISOString(),
    progress: { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] },
    corpus: { source: 'device-check', sha256: '', characters: 0 },
  }, model, null, null);
  return { checkpoint: file };
}

/** `rnn sample` as a user runs it: chars/s after the first character, and the wait for it. */
function sample(file) {
  const length = Number(flag('--length', '2000'));
  const args = [path.join(ROOT, 'bin', 'rnn'), 'sample', '--checkpoint', file, '--length', String(length), '--seed', '1', '-q',
    '--backend', flag('--backend', 'gpujs'), '--gpu-mode', flag('--gpu-mode', 'webgpu')];
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let first = null;
    let stderr = '';
    child.stdout.on('data', () => { if (first === null) first = process.hrtime.bigint(); });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (code) => {
      const end = process.hrtime.bigint();
      if (code !== 0 || first === null) return reject(new Error(`rnn sample exited ${code}: ${stderr.trim().split('\n').pop()}`));
      resolve({ length, first_char_s: Number(first - t0) / 1e9, sample_chars_per_s: (length - 1) / (Number(end - first) / 1e9) });
    });
  });
}

async function main() {
  const what = process.argv[2];
  const result = what === 'conformance' ? await conformance()
    : what === 'gemm' ? await gemm()
      : what === 'checkpoint' ? await checkpoint(process.argv[3])
        : what === 'sample' ? await sample(process.argv[3])
          : null;
  if (!result) throw new Error(`unknown check '${what}': conformance, gemm, checkpoint FILE or sample FILE`);
  process.stdout.write(`${JSON.stringify(result)}\n`);
  if (what === 'conformance' && result.failed.length > 0) process.exitCode = 1;
}

main().catch((err) => {
  process.stderr.write(`check: ${String(err.message).split('\n')[0]}\n`);
  process.exitCode = 1;
});
