// --val-split: train holds out what it records, eval and resume cut the same; the warning when
// validation holds characters training lacks; and --plan, the dry run.

import * as fs from 'fs';
import * as path from 'path';
import { readCheckpointMeta } from '../../src/checkpoint/checkpoint';
import { upgradeTrainConfig } from '../../src/checkpoint/upgrade';
import { splitText } from '../../src/data/split';
import { ROOT, TINY, rnn, seedRates, tempWorkspace } from './helpers';

const VAL_CHARS = /^rnn: training: .* ([\d,]+) train \/ ([\d,]+) val chars$/m;
const count = (s: string): number => Number(s.replace(/,/g, ''));

describe('rnn train --val-split blocks', () => {
  const { dir, corpus } = tempWorkspace();
  const ck = path.join(dir, 'ck');
  const text = fs.readFileSync(corpus, 'utf8');
  let trained = { stderr: '', code: 0 as number | null };

  beforeAll(() => {
    trained = rnn(['train', corpus, ...TINY, '--max-iters', '4', '--val-fraction', '0.2', '--val-split', 'blocks', '--checkpoint-dir', ck, '--name', 'b']);
  });

  it('holds out blocks from the whole text and records the split in the checkpoint', () => {
    expect(trained.code).toBe(0);
    const [, train, val] = VAL_CHARS.exec(trained.stderr)!;
    expect(count(val)).toBe([...splitText(text, 'val', 0.2, 'blocks')].length);
    expect(count(train) + count(val)).toBe([...text].length);
    expect(readCheckpointMeta(path.join(ck, 'b.safetensors')).train.valSplit).toBe('blocks');
  });

  it('rnn info names the split; a checkpoint saved before the flag existed reads as the tail', () => {
    const info = rnn(['info', path.join(ck, 'b.safetensors')]);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/val-fraction 0\.2 \(--val-split blocks\)/);
    const old = rnn(['info', path.join(ROOT, 'test', 'fixtures', 'zoneout_eval', 'gru.safetensors')]);
    expect(old.stdout).toMatch(/\(--val-split tail\)/);
  });

  it('eval --split val scores exactly those blocks, and --split train the rest', () => {
    const evalJson = (file: string, extra: string[]): { lossNats: number; characters: number } => {
      const run = rnn(['eval', file, '-c', path.join(ck, 'b.safetensors'), '--backend', 'reference', '--batch', '1', '--json', ...extra]);
      expect(run.code).toBe(0);
      return JSON.parse(run.stdout);
    };
    const valFile = path.join(dir, 'val.txt'), trainFile = path.join(dir, 'train.txt');
    fs.writeFileSync(valFile, splitText(text, 'val', 0.2, 'blocks'));
    fs.writeFileSync(trainFile, splitText(text, 'train', 0.2, 'blocks'));
    const val = evalJson(corpus, ['--split', 'val']);
    expect(val.characters).toBe(count(VAL_CHARS.exec(trained.stderr)![2]));
    expect(val.lossNats).toBe(evalJson(valFile, []).lossNats);
    expect(evalJson(corpus, ['--split', 'train']).lossNats).toBe(evalJson(trainFile, []).lossNats);
    expect(splitText(text, 'val', 0.2, 'blocks')).not.toBe(splitText(text, 'val', 0.2, 'tail'));
  });

  it('resume keeps the recorded split and refuses another', () => {
    const other = rnn(['train', corpus, ...TINY, '--max-iters', '6', '--resume', '--val-split', 'tail', '--checkpoint-dir', ck, '--name', 'b']);
    expect(other.code).toBe(2);
    expect(other.stderr.trim()).toBe('rnn: --val-split tail conflicts with the checkpoint being resumed (blocks); drop the flag or start a new --name');
    const resumed = rnn(['train', corpus, ...TINY, '--max-iters', '6', '--resume', '--checkpoint-dir', ck, '--name', 'b']);
    expect(resumed.code).toBe(0);
    expect(readCheckpointMeta(path.join(ck, 'b.safetensors')).train.valSplit).toBe('blocks');
  });

  it('average --corpus measures the mean on the same blocks that eval --split val scores', () => {
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '10', '--val-fraction', '0.2', '--val-split', 'blocks', '--snapshots',
      '--checkpoint-dir', ck, '--name', 'avg']);
    expect(run.code).toBe(0);
    const out = path.join(dir, 'mean.safetensors');
    const averaged = rnn(['average', 'avg', '--checkpoint-dir', ck, '--out', out, '--corpus', corpus, '--backend', 'reference']);
    expect(averaged.code).toBe(0);
    const recorded = /validation (\d+\.\d{4}) nats\/char/.exec(averaged.stderr)![1];
    const scored = rnn(['eval', corpus, '-c', out, '--split', 'val', '--backend', 'reference', '--json']);
    expect(scored.code).toBe(0);
    expect(JSON.parse(scored.stdout).lossNats.toFixed(4)).toBe(recorded);
    expect(readCheckpointMeta(out).train.valSplit).toBe('blocks');
  });

  it('refuses an unknown split in one line, exit 2', () => {
    const run = rnn(['train', corpus, ...TINY, '--val-split', 'middle', '--checkpoint-dir', ck, '--name', 'x']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr).toMatch(/--val-split.*middle/);
  });

  it('reads a checkpoint saved before the split existed as tail', () => {
    const old = path.join(ROOT, 'test', 'fixtures', 'zoneout_eval', 'gru.safetensors');
    // Read as written (rnn info shows it so), and as the tail wherever a run reads it (upgrade.ts).
    const written = readCheckpointMeta(old).train;
    expect(written.valSplit).toBeUndefined();
    expect(upgradeTrainConfig(old, written).valSplit).toBe('tail');
  });
});

describe('the unseen-characters warning', () => {
  const { dir } = tempWorkspace();
  const ck = path.join(dir, 'ck');
  // 90% Latin, then a Greek tail: the tail's validation characters are Greek but for its spaces.
  const switching = path.join(dir, 'switch.txt');
  fs.writeFileSync(switching, 'the cat sat on the mat. '.repeat(450) + 'αβγδε ζηθ '.repeat(120));

  it('says, before training, what share of validation the training part lacks, and what to do', () => {
    const run = rnn(['train', switching, ...TINY, '--max-iters', '1', '--checkpoint-dir', ck, '--name', 'tail']);
    expect(run.code).toBe(0);
    const lines = run.stderr.split('\n').filter((l) => l.includes('never occur in the training part'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^rnn: warning: 80\.0% of the validation characters \(960 of 1,200; 8 distinct: .*\) never occur in the training part, so validation loss will read high: the held-out tail is unlike the rest of the text; --val-split blocks holds out blocks from all of it$/);
    expect(run.stderr.indexOf('never occur')).toBeLessThan(run.stderr.indexOf('rnn: training:'));
  });

  it('is silent with --val-split blocks here, and on a text whose tail is like the rest', () => {
    const blocks = rnn(['train', switching, ...TINY, '--max-iters', '1', '--val-split', 'blocks', '--checkpoint-dir', ck, '--name', 'blocks']);
    expect(blocks.code).toBe(0);
    expect(blocks.stderr).not.toMatch(/never occur/);
    const { corpus } = tempWorkspace();
    const plain = rnn(['train', corpus, ...TINY, '--max-iters', '1', '--checkpoint-dir', ck, '--name', 'plain']);
    expect(plain.code).toBe(0);
    expect(plain.stderr).not.toMatch(/never occur/);
  });
});

describe('rnn train --plan', () => {
  const { dir, corpus } = tempWorkspace();
  const ck = path.join(dir, 'ck');
  const cache = path.join(dir, 'rates.json');
  const env = { RNN_RATES_CACHE: cache };
  const flags = ['--embedding', '8', '--seq-len', '16', '--batch', '4', '--checkpoint-dir', ck];
  seedRates(cache, fs.readFileSync(corpus, 'utf8'), { embedding: 8, batch: 4, seqLen: 16 }, [[128, 40000], [256, 20000], [384, 12000], [512, 9000]]);

  it('prints the plan on stderr and exits 0 without training or writing anything', () => {
    const run = rnn(['train', corpus, ...flags, '--time', '1m', '--plan', '--log', path.join(dir, 'log.jsonl')], { env });
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('');
    for (const label of ['corpus', 'split', 'model', 'regularisation', 'schedule', 'expected', 'rates']) {
      expect(run.stderr).toMatch(new RegExp(`^  ${label} +\\S`, 'm'));
    }
    expect(run.stderr).toMatch(/^rnn: plan \(dry run: nothing is trained or written\)$/m);
    expect(run.stderr).toMatch(/^ {2}rates +read from .*rates\.json \(measured 2026-12-05 00:00 UTC\) on seeded by the test: 2x128 40,000, 2x256 20,000, 2x384 12,000, 2x512 9,000 chars\/s$/m);
    expect(run.stderr).toMatch(/^ {2}split +--val-split tail: the last 10% held out: [\d,]+ train \/ [\d,]+ val; every validation character occurs in the training part$/m);
    expect(run.stderr).not.toMatch(/^rnn: (training:|backend )/m); // no model was built, no step taken
    expect(fs.existsSync(ck)).toBe(false);
    expect(fs.existsSync(path.join(dir, 'log.jsonl'))).toBe(false);
  });

  it('--json: the plan on stdout, the rule\'s choice the one the rates give', () => {
    const run = rnn(['train', corpus, ...flags, '--time', '1m', '--plan', '--json', '--val-split', 'blocks'], { env });
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.rates.source).toBe('cache');
    expect(plan.rates.sizes.map((s: { charsPerSecond: number }) => s.charsPerSecond)).toEqual([40000, 20000, 12000, 9000]);
    // 1 minute at 9,000 chars/s (less validation) is still many passes of this small text: the largest size.
    expect(plan.rule.hiddenSize).toBe(512);
    expect(plan.model.hiddenSize).toBe(512);
    expect(plan.config.model.hiddenSize).toBe(512);
    expect(plan.expected.passes).toBeCloseTo(plan.rule.passes, 9);
    expect(plan.split).toMatchObject({ kind: 'blocks', valFraction: 0.1, unseen: { characters: 0, share: 0, distinct: 0 } });
    expect(plan.corpus.train + plan.corpus.val).toBe(plan.corpus.characters);
    expect(fs.existsSync(ck)).toBe(false);
  });

  it('without --time, the passes --max-iters buys, and no rates', () => {
    const run = rnn(['train', corpus, ...flags, '--max-iters', '100', '--plan', '--json'], { env });
    expect(run.code).toBe(0);
    const plan = JSON.parse(run.stdout);
    expect(plan.rates).toBeNull();
    expect(plan.rule).toBeNull();
    expect(plan.expected.passes).toBeCloseTo((100 * 4 * 16) / plan.corpus.train, 9);
  });

  it('measures the rates when none are cached, and says so', () => {
    const fresh = { RNN_RATES_CACHE: path.join(dir, 'fresh', 'rates.json') };
    const run = rnn(['train', corpus, ...flags, '--time', '1m', '--hidden', '16', '--plan', '--json'], { env: fresh });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^rnn: training rates measured here in [\d.]+ s \(.*B=4 T=16\): 2x16 [\d,]+ chars\/s; /m);
    const plan = JSON.parse(run.stdout);
    expect(plan.rates.source).toBe('measured');
    expect(plan.rates.sizes[0].charsPerSecond).toBeGreaterThan(0);
  });
});
