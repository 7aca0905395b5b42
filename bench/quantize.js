#!/usr/bin/env node
// Sampling at batch 1 with float32 weights and with int8 (`--quantize int8`), side by side in one
// process: the same checkpoint, backend and seed, rounds alternating none / int8 so a loaded,
// shared machine slows both alike. Prints chars/s per round and the int8 / none ratio of each
// round (the median is the figure to quote).
//
//   node bench/quantize.js <checkpoint> [--chars 2000] [--rounds 5] [--threads 1] [--backend wasm]
//
// `npm run build` first. Threads default to 1, as `rnn sample` runs.
'use strict';
const path = require('path');

const { arg } = require('./common');

const ROOT = path.join(__dirname, '..');
const { openCheckpoint } = require(path.join(ROOT, 'dist', 'checkpoint', 'checkpoint'));
const { createBackend } = require(path.join(ROOT, 'dist', 'kernels'));
const { Model } = require(path.join(ROOT, 'dist', 'engine', 'model'));
const { Rng } = require(path.join(ROOT, 'dist', 'engine', 'rng'));
const { Sampler } = require(path.join(ROOT, 'dist', 'sample', 'sampler'));

async function main() {
  const file = process.argv[2];
  if (!file || file.startsWith('--')) throw new Error('usage: node bench/quantize.js <checkpoint> [--chars N] [--rounds R] [--threads T]');
  const chars = Number(arg('chars', '2000'));
  const rounds = Number(arg('rounds', '5'));
  const threads = Number(arg('threads', '1'));
  const backend = await createBackend(arg('backend', 'wasm'), { threads });
  const ckpt = openCheckpoint(file);
  const model = new Model(backend, ckpt.meta.model);
  ckpt.restoreModel(model);
  ckpt.close();
  const { layers, hiddenSize } = ckpt.meta.model;
  console.log(`${path.basename(file)}: ${layers}x${hiddenSize}, ${backend.description}, ${chars} chars per run, node ${process.version}`);
  const decoding = { temperature: 1, topK: 0, topP: 1 };
  const run = async (mode) => {
    await model.quantize(mode);
    const sampler = new Sampler(model, ckpt.meta.vocab, new Rng(1));
    for (let i = 0; i < 50; i++) await sampler.step(decoding); // warm: V8's optimising tier
    const start = process.hrtime.bigint();
    for (let i = 0; i < chars; i++) await sampler.step(decoding);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    sampler.dispose();
    return chars / seconds;
  };
  const ratios = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    const order = r % 2 === 0 ? ['none', 'int8'] : ['int8', 'none'];
    const speed = {};
    for (const mode of order) speed[mode] = await run(mode);
    ratios.push(speed.int8 / speed.none);
    console.log(`round ${r + 1}: none ${speed.none.toFixed(0)} chars/s, int8 ${speed.int8.toFixed(0)} chars/s, int8/none ${(speed.int8 / speed.none).toFixed(2)}x`);
  }
  ratios.sort((a, b) => a - b);
  console.log(`median int8/none: ${ratios[Math.floor(ratios.length / 2)].toFixed(2)}x (min ${ratios[0].toFixed(2)}, max ${ratios[ratios.length - 1].toFixed(2)})`);
  model.dispose();
  backend.destroy();
}

main().catch((err) => {
  console.error(`bench/quantize: ${err.message}`);
  process.exit(1);
});
