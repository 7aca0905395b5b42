// The real bin/rnn: stdout carries only the product, errors are one line with the right exit code.

import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { rnn, tempWorkspace, tensorsOf, TINY } from './helpers';

describe('rnn CLI', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');

  beforeAll(() => {
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '10', '--checkpoint-dir', ckptDir]);
    expect(run.stderr).toContain('backend reference');
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(''); // progress goes to stderr only
  });

  it('writes the latest and the best checkpoint', () => {
    expect(fs.existsSync(path.join(ckptDir, 'play.safetensors'))).toBe(true);
    expect(fs.existsSync(path.join(ckptDir, 'play.best.safetensors'))).toBe(true);
    expect(fs.readdirSync(ckptDir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('samples exactly the requested number of characters into a pipe (no line break added), and names the checkpoint on stderr', () => {
    const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--length', '50', '--seed', '3', '--backend', 'reference']);
    expect(run.code).toBe(0);
    expect([...run.stdout].length).toBe(50);
    expect(run.stderr).toMatch(/sampling from .*play/);
  });

  it('reproduces a sample exactly for the same seed', () => {
    const args = ['sample', '--checkpoint-dir', ckptDir, '--length', '40', '--seed', '11', '--backend', 'reference'];
    expect(rnn(args).stdout).toBe(rnn(args).stdout);
  });

  it('prints the prime first, then continues it', () => {
    const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--length', '10', '--prime', 'ROMEO:', '--backend', 'reference']);
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith('ROMEO:')).toBe(true);
  });

  it('--json prints one parseable object', () => {
    const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--length', '20', '--seed', '5', '--json', '--backend', 'reference']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect([...out.text].length).toBe(20);
    expect(out.seed).toBe(5);
    expect(out.temperature).toBe(0.8);
  });

  it('exits 0 quietly when stdout closes early (| head)', () => {
    const { spawnSync } = require('child_process');
    const bin = path.resolve(__dirname, '..', '..', 'bin', 'rnn');
    const run = spawnSync('bash', ['-o', 'pipefail', '-c', `"${process.execPath}" "${bin}" sample --checkpoint-dir "${ckptDir}" --length 1000000 --backend reference -q | head -c 10`], { encoding: 'utf8', timeout: 30000 });
    expect(run.stdout.length).toBe(10);
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
  });

  const usage: Array<[string, string[], RegExp]> = [
    ['--temp 0', ['sample', '--temp', '0'], /--temp/],
    ['--temp -1', ['sample', '--temp', '-1'], /--temp/],
    ['--temp abc', ['sample', '--temp', 'abc'], /--temp/],
    ['--hidden 0', ['train', 'x.txt', '--hidden', '0'], /--hidden/],
    ['--weight-decay -1', ['train', 'x.txt', '--weight-decay', '-1'], /--weight-decay/],
    ['--weight-decay 600 at --lr 0.002 (lr × λ ≥ 1)', ['train', corpus, '--weight-decay', '600'], /--weight-decay 600 at --lr 0.002 .* below 500/],
    ['--zoneout-cell 1', ['train', corpus, '--zoneout-cell', '1'], /--zoneout-cell/],
    ['--zoneout-cell on a GRU (no cell state)', ['train', corpus, '--cell', 'gru', '--zoneout-cell', '0.5'], /--zoneout-cell is the zoneout of an LSTM's cell state c; --cell gru has none: use --zoneout/],
    ['a missing corpus', ['train', 'no-such-file.txt'], /no such file/],
    ['a directory', ['train', '.'], /is a directory/],
    ['an unknown command', ['frobnicate'], /unknown command/],
    ['a missing checkpoint', ['sample', '--checkpoint', 'no-such-run'], /no checkpoint/],
  ];
  for (const [what, args, pattern] of usage) {
    it(`rejects ${what} with one line on stderr and exit 2`, () => {
      const run = rnn(args, { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(pattern);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('rejects an empty corpus and one shorter than seq-len + 1', () => {
    const empty = path.join(dir, 'empty.txt');
    fs.writeFileSync(empty, '');
    const short = path.join(dir, 'short.txt');
    fs.writeFileSync(short, 'To be, or not to be');
    for (const file of [empty, short]) {
      const run = rnn(['train', file], { cwd: dir });
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(rnn(['train', short], { cwd: dir }).stderr).toMatch(/needs at least 65 \(seq-len \+ 1\)/);
  });

  it('rejects a truncated checkpoint with one line and exit 1', () => {
    const whole = fs.readFileSync(path.join(ckptDir, 'play.safetensors'));
    const cut = path.join(dir, 'cut.safetensors');
    fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    const run = rnn(['sample', '--checkpoint', cut, '--backend', 'reference']);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/truncated|damaged/);
  });

  it('names prime characters the model never saw', () => {
    const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--prime', 'Zq€', '--backend', 'reference']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/never saw: "Z", "q", "€"|never saw: "Z", "€"|never saw/);
  });

  // Every cell, with dropout and zoneout masks in play: 7 iterations, then --resume to 12, ends on
  // the bytes of 12 straight. A constant rate: a schedule's length is part of the run, so
  // changing --max-iters would change a decaying schedule (interrupt.test.ts covers cosine).
  for (const cell of ['lstm', 'peephole', 'gru', 'rnn-tanh', 'rnn-relu']) {
    it(`--resume continues a ${cell} to the same weights as an uninterrupted run`, () => {
      const a = path.join(dir, `a-${cell}`), b = path.join(dir, `b-${cell}`);
      const flags = [...TINY, '--cell', cell, '--dropout', '0.2', '--zoneout', '0.1', '--lr-schedule', 'constant'];
      expect(rnn(['train', corpus, ...flags, '--max-iters', '12', '--checkpoint-dir', a]).code).toBe(0);
      expect(rnn(['train', corpus, ...flags, '--max-iters', '7', '--checkpoint-dir', b]).code).toBe(0);
      const resumed = rnn(['train', corpus, ...flags, '--max-iters', '12', '--checkpoint-dir', b, '--resume']);
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toMatch(/resuming .* at iteration 7/);
      expect(tensorsOf(path.join(b, 'play.safetensors')).equals(tensorsOf(path.join(a, 'play.safetensors')))).toBe(true);
    });
  }

  it('--weight-decay shrinks the weights (AdamW), is recorded, shown by info, and kept by --resume', () => {
    const flags = [...TINY, '--lr-schedule', 'constant'];
    const [plain, straight, split] = ['wd-none', 'wd-straight', 'wd-split'].map((d) => path.join(dir, d));
    expect(rnn(['train', corpus, ...flags, '--max-iters', '8', '--checkpoint-dir', plain]).code).toBe(0);
    const decayed = rnn(['train', corpus, ...flags, '--weight-decay', '0.3', '--max-iters', '8', '--checkpoint-dir', straight]);
    expect(decayed.code).toBe(0);
    expect(decayed.stderr).toMatch(/weight decay 0\.3/);
    expect(rnn(['train', corpus, ...flags, '--weight-decay', '0.3', '--max-iters', '4', '--checkpoint-dir', split]).code).toBe(0);
    // Resumed without the flag: the run's own weight decay carries on.
    expect(rnn(['train', corpus, '--backend', 'reference', '--max-iters', '8', '--checkpoint-dir', split, '--resume']).code).toBe(0);
    const latest = (d: string): string => path.join(d, 'play.safetensors');
    expect(loadCheckpoint(latest(straight)).meta.train.weightDecay).toBe(0.3);
    expect(tensorsOf(latest(split)).equals(tensorsOf(latest(straight)))).toBe(true);
    expect(tensorsOf(latest(plain)).equals(tensorsOf(latest(straight)))).toBe(false);
    const info = rnn(['info', latest(straight), '--no-backends']);
    expect(info.stdout).toMatch(/dropout 0, weight decay 0\.3, init/);
  });

  it('--zoneout-cell zones c out with its own p: said at start-up, recorded, shown by info, fixed on --resume', () => {
    const flags = [...TINY, '--dropout', '0.2', '--zoneout', '0.05', '--lr-schedule', 'constant'];
    const [shared, straight, split] = ['zc-shared', 'zc-straight', 'zc-split'].map((d) => path.join(dir, d));
    const latest = (d: string): string => path.join(d, 'play.safetensors');
    const own = rnn(['train', corpus, ...flags, '--zoneout-cell', '0.5', '--max-iters', '8', '--checkpoint-dir', straight]);
    expect(own.code).toBe(0);
    expect(own.stderr).toMatch(/LSTM \(dropout 0\.2, zoneout h 0\.05, c 0\.5\)/);
    expect(loadCheckpoint(latest(straight)).meta.model).toMatchObject({ zoneout: 0.05, zoneoutCell: 0.5 });
    expect(rnn(['info', latest(straight), '--no-backends']).stdout).toMatch(/zoneout h 0\.05, c 0\.5/);
    // Without the flag c takes h's p, as before the flag existed: other masks, other weights.
    expect(rnn(['train', corpus, ...flags, '--max-iters', '8', '--checkpoint-dir', shared]).code).toBe(0);
    expect(loadCheckpoint(latest(shared)).meta.model.zoneoutCell).toBeUndefined();
    expect(tensorsOf(latest(shared)).equals(tensorsOf(latest(straight)))).toBe(false);
    // Resumed (the flag may be repeated, not changed), it ends on the uninterrupted run's bytes.
    expect(rnn(['train', corpus, ...flags, '--zoneout-cell', '0.5', '--max-iters', '4', '--checkpoint-dir', split]).code).toBe(0);
    const changed = rnn(['train', corpus, ...flags, '--zoneout-cell', '0.4', '--max-iters', '8', '--checkpoint-dir', split, '--resume']);
    expect([changed.code, changed.stderr]).toEqual([2, 'rnn: --zoneout-cell 0.4 conflicts with the checkpoint being resumed (0.5); drop the flag or start a new --name\n']);
    expect(rnn(['train', corpus, ...flags, '--zoneout-cell', '0.5', '--max-iters', '8', '--checkpoint-dir', split, '--resume']).code).toBe(0);
    expect(tensorsOf(latest(split)).equals(tensorsOf(latest(straight)))).toBe(true);
  });

  it('--resume keeps the run\'s --eval-every unless given again', () => {
    const run = path.join(dir, 'cadence');
    const flags = TINY.map((a, i) => (TINY[i - 1] === '--eval-every' ? '3' : a));
    const saved = () => loadCheckpoint(path.join(run, 'play.safetensors')).meta;
    const evalsOf = (): number[] => saved().progress.history.map((h) => h.iteration);
    expect(rnn(['train', corpus, ...flags, '--max-iters', '4', '--checkpoint-dir', run]).code).toBe(0);
    expect(rnn(['train', corpus, '--backend', 'reference', '--max-iters', '7', '--checkpoint-dir', run, '--resume']).code).toBe(0);
    expect(saved().train.evalEvery).toBe(3);
    expect(evalsOf()).toEqual([3, 4, 6, 7]); // every 3, and once more where each run stopped
    expect(rnn(['train', corpus, '--backend', 'reference', '--max-iters', '12', '--eval-every', '5', '--checkpoint-dir', run, '--resume']).code).toBe(0);
    expect(saved().train.evalEvery).toBe(5);
    expect(evalsOf()).toContain(10);
  });

  it('says how to start a run when --resume finds none under that --name', () => {
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '2', '--checkpoint-dir', ckptDir, '--name', 'never-trained', '--resume']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim()).toBe(`rnn: --resume: no checkpoint ${path.join(ckptDir, 'never-trained.safetensors')}; train without --resume first (or pass the run's --name)`);
  });

  it('refuses --resume with a conflicting architecture flag', () => {
    const run = rnn(['train', corpus, ...TINY.map((a, i) => (TINY[i - 1] === '--hidden' ? '16' : a)), '--max-iters', '12', '--checkpoint-dir', ckptDir, '--resume']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--hidden 16 conflicts/);
  });
});
