#!/usr/bin/env node
// The raw weights of a run with an averaged tail, as a weights-only checkpoint: the optimizer's
// own weights at the save (optimizer.iterate.*) under the plain names, so that `rnn eval`,
// `rnn sample` and `rnn info` read them where the checkpoint's plain names hold the tail's mean.
// For checkpoints saved before a run's end measured both itself (progress.endChoice).
//
//   node bench/raw-weights.js RUN.safetensors OUT.safetensors
//   rnn eval CORPUS --checkpoint OUT.safetensors --split val
'use strict';
const fs = require('fs');

function main() {
  const [source, out] = process.argv.slice(2);
  if (!source || !out) {
    process.stderr.write('usage: node bench/raw-weights.js RUN.safetensors OUT.safetensors\n');
    process.exit(2);
  }
  const bytes = fs.readFileSync(source);
  const length = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
  const data = bytes.subarray(8 + length);
  const names = Object.keys(header).filter((k) => k !== '__metadata__' && !k.startsWith('optimizer.') && !k.startsWith('state.'));
  if (!names.some((k) => header[`optimizer.iterate.${k}`])) {
    process.stderr.write(`${source}: no optimizer.iterate.* tensors: its weights are the raw ones already (no averaged tail, or weights only)\n`);
    process.exit(1);
  }
  const meta = { ...header.__metadata__ };
  const progress = JSON.parse(meta.progress);
  delete progress.endChoice;
  meta.progress = JSON.stringify({ ...progress, averaged: 0, lastValLoss: null, bestValLoss: null });
  meta.best_val_loss = '';
  const next = { __metadata__: meta };
  const parts = [];
  let offset = 0;
  for (const name of names) {
    const t = header[`optimizer.iterate.${name}`] ?? header[name];
    const part = data.subarray(t.data_offsets[0], t.data_offsets[1]);
    next[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + part.length] };
    parts.push(part);
    offset += part.length;
  }
  let json = Buffer.from(JSON.stringify(next));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(json.length));
  fs.writeFileSync(out, Buffer.concat([size, json, ...parts]));
  process.stderr.write(`${out}: the raw weights of ${source} at iteration ${progress.iteration} (${names.length} tensors)\n`);
}

main();
