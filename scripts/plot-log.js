#!/usr/bin/env node
// Plots a `rnn train --log FILE` JSONL log (train and validation loss by iteration) as an SVG,
// and with --png renders that SVG to a PNG through headless Chromium (Debian's `chromium`).
//
//   node scripts/plot-log.js run.jsonl --out docs/loss.svg [--png docs/loss.png] [--title text]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');

function parseArgs(argv) {
  const opts = { file: null, out: null, png: null, title: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out' || a === '--png' || a === '--title') opts[a.slice(2)] = argv[++i];
    else if (!opts.file) opts.file = a;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!opts.file || (!opts.out && !opts.png)) throw new Error('usage: plot-log.js LOG.jsonl --out plot.svg [--png plot.png] [--title text]');
  return opts;
}

function readLog(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l))
    .filter((p) => Number.isFinite(p.iteration) && Number.isFinite(p.trainLoss));
}

function svgPlot(points, title) {
  const W = 720, H = 360, left = 60, right = 20, top = 40, bottom = 50;
  const xs = points.map((p) => p.iteration);
  const ys = points.flatMap((p) => [p.trainLoss, p.valLoss]).filter(Number.isFinite);
  const xMin = Math.min(...xs), xMax = Math.max(...xs);
  const yMin = Math.min(...ys), yMax = Math.max(...ys);
  const x = (v) => left + ((v - xMin) / Math.max(1e-9, xMax - xMin)) * (W - left - right);
  const y = (v) => top + (1 - (v - yMin) / Math.max(1e-9, yMax - yMin)) * (H - top - bottom);
  const line = (key) => points.filter((p) => Number.isFinite(p[key])).map((p, i) => `${i ? 'L' : 'M'}${x(p.iteration).toFixed(1)},${y(p[key]).toFixed(1)}`).join(' ');
  const ticks = (lo, hi, n) => Array.from({ length: n + 1 }, (_, i) => lo + ((hi - lo) * i) / n);
  const esc = (s) => String(s).replace(/[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`,
  ];
  for (const t of ticks(yMin, yMax, 5)) {
    parts.push(`<line x1="${left}" x2="${W - right}" y1="${y(t).toFixed(1)}" y2="${y(t).toFixed(1)}" stroke="#eee"/>`);
    parts.push(`<text x="${left - 6}" y="${(y(t) + 4).toFixed(1)}" text-anchor="end">${t.toFixed(2)}</text>`);
  }
  for (const t of ticks(xMin, xMax, 5)) {
    parts.push(`<text x="${x(t).toFixed(1)}" y="${H - bottom + 18}" text-anchor="middle">${Math.round(t)}</text>`);
  }
  parts.push(`<line x1="${left}" x2="${W - right}" y1="${H - bottom}" y2="${H - bottom}" stroke="#888"/>`);
  parts.push(`<line x1="${left}" x2="${left}" y1="${top}" y2="${H - bottom}" stroke="#888"/>`);
  parts.push(`<text x="${(left + W - right) / 2}" y="${H - 12}" text-anchor="middle">iteration</text>`);
  parts.push(`<text transform="translate(16 ${(top + H - bottom) / 2}) rotate(-90)" text-anchor="middle">loss (nats/char)</text>`);
  parts.push(`<path d="${line('trainLoss')}" fill="none" stroke="#1f77b4" stroke-width="2"/>`);
  parts.push(`<path d="${line('valLoss')}" fill="none" stroke="#d62728" stroke-width="2" stroke-dasharray="6 3"/>`);
  const best = points.filter((p) => p.best).pop();
  if (best) parts.push(`<circle cx="${x(best.iteration).toFixed(1)}" cy="${y(best.valLoss).toFixed(1)}" r="4" fill="#d62728"/>`);
  parts.push(`<g transform="translate(${W - right - 190} ${top + 8})"><rect width="180" height="44" fill="#fff" stroke="#ccc"/>` +
    `<line x1="10" x2="40" y1="15" y2="15" stroke="#1f77b4" stroke-width="2"/><text x="48" y="19">train (since last eval)</text>` +
    `<line x1="10" x2="40" y1="33" y2="33" stroke="#d62728" stroke-width="2" stroke-dasharray="6 3"/><text x="48" y="37">validation (● best)</text></g>`);
  parts.push('</svg>');
  return { svg: parts.join('\n'), width: W, height: H };
}

function renderPng(svgText, width, height, png) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'plot-log-'));
  const page = path.join(tmp, 'plot.html');
  fs.writeFileSync(page, `<!doctype html><html><body style="margin:0">${svgText}</body></html>`);
  const run = spawnSync('chromium', [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--hide-scrollbars', `--user-data-dir=${path.join(tmp, 'profile')}`,
    `--window-size=${width},${height}`, `--screenshot=${path.resolve(png)}`, `file://${page}`,
  ], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 60000 });
  fs.rmSync(tmp, { recursive: true, force: true });
  if (run.error || run.status !== 0 || !fs.existsSync(png)) throw new Error(`chromium could not render ${png} (apt-get install chromium)`);
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  const points = readLog(opts.file);
  if (points.length === 0) throw new Error(`${opts.file} has no evaluation lines`);
  const { svg, width, height } = svgPlot(points, opts.title || `rnn train --log ${path.basename(opts.file)}`);
  if (opts.out) fs.writeFileSync(opts.out, svg);
  if (opts.png) renderPng(svg, width, height, opts.png);
}

try {
  main();
} catch (err) {
  process.stderr.write(`plot-log: ${err.message}\n`);
  process.exit(1);
}
