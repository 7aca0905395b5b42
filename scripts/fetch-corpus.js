#!/usr/bin/env node
// Downloads tiny-shakespeare into corpora/ and checks its sha256 before keeping it.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const https = require('https');
const path = require('path');

const CORPUS = {
  url: 'https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt',
  file: path.join(__dirname, '..', 'corpora', 'tinyshakespeare.txt'),
  bytes: 1115394,
  sha256: '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed',
};

function fail(message) {
  process.stderr.write(`fetch-corpus: ${message}\n`);
  process.exit(1);
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

if (fs.existsSync(CORPUS.file) && sha256(fs.readFileSync(CORPUS.file)) === CORPUS.sha256) {
  process.stderr.write(`fetch-corpus: ${CORPUS.file} is already present and checks out\n`);
  process.exit(0);
}
const request = https.get(CORPUS.url, { timeout: 30000 }, (res) => {
  if (res.statusCode !== 200) fail(`${CORPUS.url} answered HTTP ${res.statusCode}`);
  const chunks = [];
  res.on('data', (c) => chunks.push(c));
  res.on('end', () => {
    const body = Buffer.concat(chunks);
    const digest = sha256(body);
    if (digest !== CORPUS.sha256) fail(`sha256 mismatch: got ${digest} (${body.length} bytes), want ${CORPUS.sha256}; not saved`);
    fs.mkdirSync(path.dirname(CORPUS.file), { recursive: true });
    const tmp = `${CORPUS.file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, body);
    fs.renameSync(tmp, CORPUS.file);
    process.stderr.write(`fetch-corpus: saved ${CORPUS.file} (${body.length} bytes, sha256 ok)\n`);
  });
});
request.on('timeout', () => request.destroy(new Error('timed out after 30 s')));
request.on('error', (err) => fail(`cannot download ${CORPUS.url}: ${err.message} (offline? copy the file into corpora/ by hand)`));
