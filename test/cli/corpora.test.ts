// Named corpora without the network: a closed port (offline), a local server with wrong bytes, and a path that wins over a name.

import * as fs from 'fs';
import * as http from 'http';
import * as net from 'net';
import * as path from 'path';
import { KNOWN_CORPORA } from '../../src/data/registry';
import { ROOT, rnn, rnnAsync, tempWorkspace, TINY } from './helpers';

/** A port on 127.0.0.1 that nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Serves `body` for every request on 127.0.0.1; resolves with its URL and a close function. */
async function serve(body: Buffer): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { url: `http://127.0.0.1:${port}/input.txt`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('named corpora', () => {
  const { dir, corpus } = tempWorkspace();
  const corpora = path.join(dir, 'corpora');
  const ckpt = path.join(dir, 'ck');
  const train = (...args: string[]): string[] => ['train', 'tinyshakespeare', ...TINY, '--max-iters', '2', '--corpora-dir', corpora, '--checkpoint-dir', ckpt, ...args];

  it('rnn corpora lists tinyshakespeare as known and absent, and local text files', () => {
    fs.mkdirSync(corpora, { recursive: true });
    fs.copyFileSync(corpus, path.join(corpora, 'play.txt'));
    const run = rnn(['corpora', '--corpora-dir', corpora, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.known[0]).toMatchObject({ name: 'tinyshakespeare', present: false, bytes: 1115394 });
    expect(out.local).toEqual([{ file: path.join(corpora, 'play.txt'), bytes: fs.statSync(corpus).size }]);
    const text = rnn(['corpora', '--corpora-dir', corpora]);
    expect(text.stdout).toMatch(/^tinyshakespeare +1,115,394 bytes +absent: fetched on first `rnn train tinyshakespeare`/);
    expect(text.stdout).not.toMatch(/\x1b\[/);
  });

  it('fails clearly when offline, saving nothing (exit 1)', async () => {
    const port = await closedPort();
    const run = await rnnAsync(train(), { env: { RNN_CORPUS_URL: `http://127.0.0.1:${port}/input.txt` } });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/rnn: cannot download tinyshakespeare: .*ECONNREFUSED \(offline\? download https:\/\/raw\.githubusercontent\.com\/.* by hand to .*tinyshakespeare\.txt\)/);
    expect(fs.existsSync(path.join(corpora, 'tinyshakespeare.txt'))).toBe(false);
  });

  it('refuses bytes whose sha256 is wrong, saving nothing (exit 1)', async () => {
    const server = await serve(Buffer.from('First Citizen:\nBefore we proceed any further, hear me speak.\n'.repeat(50)));
    try {
      const run = await rnnAsync(train(), { env: { RNN_CORPUS_URL: server.url } });
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/sha256 [0-9a-f]{64} \(3050 bytes\) is not the expected 86c4e6aa.*; not saved/);
      expect(run.stderr.trim().split('\n').filter((l) => l.startsWith('rnn: ') && !/fetching/.test(l))).toHaveLength(1);
      expect(fs.readdirSync(corpora).filter((f) => f.includes('tinyshakespeare'))).toEqual([]);
    } finally {
      await server.close();
    }
  });

  // The real bytes, when this checkout has them (corpora/ is not committed): the whole path, served locally.
  const real = path.join(ROOT, 'corpora', KNOWN_CORPORA[0].file);
  (fs.existsSync(real) ? it : it.skip)('fetches, checks and keeps the right bytes, then trains on them', async () => {
    const fresh = path.join(dir, 'fresh');
    const server = await serve(fs.readFileSync(real));
    try {
      const run = await rnnAsync(['train', 'tinyshakespeare', ...TINY, '--max-iters', '1', '--val-fraction', '0.001',
        '--corpora-dir', fresh, '--checkpoint-dir', ckpt], { env: { RNN_CORPUS_URL: server.url } });
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/saved .*tinyshakespeare\.txt \(sha256 ok\)/);
      expect(fs.statSync(path.join(fresh, 'tinyshakespeare.txt')).size).toBe(1115394);
      expect(fs.existsSync(path.join(ckpt, 'tinyshakespeare.safetensors'))).toBe(true);
    } finally {
      await server.close();
    }
  });

  it('an existing path named like a corpus wins over the name', () => {
    fs.copyFileSync(corpus, path.join(dir, 'tinyshakespeare'));
    const run = rnn(['train', 'tinyshakespeare', ...TINY, '--max-iters', '2', '--corpora-dir', corpora, '--checkpoint-dir', path.join(dir, 'local')],
      { cwd: dir, env: { RNN_CORPUS_URL: 'http://127.0.0.1:9/never-reached' } });
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/fetching/);
  });
});
