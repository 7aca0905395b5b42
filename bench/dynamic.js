#!/usr/bin/env node
// Dynamic evaluation (src/engine/dynamic.ts) on the bundled model and tiny-shakespeare's
// validation split: what it gains over static evaluation, what --adapt gains on held-out
// continuations, and what it costs. One stream, segments of --seq-len, both readings in one process.
//
//   node bench/dynamic.js tables [--lr η] [--decay λ] [--seq-len T] [--rule sgd|rms]
//       dynamic vs static on the first half / second half / whole split, the time ratio, and
//       adapt vs not over --primes pieces (--prime-chars primed, --cont-chars scored after)
//   node bench/dynamic.js tune --grid 'lr=1e-4,3e-4 decay=0,1e-3 seq-len=50' [--limit N]
//       every setting of the grid on the first half of the split (its first N characters)
//   node bench/dynamic.js adapt [--passes k] [--primes 10]
//   node bench/dynamic.js profile      one segment's forward, backward and update, in ms
//   --rms-windows N: training-split windows (the checkpoint's --batch × --seq-len, 32 × 64 here)
//       whose gradients give the RMS rule's MS (default DEFAULTS.dynamicStatsWindows, as the CLI)
'use strict';
const fs = require('fs');
const path = require('path');
const { arg, machineLine } = require('./common');

const dist = path.join(__dirname, '..', 'dist');
const { createBackend } = require(path.join(dist, 'kernels'));
const { Model } = require(path.join(dist, 'engine', 'model'));
const { DynamicUpdate, StreamReader, gradientRms } = require(path.join(dist, 'engine', 'dynamic'));
const { loadCheckpoint, restoreModel } = require(path.join(dist, 'checkpoint', 'checkpoint'));
const { splitOf } = require(path.join(dist, 'cli', 'eval'));
const { DEFAULTS } = require(path.join(dist, 'config'));

const root = path.join(__dirname, '..');
const checkpointFile = arg('checkpoint', path.join(root, 'checkpoints', 'bundled', 'tinyshakespeare-2x640.safetensors'));
const mode = process.argv[2] ?? 'tables';
const rmsWindows = Number(arg('rms-windows', String(DEFAULTS.dynamicStatsWindows)));
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

function settingsFrom(overrides = {}) {
  const rule = overrides.rule ?? arg('rule', DEFAULTS.dynamicRule);
  const lr = rule === 'rms' ? DEFAULTS.dynamicRmsLearningRate : DEFAULTS.dynamicLearningRate;
  return {
    learningRate: Number(overrides.lr ?? arg('lr', String(lr))),
    decay: Number(overrides.decay ?? arg('decay', String(DEFAULTS.dynamicDecay))),
    seqLen: Number(overrides['seq-len'] ?? arg('seq-len', String(DEFAULTS.dynamicSeqLen))),
    rule,
  };
}

async function main() {
  const ckpt = loadCheckpoint(checkpointFile, { weightsOnly: true });
  const whole = fs.readFileSync(path.join(root, 'corpora', 'tinyshakespeare.txt'), 'utf8');
  const vocab = ckpt.meta.vocab;
  const val = [...splitOf(whole, 'val', ckpt.meta.train.valFraction)];
  const half = Math.floor(val.length / 2);
  const parts = {
    first: vocab.encode(val.slice(0, half).join('')),
    second: vocab.encode(val.slice(half).join('')),
    whole: vocab.encode(val.join('')),
  };
  const backend = await createBackend(arg('backend', 'wasm'), { threads: Number(arg('threads', '0')) });
  const model = new Model(backend, ckpt.meta.model);
  restoreModel(ckpt, model);
  console.error(`# ${machineLine()}; ${backend.description}; ${checkpointFile}; load ${require('os').loadavg().map((x) => x.toFixed(1)).join(' ')}`);

  let rms = null;
  const rmsFor = async (settings) => {
    if (settings.rule !== 'rms') return null;
    if (!rms) {
      const t0 = process.hrtime.bigint();
      rms = await gradientRms(model, vocab.encode(splitOf(whole, 'train', ckpt.meta.train.valFraction)),
        ckpt.meta.train.batchSize, ckpt.meta.train.seqLen, rmsWindows);
      let sum = 0, count = 0;
      for (const a of rms) for (const x of a) { sum += x; count++; }
      console.error(`# gradient RMS over ${rmsWindows} training windows: ${(ms(t0) / 1000).toFixed(1)} s; mean √MS ${(sum / count).toExponential(3)}`);
    }
    return rms;
  };

  /** Static and dynamic readings of tokens; dynamic restores the trained weights after. */
  const measure = async (tokens, settings, withStatic = true) => {
    const reader = new StreamReader(model, settings.seqLen);
    let staticLoss = NaN, staticMs = NaN;
    if (withStatic) {
      const t0 = process.hrtime.bigint();
      const s = await reader.read(tokens, null);
      staticMs = ms(t0);
      staticLoss = s.lossNats / s.predictions;
    }
    const update = new DynamicUpdate(model, settings, await rmsFor(settings));
    const t1 = process.hrtime.bigint();
    const d = await reader.read(tokens, update);
    const dynamicMs = ms(t1);
    update.reset();
    update.dispose();
    reader.dispose();
    return { staticLoss, dynamicLoss: d.lossNats / d.predictions, predictions: d.predictions, staticMs, dynamicMs };
  };

  if (mode === 'tune') {
    const grid = Object.fromEntries(arg('grid', 'lr=1e-4').split(/\s+/).map((kv) => {
      const [k, v] = kv.split('=');
      return [k, v.split(',')];
    }));
    const limit = Number(arg('limit', '0'));
    const tokens = limit > 0 ? parts.first.subarray(0, limit) : parts.first;
    const keys = Object.keys(grid);
    const combos = keys.reduce((acc, k) => acc.flatMap((c) => grid[k].map((v) => ({ ...c, [k]: v }))), [{}]);
    console.log(`| rule | lr | decay | seq-len | static | dynamic | seconds |\n|---|---|---|---|---|---|---|`);
    let staticLoss = new Map();
    for (const combo of combos) {
      // An lr of 'm0.15' under --rule rms is 0.15 × the mean of √MS: the SGD step's size, per element.
      if (String(combo.lr ?? '').startsWith('m')) {
        const r = await rmsFor({ rule: 'rms' });
        let sum = 0, count = 0;
        for (const a of r) for (const x of a) { sum += x; count++; }
        combo.lr = String(Number(combo.lr.slice(1)) * (sum / count));
      }
      const settings = settingsFrom(combo);
      const r = await measure(tokens, settings, !staticLoss.has(settings.seqLen));
      if (!Number.isNaN(r.staticLoss)) staticLoss.set(settings.seqLen, r.staticLoss);
      console.log(`| ${settings.rule} | ${settings.learningRate} | ${settings.decay} | ${settings.seqLen} | ` +
        `${staticLoss.get(settings.seqLen).toFixed(4)} | ${r.dynamicLoss.toFixed(4)} | ${(r.dynamicMs / 1000).toFixed(1)} |`);
    }
  }

  if (mode === 'tables') {
    const settings = settingsFrom();
    console.log(`Dynamic evaluation: rule ${settings.rule}, lr ${settings.learningRate}, decay ${settings.decay}, seq-len ${settings.seqLen}\n`);
    console.log('| part of the validation split | characters scored | static | dynamic | gain | static s | dynamic s | ratio |\n|---|---|---|---|---|---|---|---|');
    for (const part of ['first', 'second', 'whole']) {
      const r = await measure(parts[part], settings);
      console.log(`| ${part} | ${r.predictions} | ${r.staticLoss.toFixed(4)} | ${r.dynamicLoss.toFixed(4)} | ${(r.staticLoss - r.dynamicLoss).toFixed(4)} | ` +
        `${(r.staticMs / 1000).toFixed(1)} | ${(r.dynamicMs / 1000).toFixed(1)} | ${(r.dynamicMs / r.staticMs).toFixed(2)} |`);
    }
  }

  if (mode === 'tables' || mode === 'adapt') {
    // Pieces of the validation split, evenly spaced: the first --prime-chars read (with or without
    // adaptation), the next --cont-chars scored statically from the carried state.
    const settings = settingsFrom();
    const passes = Number(arg('passes', String(DEFAULTS.adaptPasses)));
    const primes = Number(arg('primes', '10')), primeChars = Number(arg('prime-chars', '2000')), contChars = Number(arg('cont-chars', '1000'));
    const stride = Math.floor((val.length - primeChars - contChars) / Math.max(1, primes - 1));
    console.log(`\nAdapt: ${primes} pieces of the validation split, ${primeChars} characters primed (${passes} pass(es)), the next ${contChars} scored\n`);
    console.log('| piece | starts at | continuation, static | after --adapt | gain |\n|---|---|---|---|---|');
    let sumStatic = 0, sumAdapt = 0;
    for (let p = 0; p < primes; p++) {
      const start = p * stride;
      const prime = vocab.encode(val.slice(start, start + primeChars).join(''));
      // The continuation's inputs start at the prime's last character: its state carries on.
      const cont = vocab.encode(val.slice(start + primeChars - 1, start + primeChars + contChars).join(''));
      const reader = new StreamReader(model, settings.seqLen);
      await reader.read(prime, null);
      const s = await reader.read(cont, null, null, true);
      const update = new DynamicUpdate(model, settings, await rmsFor(settings));
      for (let k = 0; k < passes; k++) await reader.read(prime, update);
      const a = await reader.read(cont, null, null, true);
      update.reset();
      update.dispose();
      reader.dispose();
      const staticLoss = s.lossNats / s.predictions, adaptLoss = a.lossNats / a.predictions;
      sumStatic += staticLoss;
      sumAdapt += adaptLoss;
      console.log(`| ${p + 1} | ${start} | ${staticLoss.toFixed(4)} | ${adaptLoss.toFixed(4)} | ${(staticLoss - adaptLoss).toFixed(4)} |`);
    }
    console.log(`| mean | | ${(sumStatic / primes).toFixed(4)} | ${(sumAdapt / primes).toFixed(4)} | ${((sumStatic - sumAdapt) / primes).toFixed(4)} |`);
  }
  if (mode === 'profile') {
    // One segment's parts, each waited for (a download) before the clock reads: 10 segments after 2.
    const settings = settingsFrom();
    const ws = model.workspace(1, settings.seqLen);
    ws.resetState();
    const update = new DynamicUpdate(model, settings, await rmsFor(settings));
    backend.uploadIndices(ws.tokens, parts.first.slice(0, settings.seqLen));
    backend.uploadIndices(ws.targets, parts.first.slice(1, settings.seqLen + 1));
    const spent = { forward: 0, backward: 0, update: 0 };
    for (let r = -2; r < 10; r++) {
      const t0 = process.hrtime.bigint();
      model.forward(ws, true, true);
      await backend.download(ws.loss);
      const t1 = process.hrtime.bigint();
      model.backward(ws);
      await backend.download(model.decoderBias.grad);
      const t2 = process.hrtime.bigint();
      update.apply();
      await backend.download(model.decoderBias.value);
      if (r < 0) continue;
      spent.forward += Number(t1 - t0) / 1e7;
      spent.backward += Number(t2 - t1) / 1e7;
      spent.update += ms(t2) / 10;
    }
    console.log(`one segment of ${settings.seqLen} (rule ${settings.rule}), ms: forward ${spent.forward.toFixed(1)}, ` +
      `backward ${spent.backward.toFixed(1)}, update ${spent.update.toFixed(1)}`);
    update.reset();
  }
  console.error(`# load after ${require('os').loadavg().map((x) => x.toFixed(1)).join(' ')}`);
  model.dispose();
  backend.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
