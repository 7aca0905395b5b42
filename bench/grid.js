#!/usr/bin/env node
// Corpora × budgets: what `rnn train FILE --time D` (nothing but the defaults) reaches on texts
// unlike tiny-shakespeare, and PyTorch training the recipe the plan chose at 15 minutes.
//
//   node bench/grid.js build                  # assemble the corpora offline (bench/results/grid/corpora/)
//   node bench/grid.js run [--budgets 2m,5m,15m,45m] [--long 90m] [--pytorch-at 15m] [--only a,b] [--no-pytorch]
//   node bench/grid.js table                  # the results as a markdown table
//
// A cell is one corpus at one budget, trained alone: the grid takes hours of an idle machine and
// must never run beside another benchmark (a lock file refuses a second grid). Each finished cell
// is one line of bench/results/grid/results.jsonl and is never run again; a cell that was
// interrupted has no line and starts afresh (--overwrite) the next time. `npm run build` first.
'use strict';
const { spawnSync, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const zlib = require('zlib');

const { arg, machineLine } = require('./common');

const ROOT = path.join(__dirname, '..');
const GRID = path.resolve(arg('dir', path.join(ROOT, 'bench', 'results', 'grid')));
const CORPORA = path.join(GRID, 'corpora');
const RESULTS = path.join(GRID, 'results.jsonl');
const LOCK = path.join(GRID, 'grid.lock');
const SYSTEM_PYTHON = '/usr/bin/python3';
const BIN = path.join(ROOT, 'bin', 'rnn');

// ---- the corpora ------------------------------------------------------------------------------

/** Files under `dir` (sorted, recursively), or [] when it is absent. */
function walk(dir) {
  let names;
  try {
    names = fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return [];
  }
  return names.flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isSymbolicLink()) return [];
    return d.isDirectory() ? walk(p) : d.isFile() ? [p] : [];
  });
}

/** A file's text when it is UTF-8 text (gzip undone), else null. */
function textOf(file) {
  let bytes;
  try {
    bytes = fs.readFileSync(file);
    if (file.endsWith('.gz')) bytes = zlib.gunzipSync(bytes);
  } catch {
    return null;
  }
  if (bytes.includes(0)) return null;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes);
  return text.includes('\uFFFD') ? null : text;
}

/** Concatenates texts from `files` (in order, `take` choosing per file) until `maxBytes`. */
function gather(files, maxBytes, take = (file, text) => text) {
  const parts = [];
  let bytes = 0;
  const used = [];
  for (const file of files) {
    if (bytes >= maxBytes) break;
    const text = textOf(file);
    if (text === null) continue;
    const kept = take(file, text);
    if (!kept) continue;
    parts.push(kept.endsWith('\n') ? kept : `${kept}\n`);
    bytes += Buffer.byteLength(parts[parts.length - 1]);
    used.push(file);
  }
  return { text: parts.join(''), files: used };
}

/** Up to `perPackage` bytes of .ts/.js source from each package in node_modules, in name order. */
function codeFiles() {
  const top = path.join(ROOT, 'node_modules');
  const packages = fs.readdirSync(top).sort().flatMap((name) => (name.startsWith('@')
    ? fs.readdirSync(path.join(top, name)).sort().map((sub) => path.join(top, name, sub)) : [path.join(top, name)]));
  const perPackage = 48 * 1024;
  return packages.flatMap((dir) => {
    let bytes = 0;
    return walk(dir).filter((f) => {
      if (!/\.(ts|js|mjs|cjs)$/.test(f) || /\.min\.js$|\.d\.ts$/.test(f) || f.includes(`${path.sep}node_modules${path.sep}`, top.length + 1)) return false;
      const size = fs.statSync(f).size;
      if (size > 64 * 1024 || bytes + size > perPackage) return false;
      bytes += size;
      return true;
    });
  });
}

/** Man-page sources without their comment lines (`.\"`): the prose and its markup. */
const withoutRoffComments = (file, text) => text.split('\n').filter((l) => !l.startsWith('.\\"')).join('\n');

/**
 * Each corpus: what it is for, where its text comes from (all on this machine, offline), and its
 * size. `build` records the files used in manifest.json beside the corpora.
 */
const CORPUS_SPECS = [
  {
    name: 'tinyshakespeare', what: 'the reference corpus (1.1 MB, English verse)',
    build: () => {
      const file = [path.join(ROOT, 'corpora', 'tinyshakespeare.txt'), path.join(ROOT, '..', 'shared', 'corpora', 'tinyshakespeare.txt')].find((f) => fs.existsSync(f));
      if (!file) throw new Error('tinyshakespeare.txt is in neither corpora/ nor ../shared/corpora/: `rnn train tinyshakespeare` fetches it');
      return { text: fs.readFileSync(file, 'utf8'), files: [file] };
    },
  },
  {
    name: 'code', what: 'program source: .ts/.js files of the packages in node_modules, up to 48 KB each (2 MB)',
    build: () => gather(codeFiles(), 2 << 20),
  },
  {
    name: 'cyrillic', what: 'a non-Latin script: the Russian and Ukrainian man pages in /usr/share/man/{ru,uk}, comments dropped',
    build: () => gather([...walk('/usr/share/man/ru'), ...walk('/usr/share/man/uk')], 8 << 20, withoutRoffComments),
  },
  {
    name: 'small', what: 'a small text (150 KB): the licences in /usr/share/common-licenses, cut at 150 KB',
    build: () => {
      const all = gather(walk('/usr/share/common-licenses'), 1 << 20);
      return { text: [...Buffer.from(all.text).subarray(0, 150 * 1024).toString('utf8')].filter((c) => c !== '\uFFFD').join(''), files: all.files };
    },
  },
  {
    name: 'large', what: 'a large text (30 MB): /usr/share/doc (changelogs, READMEs, copyright files; gzip undone), then the English man pages',
    build: () => gather([...walk('/usr/share/doc'), ...['man1', 'man2', 'man3', 'man5', 'man7', 'man8'].flatMap((s) => walk(`/usr/share/man/${s}`))],
      30 << 20, (file, text) => (file.includes('/usr/share/man/') ? withoutRoffComments(file, text) : text)),
  },
];

function build() {
  fs.mkdirSync(CORPORA, { recursive: true });
  const manifest = {};
  for (const spec of CORPUS_SPECS) {
    const file = path.join(CORPORA, `${spec.name}.txt`);
    const { text, files } = spec.build();
    fs.writeFileSync(file, text);
    manifest[spec.name] = { what: spec.what, bytes: Buffer.byteLength(text), characters: [...text].length, distinct: new Set(text).size, sources: files.length };
    process.stderr.write(`grid: ${file}: ${manifest[spec.name].bytes.toLocaleString('en-US')} bytes, ` +
      `${manifest[spec.name].distinct} distinct characters, from ${files.length} files\n`);
    fs.writeFileSync(path.join(CORPORA, `${spec.name}.sources.txt`), `${files.join('\n')}\n`);
  }
  fs.writeFileSync(path.join(CORPORA, 'manifest.json'), `${JSON.stringify(manifest, null, 1)}\n`);
}

// ---- the cells --------------------------------------------------------------------------------

function results() {
  if (!fs.existsSync(RESULTS)) return [];
  // A line cut short by a kill is not a result: its cell runs again.
  return fs.readFileSync(RESULTS, 'utf8').split('\n').filter(Boolean).flatMap((l) => {
    try {
      return [JSON.parse(l)];
    } catch {
      return [];
    }
  });
}

const cellKey = (corpus, budget, engine) => `${corpus}/${budget}/${engine}`;

function record(line) {
  fs.appendFileSync(RESULTS, `${JSON.stringify(line)}\n`);
}

function commit() {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

function rnn(args) {
  const env = { ...process.env, RNN_RATES_CACHE: path.join(GRID, 'rates.json') };
  return spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** A cell's `rnn train` arguments: its corpus, budget, checkpoint directory and name. */
function cellArgs(corpus, budget) {
  return [path.join(CORPORA, `${corpus}.txt`), '--time', budget, '--checkpoint-dir', path.join(GRID, 'checkpoints'), '--name', `${corpus}-${budget}`];
}

/** One rnn cell: the plan (--plan --json), then the run with the defaults; passes, final and best validation. */
function runOurs(corpus, budget) {
  const name = `${corpus}-${budget}`;
  const common = cellArgs(corpus, budget);
  const planned = rnn(['train', ...common, '--plan', '--json']);
  if (planned.status !== 0) throw new Error(`rnn train --plan (${name}) exited ${planned.status}: ${planned.stderr.trim().split('\n').pop()}`);
  const plan = JSON.parse(planned.stdout);
  const log = path.join(GRID, 'logs', `${name}.jsonl`);
  fs.mkdirSync(path.dirname(log), { recursive: true });
  fs.rmSync(log, { force: true });
  const args = ['train', ...common, '--overwrite', '--log', log, '--json'];
  process.stderr.write(`grid: rnn ${args.join(' ')}\n`);
  const run = rnn(args);
  if (run.status !== 0) throw new Error(`rnn train (${name}) exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
  const summary = JSON.parse(run.stdout);
  const c = summary.config;
  return {
    model: `${c.model.layers}x${c.model.hiddenSize} ${c.model.cell}`, dropout: c.dropout, config: c,
    plan: { passes: plan.expected.passes, rule: plan.rule, rates: plan.rates, split: plan.split, corpus: plan.corpus },
    chose: run.stderr.split('\n').find((l) => l.includes('training characters:')) ?? null,
    iterations: summary.iterations, passes: (summary.iterations * c.batchSize * c.seqLen) / plan.corpus.train,
    final: summary.valLoss, best: summary.bestValLoss, endChoice: summary.endChoice ?? null, trainLoss: summary.trainLoss, elapsedMs: summary.elapsedMs,
    command: `rnn ${args.join(' ')}`.replaceAll(GRID, '$GRID'),
  };
}

/** A configuration without what names the run or bounds it in time, to compare two budgets' plans. */
function planKey(config) {
  const { name, timeBudgetMs, ...rest } = config;
  const sorted = (v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])])) : v);
  return JSON.stringify(sorted(rest));
}

/**
 * The recorded cell one budget below, when this budget would train the very same run: the plan at
 * this budget (`--plan --json`, no training) is that cell's configuration but for the budget, and
 * that run stopped on its iterations (the plan's passes) in under half its budget, so the time never
 * led its schedule and a longer budget leaves every step as it was. Otherwise null: the cell trains.
 */
function sameRunBelow(corpus, budget, budgets) {
  const i = budgets.indexOf(budget);
  if (i <= 0) return null;
  const below = results().find((r) => cellKey(r.corpus, r.budget, r.engine) === cellKey(corpus, budgets[i - 1], 'rnn'));
  if (!below?.config || below.config.maxIters <= 0 || below.iterations < below.config.maxIters) return null;
  if (below.elapsedMs > 0.5 * minutesOf(below.budget) * 60000) return null;
  const planned = rnn(['train', ...cellArgs(corpus, budget), '--plan', '--json']);
  if (planned.status !== 0) return null;
  return planKey(JSON.parse(planned.stdout).config) === planKey(below.config) ? below : null;
}

/**
 * PyTorch training the recipe rnn's cell at this budget chose (bench/peers/pytorch_train.py), once,
 * with rnn's tail averaging and its end (the lower of the mean and the raw weights): two results,
 * `pytorch` (the raw weights at the end: what the run ends on without averaging, which never
 * changes the steps) and `pytorch-averaged` (what it ends on averaged as rnn).
 */
function runPytorch(corpus, budget, ours) {
  const c = ours.config;
  if (!['lstm', 'gru'].includes(c.model.cell)) return { skipped: `the peer trains lstm and gru, not ${c.model.cell}` };
  const args = [path.join(__dirname, 'peers', 'pytorch_train.py'), '--corpus', path.join(CORPORA, `${corpus}.txt`), '--minutes', String(minutesOf(budget)),
    '--cell', c.model.cell, '--layers', String(c.model.layers), '--hidden', String(c.model.hiddenSize), '--embedding', String(c.model.embeddingSize),
    '--dropout', String(c.dropout), '--batch', String(c.batchSize), '--seq-len', String(c.seqLen), '--lr', String(c.learningRate),
    ...(c.lrSchedule === 'cosine' ? ['--cosine', '--min-lr', String(c.minLr)] : []), '--clip', String(c.clipNorm),
    '--val-fraction', String(c.valFraction), '--val-split', c.valSplit ?? 'tail', '--eval-batch', String(c.batchSize), '--eval-seq-len', String(c.seqLen),
    // Validation at rnn's interval in iterations (the same share of each run), and rnn's stop where the plan set one.
    '--eval-every-iters', String(c.evalEvery), ...(c.maxIters > 0 ? ['--max-iters', String(c.maxIters)] : []),
    '--average-tail', String(c.averageTail)];
  process.stderr.write(`grid: ${SYSTEM_PYTHON} ${args.join(' ')}\n`);
  const run = spawnSync(SYSTEM_PYTHON, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`pytorch_train.py exited ${run.status}: ${run.stderr.trim().split('\n').pop()}`);
  const last = run.stdout.trim().split('\n').map((l) => JSON.parse(l)).pop();
  const common = {
    model: `${c.model.layers}x${c.model.hiddenSize} ${c.model.cell}`, dropout: c.dropout, passes: last.chars / ours.plan.corpus.train,
    torch: last.torch_version, endChoice: last.end_choice ?? null,
    command: `${SYSTEM_PYTHON} ${args.map((a) => a.replaceAll(GRID, '$GRID')).join(' ').replace(ROOT + path.sep, '')}`,
  };
  return {
    // The tail's validation passes scored the mean: the raw weights have no best of their own.
    pytorch: { ...common, averageTail: 0, final: last.raw_val_loss, best: null },
    'pytorch-averaged': { ...common, averageTail: c.averageTail, final: last.val_loss, best: last.best_val_loss },
  };
}

/** '90s' → 1.5, '15m' → 15, '1h' → 60. */
function minutesOf(budget) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h)$/.exec(budget);
  if (!m) throw new Error(`--budgets: '${budget}' is not a duration like 90s, 15m or 1h`);
  return Number(m[1]) * { s: 1 / 60, m: 1, h: 60 }[m[2]];
}

function takeLock() {
  fs.mkdirSync(GRID, { recursive: true });
  try {
    fs.writeFileSync(LOCK, `${process.pid}\n`, { flag: 'wx' });
  } catch {
    const pid = Number(fs.readFileSync(LOCK, 'utf8'));
    let alive = false;
    try {
      process.kill(pid, 0);
      alive = true;
    } catch {
      // not running: a stale lock
    }
    if (alive) throw new Error(`another grid (pid ${pid}) is running; one cell at a time`);
    fs.writeFileSync(LOCK, `${process.pid}\n`);
  }
  const release = () => fs.rmSync(LOCK, { force: true });
  process.on('exit', release);
  for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => { release(); process.exit(130); });
}

function run() {
  if (!fs.existsSync(path.join(CORPORA, 'manifest.json'))) throw new Error(`no corpora in ${CORPORA}: run \`node bench/grid.js build\` first`);
  takeLock();
  const budgets = arg('budgets', '2m,5m,15m,45m').split(',');
  const long = arg('long', '90m'); // tiny-shakespeare's extra budget
  const pytorchAt = process.argv.includes('--no-pytorch') ? null : arg('pytorch-at', '15m');
  const only = arg('only', null);
  const corpora = CORPUS_SPECS.map((s) => s.name).filter((n) => only === null || only.split(',').includes(n));
  const done = new Set(results().map((r) => cellKey(r.corpus, r.budget, r.engine)));
  const when = () => ({ date: new Date().toISOString().slice(0, 10), commit: commit(), machine: machineLine() });
  for (const corpus of corpora) {
    const own = corpus === 'tinyshakespeare' && long ? [...budgets, long] : budgets;
    for (const budget of own) {
      let ours = results().find((r) => cellKey(r.corpus, r.budget, r.engine) === cellKey(corpus, budget, 'rnn')) ?? null;
      if (!done.has(cellKey(corpus, budget, 'rnn'))) {
        const below = sameRunBelow(corpus, budget, own);
        if (below) {
          process.stderr.write(`grid: ${corpus} at ${budget} plans ${below.budget}'s run, which stopped on its iterations in ${(below.elapsedMs / 60000).toFixed(1)} min: not trained again\n`);
          ours = { ...below, budget, sameRunAs: below.sameRunAs ?? below.budget }; // dated as the run it repeats
        } else {
          process.stderr.write(`grid: ${corpus} at ${budget}\n`);
          ours = { corpus, budget, engine: 'rnn', ...when(), ...runOurs(corpus, budget) };
        }
        record(ours);
      }
      if (budget !== pytorchAt) continue;
      const engines = ['pytorch', 'pytorch-averaged'].filter((engine) => !done.has(cellKey(corpus, budget, engine)));
      if (engines.length === 0) continue;
      process.stderr.write(`grid: ${corpus} at ${budget}, pytorch\n`);
      const peer = runPytorch(corpus, budget, ours);
      for (const engine of engines) record({ corpus, budget, engine, ...when(), ...(peer.skipped ? peer : peer[engine]) });
    }
  }
}

/** Passes to a precision that shows a short fake budget's too. */
const passesText = (p) => (typeof p !== 'number' ? '—' : p.toFixed(p < 1 ? 2 : 1));

/** Corpora down, budgets across: each cell `final (best)`, the model and passes under it; PyTorch's columns at the budget it ran. */
function table() {
  const rows = results();
  const fmt = (v) => (typeof v === 'number' ? v.toFixed(4) : '—');
  const corpora = [...new Set(rows.map((r) => r.corpus))];
  const columns = [];
  for (const r of rows) {
    const column = r.engine === 'rnn' ? r.budget : `${r.engine} ${r.budget}`;
    if (!columns.includes(column)) columns.push(column);
  }
  const order = (c) => {
    const [engine, budget] = c.includes(' ') ? c.split(' ') : ['rnn', c];
    return minutesOf(budget) * 10 + (engine === 'rnn' ? 0 : engine === 'pytorch' ? 1 : 2);
  };
  columns.sort((a, b) => order(a) - order(b));
  const out = [`| corpus | ${columns.join(' | ')} |`, `| --- |${columns.map(() => ' --- |').join('')}`];
  for (const corpus of corpora) {
    const cells = columns.map((column) => {
      const r = rows.find((x) => x.corpus === corpus && (x.engine === 'rnn' ? x.budget : `${x.engine} ${x.budget}`) === column);
      if (!r) return '';
      if (r.skipped) return `skipped: ${r.skipped}`;
      return `${fmt(r.final)} (best ${fmt(r.best)}); ${r.model}, dropout ${r.dropout}, ${passesText(r.passes)} passes` +
        `${r.plan && typeof r.plan.passes === 'number' ? ` (${passesText(r.plan.passes)} planned)` : ''}` +
        `${r.sameRunAs ? `; ${r.sameRunAs}'s run (same plan, stopped on its iterations: not trained again)` : ''}`;
    });
    out.push(`| ${corpus} | ${cells.join(' | ')} |`);
  }
  const dates = [...new Set(rows.map((r) => `${r.date} (${r.commit})`))].join(', ');
  const machines = [...new Set(rows.map((r) => r.machine))].join('; ');
  out.push('', `Validation loss in nats/char, final (best); \`pytorch\`: bench/peers/pytorch_train.py training the recipe rnn chose at that ` +
    'budget (its raw weights at the end), `pytorch-averaged` the same run as rnn ends it: the tail averaged, then the lower of the mean ' +
    'and the raw weights. ' +
    `Measured ${dates || '—'} on ${machines || '—'}; \`node bench/grid.js run\`, each cell's command in ${path.relative(ROOT, RESULTS)}.`);
  process.stdout.write(`${out.join('\n')}\n`);
}

function main() {
  const command = process.argv[2];
  if (command === 'build') build();
  else if (command === 'run') run();
  else if (command === 'table') table();
  else {
    process.stderr.write('usage: node bench/grid.js build | run [--budgets 2m,5m,15m,45m] [--long 90m] [--pytorch-at 15m] [--no-pytorch] [--only a,b] [--dir D] | table\n');
    process.exit(2);
  }
}

try {
  main();
} catch (err) {
  process.stderr.write(`grid: ${err.message}\n`);
  process.exit(1);
}
