#!/usr/bin/env node
// Quality per minute, side by side in one run: `rnn train tinyshakespeare --time 15m` with its
// defaults (the size rule chooses the model) against the PyTorch peer (bench/peers/pytorch_train.py,
// 2x512, dropout 0.25, Adam 2e-3, clip 5, torch 1 thread + OpenBLAS 2), one after the other.
// Both validate on the same split the same way (B=32 streams, T=64 windows, rnn's Evaluator)
// about once a minute, and both count those passes in their wall-clock budget.
//
//   node bench/curve.js [--minutes 15] [--pytorch-flags "--hidden 512 --dropout 0.25"]... [--skip-pytorch]
//
// --pytorch-flags may be given more than once: each is one more PyTorch run (one more column),
// e.g. `--pytorch-flags "--cell gru --dropout 0.05 --cosine --batch 32 --seq-len 64"` for the
// recipe our size rule chose, trained by PyTorch.
//
// Our only flags beyond the defaults are bookkeeping (--log, --json, a scratch --checkpoint-dir)
// and --eval-every, set so that a validation pass comes about once a minute of wall clock, as
// PyTorch's --eval-every-s 60 does: from this machine's training rate at the size the rule
// chose, measured first by bench/train-worker.js for 20 s (the rule's own rates are another
// machine's, and a faster engine would otherwise pay for more passes than PyTorch does), less
// the pass's own time (a forward pass costs about a third of a training step per character).
// Writes bench/results/curve.md and the JSON lines of both runs.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { arg, machineLine, lossPerMinute } = require('./common');

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const CORPUS = path.join(ROOT, 'corpora', 'tinyshakespeare.txt');
const SYSTEM_PYTHON = '/usr/bin/python3';
const { DEFAULTS } = require(path.join(ROOT, 'dist', 'config'));

const MINUTES = Number(arg('minutes', '15'));
const PEER_DEFAULT = '--hidden 512 --layers 2 --dropout 0.25 --lr 2e-3 --clip 5';
/** Every --pytorch-flags value, in order (one PyTorch run each); with none, the
 * reference peer: a 2x512 LSTM, dropout 0.25, Adam 2e-3 at a constant rate, clip 5. */
const PYTORCH_RUNS = process.argv.flatMap((a, i) => (a === '--pytorch-flags' ? [process.argv[i + 1] ?? ''] : []));
if (PYTORCH_RUNS.length === 0) PYTORCH_RUNS.push(PEER_DEFAULT);
const SKIP_PYTORCH = process.argv.includes('--skip-pytorch');

function ours() {
  const text = fs.readFileSync(CORPUS, 'utf8');
  const chars = [...text].length;
  const valChars = Math.floor(chars * DEFAULTS.valFraction);
  const B = DEFAULTS.batchSize, T = DEFAULTS.seqLen;
  // What `rnn train --time` will train: its own plan, by the rates it measures on this machine.
  const planned = spawnSync(process.execPath, [path.join(ROOT, 'bin', 'rnn'), 'train', CORPUS, '--time', `${MINUTES}m`, '--plan', '--json'], { encoding: 'utf8' });
  if (planned.status !== 0) throw new Error(`rnn train --plan exited ${planned.status}: ${planned.stderr.trim().split('\n').pop()}`);
  const { model } = JSON.parse(planned.stdout);
  const recipe = { cell: model.cell, layers: model.layers, hiddenSize: model.hiddenSize };
  const rate = measuredRate(recipe, B, T);
  const evalSeconds = valChars / (3 * rate);
  const evalEvery = Math.max(1, Math.round(((60 - evalSeconds) * rate) / (B * T)));
  process.stderr.write(`curve: ${recipe.layers}x${recipe.hiddenSize} ${recipe.cell} trains ${Math.round(rate)} chars/s here; --eval-every ${evalEvery}\n`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-curve-'));
  const log = path.join(RESULTS, 'curve-rnn.jsonl');
  fs.rmSync(log, { force: true });
  const args = [path.join(ROOT, 'bin', 'rnn'), 'train', CORPUS, '--time', `${MINUTES}m`, '--eval-every', String(evalEvery),
    '--checkpoint-dir', dir, '--name', 'curve', '--log', log, '--json'];
  process.stderr.write(`curve: rnn ${args.slice(1).join(' ')}\n`);
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (run.status !== 0) throw new Error(`rnn train exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
  const chose = run.stderr.split('\n').find((l) => l.includes('training characters:')) ?? '';
  const points = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
    .map((l) => ({ elapsedMs: l.elapsedMs, iteration: l.iteration, valLoss: l.valLoss }));
  const summary = JSON.parse(run.stdout);
  const c = summary.config;
  return {
    label: `rnn ${c.model.layers}x${c.model.hiddenSize} ${c.model.cell.toUpperCase()}, dropout ${c.dropout}, ${c.lrSchedule}` +
      `${c.averageTail > 0 ? `, tail ${c.averageTail} averaged` : ''}`,
    chose: chose.replace(/^rnn: /, ''), points, final: summary.valLoss, best: summary.bestValLoss,
    chars: summary.iterations * c.batchSize * c.seqLen, command: `rnn ${args.slice(1).join(' ')}`.replace(CORPUS, 'corpora/tinyshakespeare.txt').replace(dir, '$TMP'),
  };
}

/** Training chars/s of the chosen size on this machine (bench/train-worker.js, no validation). */
function measuredRate(recipe, B, T) {
  const args = [path.join(__dirname, 'train-worker.js'), '--backend', 'wasm', '--cell', recipe.cell, '--layers', String(recipe.layers),
    '--hidden', String(recipe.hiddenSize), '--batch', String(B), '--seq-len', String(T), '--seconds', '20', '--warmup', '3'];
  const run = spawnSync(process.execPath, args, { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`train-worker: ${run.stderr.trim()}`);
  return JSON.parse(run.stdout.trim().split('\n').pop()).train_chars_per_s;
}

function pytorch(flags, index) {
  const args = [path.join(__dirname, 'peers', 'pytorch_train.py'), '--corpus', CORPUS, '--minutes', String(MINUTES),
    '--eval-batch', String(DEFAULTS.batchSize), '--eval-seq-len', String(DEFAULTS.seqLen), '--eval-every-s', '60',
    ...flags.split(/\s+/).filter(Boolean)];
  process.stderr.write(`curve: ${SYSTEM_PYTHON} ${args.join(' ')}\n`);
  const run = spawnSync(SYSTEM_PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`pytorch_train.py exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
  fs.writeFileSync(path.join(RESULTS, index === 0 ? 'curve-pytorch.jsonl' : `curve-pytorch-${index + 1}.jsonl`), run.stdout);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const last = lines[lines.length - 1];
  const s = last.settings;
  return {
    label: `PyTorch ${torchLabel(last)} ${s.layers}x${s.hidden} ${(s.cell ?? 'lstm').toUpperCase()}, dropout ${s.dropout}, ${s.cosine ? 'cosine' : 'constant'}` +
      `${s.average_tail > 0 ? `, tail ${s.average_tail} averaged` : ''}, B=${s.batch} T=${s.seq_len}`,
    points: lines.map((l) => ({ elapsedMs: l.elapsed_s * 1000, iteration: l.iteration, valLoss: l.val_loss })),
    final: last.val_loss, best: last.best_val_loss, chars: last.chars,
    command: `/usr/bin/python3 bench/peers/pytorch_train.py ${args.slice(1).join(' ')}`.replace(CORPUS, 'corpora/tinyshakespeare.txt'),
  };
}

function torchLabel(last) {
  return `${last.torch_version} (${last.threads} thread, OpenBLAS ${last.blas_threads}),`;
}

function main() {
  fs.mkdirSync(RESULTS, { recursive: true });
  const when = new Date().toISOString();
  const machine = machineLine();
  const runs = [ours()];
  if (!SKIP_PYTORCH) PYTORCH_RUNS.forEach((flags, i) => runs.push(pytorch(flags, i)));
  const fmt = (v) => (v === null || v === undefined ? '—' : v.toFixed(4));
  const md = [`# ${MINUTES} minutes of training, side by side (bench/curve.js)`, '', `${when}; ${machine}.`, ''];
  md.push(`rnn chose: ${runs[0].chose}`, '');
  md.push(`| minute | ${runs.map((r) => r.label).join(' | ')} |`, `| --- |${runs.map(() => ' --- |').join('')}`);
  // A pass finishing within a second after the minute counts for it.
  const curves = runs.map((r) => lossPerMinute(r.points, MINUTES, 1000));
  for (let m = 1; m <= MINUTES; m++) md.push(`| ${m} | ${curves.map((c) => fmt(c[m - 1])).join(' | ')} |`);
  md.push(`| final | ${runs.map((r) => fmt(r.final)).join(' | ')} |`);
  md.push(`| best | ${runs.map((r) => fmt(r.best)).join(' | ')} |`);
  md.push(`| characters trained | ${runs.map((r) => r.chars.toLocaleString('en-US')).join(' | ')} |`);
  md.push(`| validation passes | ${runs.map((r) => r.points.length).join(' | ')} |`, '');
  md.push('Validation loss in nats/char, the latest pass at or before each minute (both clocks count their validation passes).', '');
  for (const r of runs) md.push(`- \`${r.command}\``);
  md.push('', `Command: \`node ${path.relative(ROOT, __filename)} ${process.argv.slice(2).map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}\``.trim());
  fs.writeFileSync(path.join(RESULTS, 'curve.md'), `${md.join('\n')}\n`);
  process.stdout.write(`${md.join('\n')}\n`);
}

main();
