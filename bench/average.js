#!/usr/bin/env node
// What tail weight averaging (--average-tail) costs: one point of the running mean (a download of
// every weight and a float32 update on the host, src/engine/tail-average.ts) against one training step
// of the same model (B=32, T=64, as `rnn train` runs it), interleaved in one process so the
// machine's load falls on both alike. A point comes every AVERAGE_STRIDE steps.
//
//   node bench/average.js [--hidden 512] [--cell gru] [--backend wasm] [--rounds 20]
'use strict';
const fs = require('fs');
const path = require('path');
const { arg, machineLine } = require('./common');

const dist = path.join(__dirname, '..', 'dist');
const { createBackend } = require(path.join(dist, 'kernels'));
const { Model } = require(path.join(dist, 'engine', 'model'));
const { Adam } = require(path.join(dist, 'engine', 'optimizer'));
const { trainStep } = require(path.join(dist, 'engine', 'trainer'));
const { Rng } = require(path.join(dist, 'engine', 'rng'));
const { AVERAGE_STRIDE, WeightAverage } = require(path.join(dist, 'engine', 'tail-average'));
const { Batcher } = require(path.join(dist, 'data', 'batcher'));
const { Vocab } = require(path.join(dist, 'data', 'vocab'));

const hidden = Number(arg('hidden', '512'));
const cell = arg('cell', 'gru');
const rounds = Number(arg('rounds', '20'));

async function main() {
  const text = fs.readFileSync(path.join(__dirname, '..', 'corpora', 'tinyshakespeare.txt'), 'utf8');
  const vocab = Vocab.fromText(text);
  const backend = await createBackend(arg('backend', 'wasm'), { threads: 0 });
  const model = new Model(backend, { vocabSize: vocab.size, embeddingSize: 64, hiddenSize: hidden, layers: 2, cell, zoneout: 0 });
  model.initialize(new Rng(1), 'pytorch');
  const adam = new Adam(backend, model.params, 2e-3);
  const batcher = new Batcher(vocab.encode(text), 32, 64);
  const ws = model.workspace(32, 64, { training: true, dropout: 0 });
  const average = new WeightAverage(backend, model.params);
  const clip = { clipNorm: 5, clipValue: 0 };
  const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
  let stepMs = 0, pointMs = 0, window;
  for (let r = -2; r < rounds; r++) { // two rounds to warm up (V8's wasm tiers, the heap)
    window = batcher.window(r + 2, 64, window);
    let t0 = process.hrtime.bigint();
    await trainStep(model, adam, ws, window, clip);
    const s = ms(t0);
    t0 = process.hrtime.bigint();
    await average.add();
    const p = ms(t0);
    if (r >= 0) { stepMs += s; pointMs += p; }
  }
  stepMs /= rounds; pointMs /= rounds;
  const share = pointMs / (AVERAGE_STRIDE * stepMs + pointMs);
  process.stdout.write(`${machineLine()}; ${backend.name} (${backend.description}); 2x${hidden} ${cell}, ` +
    `${model.parameterCount.toLocaleString('en-US')} parameters\n` +
    `training step ${stepMs.toFixed(1)} ms, a point of the mean ${pointMs.toFixed(2)} ms; one point every ${AVERAGE_STRIDE} steps: ` +
    `${(100 * share).toFixed(2)}% of the tail's time\n`);
  ws.dispose();
  backend.destroy();
}

main().catch((err) => {
  process.stderr.write(`${err.stack ?? err}\n`);
  process.exit(1);
});
