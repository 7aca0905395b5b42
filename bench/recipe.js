#!/usr/bin/env node
// The size rule's inputs, measured at length: training chars/s of each candidate of src/engine/recipe.ts
// (bench/train-worker.js, E=64 B=32 T=64, wasm, LSTM and GRU), and what the rule trains on
// tiny-shakespeare for a few budgets given these rates. (`rnn train --time` measures its own in a
// few seconds, src/engine/rates.ts; this is the slow check of those.)
//
//   node bench/recipe.js [--seconds 15] [--threads 2]
//
// `npm run build` first; corpora/tinyshakespeare.txt must be present; nothing else should run.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { arg } = require('./common');

const ROOT = path.join(__dirname, '..');
const { RECIPE_HIDDEN_SIZES, MIN_PASSES, chooseRecipe } = require(path.join(ROOT, 'dist', 'engine', 'recipe'));

const SECONDS = arg('seconds', '15');
const THREADS = Number(arg('threads', '2'));
const CORPUS = path.join(ROOT, 'corpora', 'tinyshakespeare.txt');

function measure(candidate, cell) {
  const args = [path.join(__dirname, 'train-worker.js'), '--backend', 'wasm', '--cell', cell, '--layers', String(candidate.layers),
    '--hidden', String(candidate.hiddenSize), '--batch', '32', '--seq-len', '64', '--seconds', SECONDS, '--warmup', '5',
    '--threads', String(THREADS)];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`train-worker ${candidate.layers}x${candidate.hiddenSize}: ${run.stderr.trim()}`);
  return JSON.parse(run.stdout.trim().split('\n').pop());
}

function main() {
  const text = fs.readFileSync(CORPUS, 'utf8');
  const chars = [...text].length;
  const valChars = Math.floor(chars * 0.1);
  const trainChars = chars - valChars;
  const n = (x) => Math.round(x).toLocaleString('en-US');
  const lines = [`| size | LSTM chars/s (${THREADS} threads) | GRU chars/s |`, '| --- | --- | --- |'];
  const gruRates = [];
  for (const hiddenSize of RECIPE_HIDDEN_SIZES) {
    const c = { layers: 2, hiddenSize };
    const lstm = measure(c, 'lstm').train_chars_per_s;
    const gru = measure(c, 'gru').train_chars_per_s;
    process.stderr.write(`recipe: ${c.layers}x${c.hiddenSize}: LSTM ${n(lstm)}, GRU ${n(gru)} chars/s\n`);
    gruRates.push({ layers: 2, hiddenSize, charsPerSecond: gru });
    lines.push(`| ${c.layers}x${c.hiddenSize} | ${n(lstm)} | ${n(gru)} |`);
  }
  lines.push('', `What \`rnn train tinyshakespeare --time D\` then trains (${trainChars.toLocaleString('en-US')} training characters; at least ${MIN_PASSES} passes; validation every 200 iterations counted):`, '');
  lines.push('| --time | model | dropout | passes (estimated) |', '| --- | --- | --- | --- |');
  for (const minutes of [2, 5, 10, 15, 30, 60, 120]) {
    const r = chooseRecipe({ trainChars, valChars, budgetMs: minutes * 60000, layers: 2, evalEvery: 200, batchSize: 32, seqLen: 64, embeddingSize: 64 }, gruRates);
    lines.push(`| ${minutes}m | ${r.layers}x${r.hiddenSize} ${r.cell.toUpperCase()} | ${r.dropout} | ${r.passes.toFixed(1)} |`);
  }
  lines.push('', `Command: \`node bench/recipe.js --seconds ${SECONDS} --threads ${THREADS}\`; ${new Date().toISOString()}.`);
  process.stdout.write(`${lines.join('\n')}\n`);
}

main();
