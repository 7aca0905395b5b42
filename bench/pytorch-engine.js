#!/usr/bin/env node
// Training chars/s of the two engines at one recipe, side by side in one run: ours on the wasm
// backend, and `--engine pytorch` with 1 and with 2 processes (DDP, gloo on the CPU).
//
//   node bench/pytorch-engine.js [--corpus corpora/tinyshakespeare.txt] [--seconds 60]
//
// Each run is `rnn train CORPUS --time Ns` at the same recipe (2x128 LSTM, B=32, T=64, the
// defaults), with --log; its rate is the last logged charsPerSecond: training characters over
// the run's training time, the validation passes included, for both engines alike. Prints a
// markdown table on stdout (for docs/pytorch-engine.md), progress on stderr. Never part of npm test.
'use strict';
const { spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { arg, machineLine } = require('./common');

const ROOT = path.resolve(__dirname, '..');
const corpus = arg('corpus', path.join(ROOT, 'corpora', 'tinyshakespeare.txt'));
const seconds = Number(arg('seconds', '60'));
const recipe = ['--cell', 'lstm', '--layers', '2', '--hidden', '128', '--embedding', '64', '--batch', '32', '--seq-len', '64',
  '--eval-every', '200', '--dropout', '0', '--average-tail', '0', '--lr-schedule', 'constant'];
const runs = [
  { label: 'ours, wasm backend', flags: ['--backend', 'wasm'] },
  { label: '--engine pytorch --nproc 1', flags: ['--engine', 'pytorch', '--nproc', '1'] },
  { label: '--engine pytorch --nproc 2', flags: ['--engine', 'pytorch', '--nproc', '2'] },
];

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-bench-engine-'));
const rows = [];
for (const [i, run] of runs.entries()) {
  const log = path.join(work, `run${i}.jsonl`);
  const args = [path.join(ROOT, 'bin', 'rnn'), 'train', corpus, ...recipe, ...run.flags, '--time', `${seconds}s`,
    '--checkpoint-dir', work, '--name', `run${i}`, '--log', log, '--quiet', '--json'];
  process.stderr.write(`bench: ${run.label} for ${seconds} s\n`);
  const out = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (out.status !== 0) throw new Error(`${run.label}: rnn train exited ${out.status}`);
  const summary = JSON.parse(out.stdout);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const last = lines[lines.length - 1];
  rows.push({ label: run.label, charsPerSecond: last.charsPerSecond, iterations: summary.iterations, valLoss: summary.valLoss, backend: summary.backend });
}
fs.rmSync(work, { recursive: true, force: true });

const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const base = rows[0].charsPerSecond;
console.log(`${new Date().toISOString().slice(0, 10)}, commit ${commit}, ${machineLine()}; ${seconds} s each on ${path.basename(corpus)}, ` +
  `recipe: ${recipe.join(' ')}\n`);
console.log('| engine | chars/s | × ours | iterations | val loss at the end | backend |');
console.log('|---|---:|---:|---:|---:|---|');
for (const r of rows) {
  console.log(`| ${r.label} | ${Math.round(r.charsPerSecond).toLocaleString('en-US')} | ${(r.charsPerSecond / base).toFixed(2)} | ` +
    `${r.iterations} | ${r.valLoss === null ? 'n/a' : r.valLoss.toFixed(4)} | ${r.backend} |`);
}
