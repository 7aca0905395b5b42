#!/usr/bin/env node
// The RNN family side by side on tiny-shakespeare, one run, one training at a time:
//   1. every cell at 2x256 for an equal budget (default 5m), with and without dropout 0.25:
//      train chars/s, best validation loss, and the iteration where validation stopped improving;
//   2. the 2x256 LSTM for 10m at --lr-schedule constant vs cosine (the default): the validation
//      curve minute by minute and the finals.
// Each run is the real CLI (`bin/rnn train … --log`), so the figures are what a user gets.
//
//   node bench/cells.js [--minutes 5] [--schedule-minutes 10] [--cells lstm,gru] [--skip-schedule]
//
// Writes bench/results/cells.md (and the JSON lines of every run beside it). `npm run build` first;
// corpora/tinyshakespeare.txt must be present. Nothing else should run meanwhile: the figures are
// wall-clock budgets, and the machine's noise (20–30% here) moves chars/s.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const { arg, machineLine, lossPerMinute } = require('./common');

const ROOT = path.join(__dirname, '..');
const RESULTS = path.join(__dirname, 'results');
const CORPUS = path.join(ROOT, 'corpora', 'tinyshakespeare.txt');

const MINUTES = Number(arg('minutes', '5'));
const SCHEDULE_MINUTES = Number(arg('schedule-minutes', '10'));
const CELLS = arg('cells', 'lstm,peephole,gru,rnn-tanh,rnn-relu').split(',');
const SKIP_SCHEDULE = process.argv.includes('--skip-schedule');
// Validation every ~40 s at 2x256 on this machine (≈10k chars/s ÷ 2048 chars a step ≈ 5 steps/s);
// chars/s counts the whole wall clock, validation passes included.
const EVAL_EVERY = arg('eval-every', '200');

/** One `rnn train` run; returns its --log lines and the --json summary. */
function train(name, flags, minutes) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `rnn-cells-${name}-`));
  const log = path.join(RESULTS, `cells-${name}.jsonl`);
  fs.rmSync(log, { force: true });
  const args = [path.join(ROOT, 'bin', 'rnn'), 'train', CORPUS, '--layers', '2', '--hidden', '256', '--time', `${minutes}m`,
    '--eval-every', EVAL_EVERY, '--checkpoint-dir', dir, '--name', name, '--log', log, '--json', '-q', ...flags];
  process.stderr.write(`cells: ${name}: rnn ${args.slice(1).join(' ')}\n`);
  const run = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  fs.rmSync(dir, { recursive: true, force: true });
  if (run.status !== 0) throw new Error(`${name}: rnn train exited ${run.status}: ${run.stderr.trim()}`);
  const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  return { lines, summary: JSON.parse(run.stdout) };
}

function bestOf(lines) {
  let best = null;
  for (const l of lines) if (best === null || l.valLoss < best.valLoss) best = l;
  return best;
}

function main() {
  fs.mkdirSync(RESULTS, { recursive: true });
  const when = new Date().toISOString();
  const machine = machineLine();
  const md = [`# The RNN family on tiny-shakespeare (bench/cells.js)`, '', `${when}; ${machine}.`, ''];

  md.push(`## Every cell at 2x256, ${MINUTES} minutes each, defaults otherwise (cosine schedule, B=32, T=64, lr 0.002)`, '');
  md.push('| cell | dropout | train chars/s | best val (nats/char) | at iteration | last iteration | validation stopped improving |');
  md.push('| --- | --- | --- | --- | --- | --- | --- |');
  for (const cell of CELLS) {
    for (const dropout of [0, 0.25]) {
      const name = `${cell}-d${dropout}`;
      const { lines, summary } = train(name, ['--cell', cell, '--dropout', String(dropout)], MINUTES);
      const best = bestOf(lines);
      const last = lines[lines.length - 1];
      const chars = (summary.iterations * 32 * 64) / (summary.elapsedMs / 1000);
      const stopped = best.iteration === last.iteration ? 'still improving at the end' : `after iteration ${best.iteration}`;
      md.push(`| ${cell} | ${dropout} | ${Math.round(chars).toLocaleString('en-US')} | ${best.valLoss.toFixed(4)} | ${best.iteration} | ${last.iteration} | ${stopped} |`);
      fs.writeFileSync(path.join(RESULTS, 'cells.md'), `${md.join('\n')}\n`);
    }
  }

  if (!SKIP_SCHEDULE) {
    md.push('', `## The 2x256 LSTM for ${SCHEDULE_MINUTES} minutes: constant vs cosine learning rate`, '');
    const curves = {};
    for (const schedule of ['constant', 'cosine']) {
      const { lines } = train(`schedule-${schedule}`, ['--lr-schedule', schedule], SCHEDULE_MINUTES);
      curves[schedule] = { minute: lossPerMinute(lines, SCHEDULE_MINUTES), best: bestOf(lines), last: lines[lines.length - 1] };
    }
    md.push(`| minute | ${Array.from({ length: SCHEDULE_MINUTES }, (_, i) => i + 1).join(' | ')} | best | final |`);
    md.push(`| --- | ${Array.from({ length: SCHEDULE_MINUTES }, () => '---').join(' | ')} | --- | --- |`);
    for (const [schedule, c] of Object.entries(curves)) {
      md.push(`| ${schedule} | ${c.minute.map((v) => (v === null ? '–' : v.toFixed(3))).join(' | ')} | ${c.best.valLoss.toFixed(4)} | ${c.last.valLoss.toFixed(4)} |`);
    }
  }
  md.push('', `Command: \`node bench/cells.js ${process.argv.slice(2).join(' ')}\``);
  fs.writeFileSync(path.join(RESULTS, 'cells.md'), `${md.join('\n')}\n`);
  process.stdout.write(`${md.join('\n')}\n`);
}

main();
