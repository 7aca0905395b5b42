// `npm run bench`: every benchmark side by side in one run, written as a markdown table.
//
// 1. GEMM GFLOP/s at the LSTM shapes (bench/gemm.js) beside PyTorch/OpenBLAS SGEMM.
// 2. End-to-end training chars/s and peak RSS, E=64 B=50 T=50, 2x128 / 2x256 / 2x512, for every
//    backend (bench/train-worker.js, one process each) and for PyTorch (bench/peers/pytorch_lstm.py).
// 3. Sampling chars/s at batch 1 and the time from process start to the first character on stdout.
// Runs one measurement at a time (the machine has 2 cores; never two benchmarks at once).
// Usage: node bench/run.js [--quick] [--sizes 128,256] [--backends wasm,reference] [--no-pytorch] [--no-gpujs] [--no-gemm]
//        [--out bench/results/bench.md]
'use strict';
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const CORPUS = path.join(ROOT, 'corpora', 'tinyshakespeare.txt');
const SYSTEM_PYTHON = '/usr/bin/python3'; // Debian's python3-torch lives under the system interpreter

function parseArgs() {
  const argv = process.argv.slice(2);
  const opts = { quick: false, sizes: [128, 256, 512], backends: ['wasm', 'reference'], pytorch: true, gpujs: true, out: path.join(ROOT, 'bench', 'results', 'bench.md'), seconds: 10, gemm: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') { opts.quick = true; opts.seconds = 3; }
    else if (a === '--no-pytorch') opts.pytorch = false;
    else if (a === '--no-gemm') opts.gemm = false;
    else if (a === '--no-gpujs') opts.gpujs = false;
    else if (a === '--sizes') opts.sizes = argv[++i].split(',').map(Number);
    else if (a === '--backends') opts.backends = argv[++i].split(',');
    else if (a === '--seconds') opts.seconds = Number(argv[++i]);
    else if (a === '--out') opts.out = argv[++i];
    else throw new Error(`unknown option ${a}`);
  }
  return opts;
}

function log(message) {
  process.stderr.write(`bench: ${message}\n`);
}

function runJson(cmd, args, env = {}) {
  // A measurement that takes over 5 minutes is reported as failed rather than left to hang.
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20, timeout: 300000 });
  if (r.status !== 0) {
    log(`${path.basename(cmd)} ${args.join(' ')} failed (${r.status}): ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
    return null;
  }
  const out = r.stdout.trim();
  try {
    return JSON.parse(out); // one (possibly pretty-printed) object
  } catch {
    const line = out.split('\n').filter((l) => l.startsWith('{')).pop();
    return line ? JSON.parse(line) : null;
  }
}

/** headless-gl needs an X server: wrap in xvfb-run when there is no display. */
function withDisplay(cmd, args) {
  if (process.env.DISPLAY || spawnSync('xvfb-run', ['--help'], { stdio: 'ignore' }).error) return [cmd, args];
  return ['xvfb-run', ['-a', cmd, ...args]];
}

function trainWorker(backend, H, extra) {
  const args = [path.join(__dirname, 'train-worker.js'), '--backend', backend, '--hidden', String(H), ...extra];
  return runJson(...(backend === 'gpujs' ? withDisplay(process.execPath, args) : [process.execPath, args]));
}

function havePytorch() {
  if (!fs.existsSync(SYSTEM_PYTHON)) return false;
  return spawnSync(SYSTEM_PYTHON, ['-c', 'import torch'], { encoding: 'utf8' }).status === 0;
}

/** Spawns `rnn sample` and times the first byte and the whole stream on stdout. */
function timeSample(checkpoint, length, backend, extra = []) {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'rnn'), 'sample', '--checkpoint', checkpoint, '--length', String(length), '--seed', '1', '--backend', backend, '-q', ...extra], { cwd: ROOT });
    let first = null;
    let bytes = 0;
    child.stdout.on('data', (chunk) => {
      if (first === null) first = process.hrtime.bigint();
      bytes += chunk.length;
    });
    child.on('close', (code) => {
      const end = process.hrtime.bigint();
      if (code !== 0 || first === null) return resolve(null);
      resolve({
        first_char_s: Number(first - t0) / 1e9,
        sample_chars_per_s: (length - 1) / (Number(end - first) / 1e9),
      });
    });
  });
}

/**
 * Total chars/s of `rnn sample --num N` (N rows of `length`), as the difference of two whole runs
 * of different lengths, so process start-up and loading cancel out. Best of `rounds`.
 */
async function timeSampleBatch(checkpoint, num, short, long, extra = [], rounds = 2) {
  let best = null;
  for (let r = 0; r < rounds; r++) {
    const wall = async (length) => {
      const t0 = process.hrtime.bigint();
      const run = await timeSample(checkpoint, length, 'auto', ['--num', String(num), ...extra]);
      return run ? Number(process.hrtime.bigint() - t0) / 1e9 : null;
    };
    const a = await wall(short);
    const b = await wall(long);
    if (a === null || b === null || b <= a) continue;
    const perS = (num * (long - short)) / (b - a);
    best = best === null ? perS : Math.max(best, perS);
  }
  return best;
}

/** PyTorch's batch-1 sampling at its best threading for it (1 or 2 torch threads, OpenBLAS 2). */
function pytorchSample(H, chars) {
  let best = null;
  for (const threads of ['1', '2']) {
    const t0 = Date.now() / 1000;
    const r = runJson(SYSTEM_PYTHON, [path.join(__dirname, 'peers', 'pytorch_lstm.py'), '--corpus', CORPUS, '--hidden', String(H), '--steps', '0', '--warmup', '0', '--sample-chars', String(chars), '--t0', String(t0), '--threads', threads, '--json']);
    if (r && (best === null || r.sample_chars_per_s > best.sample_chars_per_s)) best = r;
  }
  return best;
}

/** Writes a randomly initialised checkpoint of the given size for the sampling benchmark. */
async function makeCheckpoint(layers, hidden, file) {
  const dist = path.join(ROOT, 'dist');
  const { ReferenceBackend } = require(path.join(dist, 'kernels', 'reference', 'reference'));
  const { Model } = require(path.join(dist, 'engine', 'model'));
  const { Rng } = require(path.join(dist, 'engine', 'rng'));
  const { Vocab } = require(path.join(dist, 'data', 'vocab'));
  const { saveCheckpoint } = require(path.join(dist, 'checkpoint', 'checkpoint'));
  const { defaultTrainConfig } = require(path.join(dist, 'config'));
  const vocab = Vocab.fromText(fs.readFileSync(CORPUS, 'utf8'));
  const backend = new ReferenceBackend('float32');
  const modelConfig = { vocabSize: vocab.size, embeddingSize: 64, hiddenSize: hidden, layers, cell: 'lstm', zoneout: 0 };
  const model = new Model(backend, modelConfig);
  model.initialize(new Rng(1));
  const train = defaultTrainConfig();
  train.model = { layers, hiddenSize: hidden, embeddingSize: 64, cell: 'lstm', zoneout: 0 };
  await saveCheckpoint(file, {
    model: modelConfig, train, vocab, adamStep: 0, createdAt: new Date().toISOString(),
    progress: { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] },
    corpus: { source: 'bench', sha256: '', characters: 0 },
  }, model, null, null);
}

const fmt = (x, digits = 0) => (x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const ratio = (a, b) => (a && b ? `${(a / b).toFixed(2)}×` : '–');

async function main() {
  const opts = parseArgs();
  if (!fs.existsSync(CORPUS)) throw new Error(`${CORPUS} is missing: run npm run fetch-corpus`);
  const torch = opts.pytorch && havePytorch();
  if (opts.pytorch && !torch) log(`PyTorch not found under ${SYSTEM_PYTHON} (apt-get install python3-torch libopenblas0-pthread); its columns stay empty`);
  const cpu = os.cpus()[0];
  const lines = [];
  lines.push(`# rnn benchmark, ${new Date().toISOString().slice(0, 10)}`, '');
  lines.push(`Machine: ${os.cpus().length} × ${cpu ? cpu.model.trim() : 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}.`);
  lines.push(`Command: \`node bench/run.js ${process.argv.slice(2).join(' ')}\`. E=64, B=50, T=50, Adam, clip-norm 5; chars/s = B·T per step.`, '');

  // 1. GEMM
  if (opts.gemm) {
    log('GEMM at the LSTM shapes');
    const gemm = runJson(process.execPath, [path.join(__dirname, 'gemm.js'), '--json', '--hidden', opts.sizes.join(',')]);
    let peer = null;
    if (torch && gemm) {
      const shapes = gemm.rows.map((r) => `${r.M},${r.K},${r.N}`);
      peer = runJson(SYSTEM_PYTHON, [path.join(__dirname, 'peers', 'pytorch_lstm.py'), '--gemm', '--json', '--shapes', ...shapes]);
    }
    if (gemm) {
      lines.push('## GEMM (GFLOP/s)', '');
      // The peer's first entry is torch.mm at 2048³: the machine's practical SGEMM ceiling.
      const ceiling = peer ? peer.gemm[0].gflops : null;
      if (ceiling) lines.push(`Practical ceiling here: PyTorch/OpenBLAS SGEMM 2048³ = ${fmt(ceiling, 1)} GFLOP/s (${peer.blas_threads} BLAS threads, same run).`, '');
      const many = `wasm${gemm.threads}`;
      lines.push(`| H | op | M×K×N | reference | wasm 1 thread | wasm ${gemm.threads} threads | OpenBLAS same shape | wasm/OpenBLAS | wasm/ceiling |`, '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
      gemm.rows.forEach((r, i) => {
        const blas = peer ? peer.gemm[i + 1]?.gflops : null;
        const best = Math.max(r.wasm1 ?? 0, r[many] ?? 0);
        lines.push(`| ${r.H} | ${r.shape} | ${r.M}×${r.K}×${r.N} | ${fmt(r.reference, 2)} | ${fmt(r.wasm1, 1)} | ${fmt(r[many], 1)} | ${fmt(blas, 1)} | ${ratio(best, blas)} | ${ratio(best, ceiling)} |`);
      });
      lines.push('');
    }
  }

  // 1b. gpu.js GEMM in every mode that works, beside wasm at the same per-step shapes.
  let gemmRows = null;
  if (opts.gemm && opts.gpujs) {
    log('gpu.js GEMM in every mode that works');
    const gg = runJson(...withDisplay(process.execPath, [path.join(__dirname, 'gpujs-gemm.js'), '--json', '--hidden', opts.sizes.join(',')]));
    if (gg) {
      const wasm = runJson(process.execPath, [path.join(__dirname, 'gemm.js'), '--json', '--hidden', opts.sizes.join(',')]);
      gemmRows = wasm ? wasm.rows : [];
      const labels = [...new Set(gg.rows.map((r) => r.backend))];
      lines.push('## gpu.js GEMM (GFLOP/s, readback included)', '');
      for (const p of gg.probes) lines.push(`- gpu.js ${p.mode}: ${p.works ? `works, ${p.device}` : `unavailable: ${p.reason}`}`);
      lines.push('', `| H | op | M×K×N | ${labels.join(' | ')} | wasm 1 thread | wasm ${wasm ? wasm.threads : '?'} threads |`, `| --- | --- | --- | ${labels.map(() => '---').join(' | ')} | --- | --- |`);
      const keys = [...new Set(gg.rows.map((r) => `${r.H}|${r.shape}|${r.M}|${r.K}|${r.N}`))];
      for (const key of keys) {
        const [H, shape, M, K, N] = key.split('|');
        const cells = labels.map((l) => fmt(gg.rows.find((r) => r.backend === l && `${r.H}|${r.shape}|${r.M}|${r.K}|${r.N}` === key)?.gflops, 2));
        const w = gemmRows.find((r) => r.M === Number(M) && r.K === Number(K) && r.N === Number(N));
        lines.push(`| ${H} | ${shape} | ${M}×${K}×${N} | ${cells.join(' | ')} | ${fmt(w?.wasm1, 1)} | ${fmt(w ? w[`wasm${wasm.threads}`] : null, 1)} |`);
      }
      lines.push('');
    }
  }

  // 1c. Every backend and gpu.js mode side by side at the walking skeleton's size.
  if (opts.gpujs) {
    lines.push('## Every backend at 2x128, B=32, T=64 (train chars/s)', '');
    lines.push('| backend | device | chars/s | steps timed | vs reference |', '| --- | --- | --- | --- | --- |');
    const runs = [['reference', []], ['gpujs', ['--gpu-mode', 'cpu']], ['gpujs', ['--gpu-mode', 'headlessgl']], ['gpujs', ['--gpu-mode', 'webgpu']], ['wasm', []]];
    let refSpeed = null;
    for (const [backend, extra] of runs) {
      log(`train 2x128 B=32 T=64 on ${backend} ${extra.join(' ')}`);
      // The slow ones: one untimed step (gpu.js compiles its kernels there), then one timed step.
      const slow = backend !== 'wasm';
      const r = trainWorker(backend, 128, ['--batch', '32', '--seq-len', '64', '--seconds', slow ? '1' : String(opts.seconds), '--warmup', slow ? '1' : '2', '--max-steps', slow ? '1' : '1000000', ...extra]);
      if (backend === 'reference' && r) refSpeed = r.train_chars_per_s;
      // The device column says '(software)' for llvmpipe/lavapipe: correct, never a GPU figure.
      lines.push(`| ${backend}${extra.length ? ` ${extra[1]}` : ''}${r && /\(software\)/.test(r.description) ? ' (software)' : ''} | ${r ? r.description : 'unavailable here'} | ${fmt(r?.train_chars_per_s)} | ${r ? r.steps : '–'} | ${ratio(r?.train_chars_per_s, refSpeed)} |`);
    }
    lines.push('');
  }

  // 2. Training
  lines.push('## Training (chars/s, peak RSS)', '');
  const header = ['size', ...opts.backends.map((b) => `${b} chars/s`), ...(torch ? ['PyTorch chars/s'] : []), ...opts.backends.map((b) => `${b}/PyTorch`), ...opts.backends.map((b) => `${b} RSS MB`), ...(torch ? ['PyTorch RSS MB'] : [])];
  lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
  for (const H of opts.sizes) {
    const ours = {};
    for (const backend of opts.backends) {
      // The reference backend is slow: a few steps say enough.
      const seconds = backend === 'reference' ? Math.min(opts.seconds, 4) : opts.seconds;
      log(`train 2x${H} on ${backend} for ${seconds}s`);
      // One reference step at 2x512 takes minutes: it is measured up to 2x256 only.
      if (backend === 'reference' && H > 256) { ours[backend] = null; continue; }
      ours[backend] = trainWorker(backend, H, ['--seconds', String(seconds), '--warmup', backend === 'reference' ? '0' : '2', '--max-steps', backend === 'reference' ? '1' : '1000000']);
    }
    let peer = null;
    if (torch) {
      log(`train 2x${H} on PyTorch`);
      peer = runJson(SYSTEM_PYTHON, [path.join(__dirname, 'peers', 'pytorch_lstm.py'), '--corpus', CORPUS, '--hidden', String(H), '--steps', opts.quick ? '8' : '30', '--sample-chars', '0', '--json']);
    }
    const pt = peer ? peer.train_chars_per_s : null;
    const row = [`2x${H}`, ...opts.backends.map((b) => fmt(ours[b]?.train_chars_per_s)), ...(torch ? [fmt(pt)] : []),
      ...opts.backends.map((b) => ratio(ours[b]?.train_chars_per_s, pt)), ...opts.backends.map((b) => fmt(ours[b]?.peak_rss_mb)), ...(torch ? [fmt(peer?.peak_rss_mb)] : [])];
    lines.push(`| ${row.join(' | ')} |`);
  }
  lines.push('');

  // 3. Sampling: batch 1 (float and int8) against PyTorch at its best sampling threading.
  lines.push('## Sampling at batch 1', '');
  lines.push('PyTorch at its faster of 1 and 2 torch threads (OpenBLAS 2) for sampling; chars/s after the first character; start → first char is process start to the first byte on stdout.', '');
  lines.push('| size | rnn chars/s | rnn int8 chars/s | PyTorch chars/s (threads) | rnn/PyTorch | int8/PyTorch | rnn start → first char (s) | int8 start → first char (s) | PyTorch start → first char (s) |', '| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-bench-'));
  const sampleLength = opts.quick ? 2000 : 10000;
  const peers = {};
  const files = {};
  for (const H of [opts.sizes[0], opts.sizes[opts.sizes.length - 1]].filter((h, i, a) => a.indexOf(h) === i)) {
    const file = path.join(tmp, `bench-2x${H}.safetensors`);
    files[H] = file;
    await makeCheckpoint(2, H, file);
    log(`sample 2x${H}`);
    const ours = await timeSample(file, sampleLength, 'auto');
    const int8 = await timeSample(file, sampleLength, 'auto', ['--quantize', 'int8']);
    const peer = torch ? pytorchSample(H, opts.quick ? 500 : 2000) : null;
    peers[H] = peer;
    lines.push(`| 2x${H} | ${fmt(ours?.sample_chars_per_s)} | ${fmt(int8?.sample_chars_per_s)} | ${fmt(peer?.sample_chars_per_s)}${peer ? ` (${peer.threads})` : ''} | ${ratio(ours?.sample_chars_per_s, peer?.sample_chars_per_s)} | ${ratio(int8?.sample_chars_per_s, peer?.sample_chars_per_s)} | ${fmt(ours?.first_char_s, 3)} | ${fmt(int8?.first_char_s, 3)} | ${fmt(peer?.first_char_s, 3)} |`);
  }
  // Whichever model ships, found as rnn finds it (dist/ is built before any bench runs rnn).
  const { bundledCheckpoint, readCheckpointMeta } = require(path.join(ROOT, 'dist', 'checkpoint', 'checkpoint.js'));
  const bundled = bundledCheckpoint();
  if (bundled) {
    const { model } = readCheckpointMeta(bundled);
    const starts = [];
    for (let i = 0; i < 5; i++) starts.push((await timeSample(bundled, 1, 'auto'))?.first_char_s ?? Infinity);
    starts.sort((a, b) => a - b);
    lines.push('', `The bundled ${model.layers}x${model.hiddenSize} (${path.basename(bundled)}): start → first character ${fmt(starts[2], 3)} s (median of 5; fastest ${fmt(starts[0], 3)} s).`);
  }
  lines.push('');

  // 3b. Batched sampling: --num N rows in one batch, total chars/s (difference of two lengths).
  const H = opts.sizes[opts.sizes.length - 1];
  const peerPerS = peers[H]?.sample_chars_per_s;
  lines.push(`## Batched sampling, 2x${H}: \`rnn sample --num N\` (total chars/s)`, '');
  lines.push(`Each figure is N × (L₂ − L₁) / (wall(L₂) − wall(L₁)) for two whole runs, so start-up cancels; best of 2. PyTorch batch 1 at its best threading: ${fmt(peerPerS)} chars/s.`, '');
  lines.push('| N | float chars/s | int8 chars/s | float / PyTorch batch 1 | int8 / PyTorch batch 1 |', '| --- | --- | --- | --- | --- |');
  for (const N of [1, 8, 64]) {
    log(`sample --num ${N} at 2x${H}`);
    const short = opts.quick ? 100 : N === 1 ? 1000 : 300;
    const long = short * 3;
    const f = await timeSampleBatch(files[H], N, short, long);
    const q = await timeSampleBatch(files[H], N, short, long, ['--quantize', 'int8']);
    lines.push(`| ${N} | ${fmt(f)} | ${fmt(q)} | ${ratio(f, peerPerS)} | ${ratio(q, peerPerS)} |`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
  lines.push('');

  const table = lines.join('\n');
  fs.mkdirSync(path.dirname(opts.out), { recursive: true });
  fs.writeFileSync(opts.out, `${table}\n`);
  process.stdout.write(`${table}\n`);
  log(`wrote ${path.relative(ROOT, opts.out)}`);
}

main().catch((err) => {
  process.stderr.write(`bench: ${err.stack || err}\n`);
  process.exit(1);
});
