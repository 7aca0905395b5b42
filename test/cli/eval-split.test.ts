// rnn eval --split val scores exactly the characters rnn train held out.

import * as fs from 'fs';
import * as path from 'path';
import { rnn, tempWorkspace, TINY } from './helpers';

describe('rnn eval --split', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');

  beforeAll(() => {
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '10', '--checkpoint-dir', ckptDir, '--val-fraction', '0.2']).code).toBe(0);
  });

  const lossOf = (file: string, extra: string[]): { lossNats: number; characters: number } => {
    const run = rnn(['eval', file, '--checkpoint-dir', ckptDir, '--backend', 'reference', '--batch', '1', '--json', ...extra]);
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  it('val is the last floor(N·f) code points, f the checkpoint\'s --val-fraction; train the rest', () => {
    const points = [...fs.readFileSync(corpus, 'utf8')];
    const valCount = Math.floor(points.length * 0.2);
    const valFile = path.join(dir, 'val.txt'), trainFile = path.join(dir, 'train.txt');
    fs.writeFileSync(valFile, points.slice(points.length - valCount).join(''));
    fs.writeFileSync(trainFile, points.slice(0, points.length - valCount).join(''));
    const val = lossOf(corpus, ['--split', 'val']);
    expect(val.characters).toBe(valCount);
    expect(val.lossNats).toBe(lossOf(valFile, []).lossNats);
    expect(lossOf(corpus, ['--split', 'train']).lossNats).toBe(lossOf(trainFile, []).lossNats);
  });

  it('refuses an unknown split in one line', () => {
    const run = rnn(['eval', corpus, '--checkpoint-dir', ckptDir, '--split', 'test']);
    expect(run.code).toBe(2);
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
  });
});
