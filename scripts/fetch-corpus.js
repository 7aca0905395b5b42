#!/usr/bin/env node
// Downloads tiny-shakespeare into corpora/ with its sha256 checked, through the same code as `rnn train tinyshakespeare`.
'use strict';
const path = require('path');

let registry;
try {
  registry = require('../dist/data/registry.js');
} catch (err) {
  if (err && err.code === 'MODULE_NOT_FOUND') {
    process.stderr.write('fetch-corpus: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
}

const dir = path.join(__dirname, '..', 'corpora');
const corpus = registry.knownCorpus('tinyshakespeare');
const { file, state } = registry.corpusState(corpus, dir);
if (state === 'ok') {
  process.stderr.write(`fetch-corpus: ${file} is already present and checks out\n`);
  process.exit(0);
}
if (state === 'differs') process.stderr.write(`fetch-corpus: ${file} differs from the registered bytes; fetching it again\n`);
registry.fetchCorpus(corpus, dir).then(
  (saved) => process.stderr.write(`fetch-corpus: saved ${saved} (${corpus.bytes} bytes, sha256 ok)\n`),
  (err) => {
    process.stderr.write(`fetch-corpus: ${err.message}\n`);
    process.exitCode = 1;
  },
);
