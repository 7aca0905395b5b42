// One backend, one model size: end-to-end training chars/s (B·T per step) and peak RSS, as JSON.
//
// Runs the compiled engine (dist/) through the trainer's own trainStep, as `rnn train` does:
// upload the window, forward, backward, clip + Adam, carry the state, read back loss and ‖g‖².
// Run in its own process by bench/run.js so that peak RSS belongs to this backend alone.
// Usage: node bench/train-worker.js --backend wasm --layers 2 --hidden 128 [--seconds 8] [--json]
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const { defaultTrainConfig, validateConfig } = require(path.join(dist, 'config'));
const { startBackend, buildTraining } = require(path.join(dist, 'train', 'run'));
const { trainStep } = require(path.join(dist, 'engine', 'trainer'));
const { Vocab } = require(path.join(dist, 'data', 'vocab'));

function args() {
  const out = { backend: 'wasm', layers: 2, hidden: 128, embedding: 64, batch: 50, seqLen: 50, seconds: 8, warmup: 2, threads: 0, maxSteps: 1e9, corpus: path.join(__dirname, '..', 'corpora', 'tinyshakespeare.txt') };
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const key = argv[i].replace(/^--/, '').replace(/-(\w)/g, (_, c) => c.toUpperCase());
    if (key === 'json') { out.json = true; continue; }
    const value = argv[++i];
    out[key] = ['backend', 'corpus', 'gpuMode', 'cell'].includes(key) ? value : Number(value);
  }
  return out;
}

async function main() {
  const opt = args();
  const text = fs.readFileSync(opt.corpus, 'utf8');
  const vocab = Vocab.fromText(text);
  const ids = vocab.encode(text);
  // The plan `rnn train` would carry out at this size: seed 1, no validation split, no averaging.
  const config = validateConfig({
    ...defaultTrainConfig(),
    model: { layers: opt.layers, hiddenSize: opt.hidden, embeddingSize: opt.embedding, cell: opt.cell ?? 'lstm', zoneout: 0 },
    batchSize: opt.batch, seqLen: opt.seqLen, valFraction: 0, averageTail: 0, seed: 1, backend: opt.backend, threads: opt.threads,
  });
  const backend = await startBackend(config, opt.gpuMode);
  // The runner's own model, optimizer and trainer; the timed loop steps its workspace and batcher.
  const { model, optimizer: adam, trainer } = await buildTraining(backend, config, { train: ids, val: ids.subarray(0, 0), vocab });
  const { batcher, workspace: ws } = trainer;
  ws.resetState();
  let window;
  let step = 0;
  let lastLoss = NaN;
  const runStep = async () => {
    window = batcher.window(step % batcher.windowsPerEpoch, opt.seqLen, window);
    lastLoss = (await trainStep(model, adam, ws, window, { clipNorm: 5, clipValue: 0 })).loss;
    step++;
  };
  for (let i = 0; i < opt.warmup; i++) await runStep();
  const start = process.hrtime.bigint();
  let timed = 0;
  let elapsed = 0;
  while (elapsed < opt.seconds && timed < opt.maxSteps) {
    await runStep();
    timed++;
    elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  }
  const result = {
    backend: backend.name,
    description: backend.description,
    layers: opt.layers, hidden: opt.hidden, embedding: opt.embedding, batch: opt.batch, seqLen: opt.seqLen,
    steps: timed,
    seconds: elapsed,
    train_chars_per_s: (timed * opt.batch * opt.seqLen) / elapsed,
    last_loss: lastLoss,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
  backend.destroy();
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err) => {
  process.stderr.write(`train-worker: ${err.stack || err}\n`);
  process.exit(1);
});
