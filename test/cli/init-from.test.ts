// `rnn train --init-from`: a new run starts from a checkpoint's weights (fine-tuning, a warm
// restart), keeps its architecture, and grows its vocabulary by the characters the corpus adds.

import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { rnn, tempWorkspace, tensorsOf, TINY } from './helpers';

/** The rows of a [rows, cols] tensor (cols 1 for a vector) as arrays, for comparing row by row. */
function rowsOf(file: string, name: string): number[][] {
  const t = loadCheckpoint(file).tensors.get(name)!;
  const cols = t.shape.length === 1 ? 1 : t.shape[1];
  return Array.from({ length: t.shape[0] }, (_, r) => Array.from(t.data.subarray(r * cols, (r + 1) * cols)));
}

function maxDifference(a: number[][], b: number[][]): number {
  let most = 0;
  a.forEach((row, r) => row.forEach((x, c) => { most = Math.max(most, Math.abs(x - b[r][c])); }));
  return most;
}

describe('rnn train --init-from', () => {
  const { dir, corpus } = tempWorkspace();
  const sourceDir = path.join(dir, 'source');
  const source = path.join(sourceDir, 'play.safetensors');
  // The source: dropout and weight decay, so one can see them carried over.
  const sourceFlags = [...TINY.map((a, i) => (TINY[i - 1] === '--layers' ? '2' : a)), '--dropout', '0.2', '--weight-decay', '0.01'];
  // One step so small that the weights stay the source's to float32 precision (Adam moves each by ~lr).
  const still = ['--backend', 'reference', '--max-iters', '1', '--lr', '1e-9', '--warmup', '0', '--eval-every', '1', '--seq-len', '8', '--batch', '4'];
  // The same text with characters the source never saw: digits are in it already, these are not.
  const wider = path.join(dir, 'wider.txt');

  beforeAll(() => {
    expect(rnn(['train', corpus, ...sourceFlags, '--max-iters', '12', '--checkpoint-dir', sourceDir]).code).toBe(0);
    fs.writeFileSync(wider, `${fs.readFileSync(corpus, 'utf8')}\n[Enter] {all} & é\n`);
  });

  it('starts from the weights: evaluation matches the source, and the run records where it started', () => {
    const out = path.join(dir, 'same');
    const run = rnn(['train', corpus, '--init-from', source, ...still, '--checkpoint-dir', out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(`training from ${source} (iteration 12): 2x8 LSTM (dropout 0.2, weight decay 0.01)`);
    expect(run.stderr).not.toMatch(/adds \d+ character/);
    const trained = path.join(out, 'play.safetensors');
    const evalOf = (file: string): number => JSON.parse(rnn(['eval', corpus, '--checkpoint', file, '--backend', 'reference', '--json']).stdout).lossNats;
    expect(Math.abs(evalOf(trained) - evalOf(source))).toBeLessThan(1e-5);
    const meta = loadCheckpoint(trained).meta;
    expect(meta.progress.iteration).toBe(1); // a new run: its own iterations, optimizer and schedule
    expect(meta.adamStep).toBe(1);
    expect(meta.train.initFrom?.checkpoint).toBe(source);
    expect(meta.train.initFrom?.iteration).toBe(12);
    expect(meta.train.initFrom?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(meta.model).toEqual(loadCheckpoint(source).meta.model);
    const info = rnn(['info', trained, '--no-backends']);
    expect(info.stdout).toMatch(new RegExp(`started +from the weights of ${source.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(iteration 12`));
  });

  it('grows the vocabulary by what the corpus adds: known rows kept, new rows initialised, ids remapped', () => {
    const out = path.join(dir, 'wider');
    const run = rnn(['train', wider, '--init-from', source, ...still, '--checkpoint-dir', out]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('adds 6 characters to the');
    expect(run.stderr).toContain('("&" "[" "]" "{" "}" "é")');
    const trained = path.join(out, 'wider.safetensors');
    const before = loadCheckpoint(source).meta.vocab.chars;
    const after = loadCheckpoint(trained).meta.vocab.chars;
    expect(after).toEqual([...before, '&', '[', ']', '{', '}', 'é']);
    for (const name of ['embedding.weight', 'decoder.weight', 'decoder.bias']) {
      const old = rowsOf(source, name), grown = rowsOf(trained, name);
      expect(grown).toHaveLength(before.length + 6);
      expect(maxDifference(grown.slice(0, before.length), old)).toBeLessThan(1e-6);
    }
    // Fresh embedding rows for the new characters (N(0, 1), not zero); in the decoder, each starts
    // as rare as the rarest known character (zero weights, the lowest bias; moved by one ~1e-9 step).
    expect(rowsOf(trained, 'embedding.weight').slice(before.length).flat().some((x) => Math.abs(x) > 0.05)).toBe(true);
    expect(Math.max(...rowsOf(trained, 'decoder.weight').slice(before.length).flat().map(Math.abs))).toBeLessThan(1e-6);
    const lowest = Math.min(...rowsOf(source, 'decoder.bias').flat());
    expect(maxDifference(rowsOf(trained, 'decoder.bias').slice(before.length), Array(6).fill([lowest]))).toBeLessThan(1e-6);
    // The text is read over the grown vocabulary: the model samples and scores it with no unknowns.
    const scored = JSON.parse(rnn(['eval', wider, '--checkpoint', trained, '--backend', 'reference', '--json']).stdout);
    expect(scored.unknown).toEqual({ count: 0, distinct: [] });
    expect(rnn(['sample', '--checkpoint', trained, '--prime', '[Enter] é', '--length', '20', '--backend', 'reference']).code).toBe(0);
  });

  it('keeps dropout and weight decay unless given, and takes a given one', () => {
    const out = path.join(dir, 'regularised');
    expect(rnn(['train', corpus, '--init-from', source, ...still, '--dropout', '0.4', '--checkpoint-dir', out]).code).toBe(0);
    const train = loadCheckpoint(path.join(out, 'play.safetensors')).meta.train;
    expect([train.dropout, train.weightDecay]).toEqual([0.4, 0.01]);
  });

  it('resumes an --init-from run with its record of where it started', () => {
    const out = path.join(dir, 'resumed');
    expect(rnn(['train', corpus, '--init-from', source, ...still.map((a, i) => (still[i - 1] === '--max-iters' ? '3' : a)), '--checkpoint-dir', out]).code).toBe(0);
    expect(rnn(['train', corpus, '--backend', 'reference', '--max-iters', '5', '--checkpoint-dir', out, '--resume']).code).toBe(0);
    const meta = loadCheckpoint(path.join(out, 'play.safetensors')).meta;
    expect([meta.progress.iteration, meta.train.initFrom?.checkpoint]).toEqual([5, source]);
  });

  it('resumes a run whose vocabulary grew to the same weights as an uninterrupted one', () => {
    // The grown vocabulary is not the text's sorted one: --resume must read the text over it.
    const flags = ['--backend', 'reference', '--seq-len', '8', '--batch', '4', '--eval-every', '2', '--lr-schedule', 'constant'];
    const [straight, split] = ['grown-straight', 'grown-split'].map((d) => path.join(dir, d));
    expect(rnn(['train', wider, '--init-from', source, ...flags, '--max-iters', '4', '--checkpoint-dir', straight]).code).toBe(0);
    expect(rnn(['train', wider, '--init-from', source, ...flags, '--max-iters', '2', '--checkpoint-dir', split]).code).toBe(0);
    expect(rnn(['train', wider, '--backend', 'reference', '--max-iters', '4', '--checkpoint-dir', split, '--resume']).code).toBe(0);
    const latest = (d: string): string => path.join(d, 'wider.safetensors');
    expect(tensorsOf(latest(split)).equals(tensorsOf(latest(straight)))).toBe(true);
  });

  it('warns when the validation split reaches into the text the source trained on', () => {
    const run = rnn(['train', corpus, '--init-from', source, ...still, '--val-fraction', '0.2', '--checkpoint-dir', path.join(dir, 'overlap')]);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/trained on this text with --val-fraction 0\.1; at 0\.2 part of this run's validation split was its training text/);
    const smaller = rnn(['train', corpus, '--init-from', source, ...still, '--val-fraction', '0.05', '--checkpoint-dir', path.join(dir, 'inside')]);
    expect(smaller.stderr).not.toMatch(/validation split was its training text/);
  });

  const refused: Array<[string, string[], string]> = [
    ['a size that differs from the checkpoint', ['--hidden', '16'],
      `rnn: --hidden 16 conflicts with --init-from ${'SOURCE'} (8); drop the flag, or train from scratch without --init-from`],
    ['--init (the recurrent weights come from the checkpoint)', ['--init', 'glorot'],
      'rnn: --init chooses fresh recurrent weights, and --init-from brings them from SOURCE: drop one of them'],
    ['--resume', ['--resume'],
      "rnn: --init-from starts a new run from a checkpoint's weights and --resume continues a run: give one of them"],
  ];
  for (const [what, flags, message] of refused) {
    it(`refuses ${what} in one line, exit 2`, () => {
      const run = rnn(['train', corpus, '--init-from', source, ...still, ...flags, '--checkpoint-dir', path.join(dir, 'refused')]);
      expect([run.code, run.stderr]).toEqual([2, `${message.replace('SOURCE', source)}\n`]);
    });
  }

  it('refuses to start from a checkpoint the run would overwrite (its own --name)', () => {
    const before = fs.readFileSync(source);
    const run = rnn(['train', corpus, '--init-from', 'play', ...still, '--checkpoint-dir', sourceDir]);
    expect([run.code, run.stderr]).toEqual([2, `rnn: --init-from play is ${path.join(sourceDir, 'play.best.safetensors')}, which this run (--name play) would overwrite; give the new run another --name\n`]);
    expect(fs.readFileSync(source).equals(before)).toBe(true);
    expect(rnn(['train', corpus, '--init-from', 'play', ...still, '--checkpoint-dir', sourceDir, '--name', 'play-tuned']).code).toBe(0);
  });

  it('accepts an architecture flag that agrees, and names a missing checkpoint in one line', () => {
    expect(rnn(['train', corpus, '--init-from', source, ...still, '--hidden', '8', '--checkpoint-dir', path.join(dir, 'agrees')]).code).toBe(0);
    const missing = rnn(['train', corpus, '--init-from', 'no-such-run', ...still, '--checkpoint-dir', path.join(dir, 'missing')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^rnn: no checkpoint 'no-such-run'.*\n$/);
  });
});
