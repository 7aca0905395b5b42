// `rnn train FILE --time D` with no size flags: the size rule chooses, says so on stderr, and
// every flag the user gives wins (src/engine/recipe.ts).

import * as fs from 'fs';
import * as path from 'path';
import { rnn as spawnRnn, seedRates, tempWorkspace } from './helpers';

const RULE_LINE = /^rnn: 2s on ([\d,]+) training characters: 2x(\d+) (GRU|LSTM), (no dropout|dropout ([\d.]+)), (PyTorch's init, )?cosine to (the end of the budget|the stop) \(about [\d.]+ passes(?:, [\d.]+ M characters)? at ~[\d,]+ chars\/s; --cell, --hidden, --dropout and --init override\)$/m;

describe('rnn train --time without size flags', () => {
  const { dir, corpus } = tempWorkspace();
  const common = ['--time', '2s', '--embedding', '8', '--seq-len', '16', '--batch', '4', '--checkpoint-dir', path.join(dir, 'ck'), '--json'];
  // The rule plans by this machine's rates; these runs read known ones from their own cache.
  const cache = path.join(dir, 'rates.json');
  const env = { RNN_RATES_CACHE: cache };
  const text = fs.readFileSync(corpus, 'utf8');
  const shape = { embedding: 8, batch: 4, seqLen: 16 };
  seedRates(cache, text, shape, [[128, 400000], [256, 200000], [384, 120000], [512, 90000]]);
  seedRates(cache, text, { ...shape, cell: 'lstm' }, [[16, 500000]]);
  const rnn = (args: string[]): ReturnType<typeof spawnRnn> => spawnRnn(args, { env });
  const RATES_LINE = /^rnn: training rates read from .*rates\.json \(seeded by the test, B=4 T=16; measured 2026-12-05 00:00 UTC; delete the file to measure again\): 2x128 400,000, 2x256 200,000, 2x384 120,000, 2x512 90,000 chars\/s$/m;

  it('chooses the size and dropout, prints the rule line, and trains what it printed', () => {
    const run = rnn(['train', corpus, ...common, '--name', 'chosen']);
    expect(run.code).toBe(0);
    const line = RULE_LINE.exec(run.stderr);
    expect(line).not.toBeNull();
    expect(run.stderr).toMatch(RATES_LINE); // says where the rates came from, and what they are
    const summary = JSON.parse(run.stdout);
    expect(summary.config.model.hiddenSize).toBe(Number(line![2]));
    expect(line![3]).toBe('GRU'); // the rule's cell when --cell is not given
    expect(summary.config.model.cell).toBe('gru');
    expect(summary.config.dropout).toBe(line![5] === undefined ? 0 : Number(line![5]));
    expect(summary.config.model.hiddenSize).toBeGreaterThan(128); // 2 s buys many passes of this small text
    expect(line![6]).toBe("PyTorch's init, "); // the GRU's init under the rule, said on the line
    expect(summary.config.init).toBe('pytorch');
    // 2 s of 90,000 chars/s buy more than 5 passes of this text at 2x512: the rule stops there, says so, and trains to it.
    expect(line![7]).toBe('the stop');
    const stop = /^rnn: it stops after 5 passes \(iteration ([\d,]+), under a minute of --time 2s, which buys [\d.]+\): past that this model overfit/m.exec(run.stderr);
    expect(stop).not.toBeNull();
    expect(summary.config.maxIters).toBe(Number(stop![1].replace(/,/g, '')));
  });

  it('keeps a given --init, and the LSTM keeps orthogonal', () => {
    const given = rnn(['train', corpus, ...common, '--name', 'ortho', '--init', 'orthogonal']);
    expect(given.code).toBe(0);
    expect(RULE_LINE.exec(given.stderr)![6]).toBeUndefined();
    expect(JSON.parse(given.stdout).config.init).toBe('orthogonal');
    const lstm = rnn(['train', corpus, ...common, '--name', 'lstm-init', '--cell', 'lstm']);
    expect(lstm.code).toBe(0);
    expect(JSON.parse(lstm.stdout).config.init).toBe('orthogonal');
  });

  it('keeps --cell, --hidden and --dropout when all are given, and says nothing', () => {
    const run = rnn(['train', corpus, ...common, '--name', 'given', '--cell', 'lstm', '--hidden', '16', '--dropout', '0']);
    expect(run.code).toBe(0);
    expect(run.stderr).not.toMatch(/training characters:/);
    const config = JSON.parse(run.stdout).config;
    expect([config.model.cell, config.model.hiddenSize, config.dropout]).toEqual(['lstm', 16, 0]);
  });

  it('with --hidden and --dropout given, still chooses the cell', () => {
    const run = rnn(['train', corpus, ...common, '--name', 'sized', '--hidden', '16', '--dropout', '0.1']);
    expect(run.code).toBe(0);
    expect(RULE_LINE.exec(run.stderr)![3]).toBe('GRU');
    const config = JSON.parse(run.stdout).config;
    expect([config.model.cell, config.model.hiddenSize, config.dropout]).toEqual(['gru', 16, 0.1]);
  });

  it('fills in only what is missing: --cell and --hidden given, dropout chosen for them', () => {
    const run = rnn(['train', corpus, ...common, '--name', 'half', '--hidden', '16', '--cell', 'lstm']);
    expect(run.code).toBe(0);
    const line = RULE_LINE.exec(run.stderr);
    expect([line![2], line![3]]).toEqual(['16', 'LSTM']);
    const config = JSON.parse(run.stdout).config;
    expect([config.model.hiddenSize, config.model.cell]).toEqual([16, 'lstm']);
  });

  it('keeps the cell of --init identity (IRNN) rather than choosing one it would refuse', () => {
    const run = rnn(['train', corpus, ...common, '--name', 'irnn', '--cell', 'rnn-relu', '--init', 'identity', '--lr', '5e-4']);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).config.model.cell).toBe('rnn-relu');
  });

  it('does not apply to a run bounded by --max-iters or on another backend', () => {
    for (const flags of [['--max-iters', '3'], ['--backend', 'reference']]) {
      const run = rnn(['train', corpus, ...common, '--name', `off${flags[0]}`, ...flags]);
      expect(run.code).toBe(0);
      expect(run.stderr).not.toMatch(/training characters:/);
      const config = JSON.parse(run.stdout).config;
      expect([config.model.hiddenSize, config.model.cell, config.dropout]).toEqual([128, 'lstm', 0]);
    }
  });
});
