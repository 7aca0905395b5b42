// `rnn train --weight-drop`: refused outside [0, 1), said at start-up, recorded, shown by info
// and --plan, kept by --resume; 0 trains and saves exactly what a run without the flag does.

import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { rnn, tempWorkspace, tensorsOf, TINY } from './helpers';

/** The train_config JSON exactly as the file holds it. */
function trainConfigText(file: string): string {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  return JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')).__metadata__.train_config;
}

describe('rnn train --weight-drop', () => {
  const { dir, corpus } = tempWorkspace();
  const latest = (d: string): string => path.join(dir, d, 'play.safetensors');
  const flags = [...TINY, '--lr-schedule', 'constant', '--cell', 'gru'];

  it.each([
    ['1', ['--weight-drop', '1'], /^rnn: --weight-drop must be at least 0 \(off\) and below 1, got 1$/],
    ['1.5', ['--weight-drop', '1.5'], /^rnn: --weight-drop must be at least 0 \(off\) and below 1, got 1\.5$/],
    ['-0.1', ['--weight-drop', '-0.1'], /^rnn: option '--weight-drop <p>' argument '-0\.1' is invalid\. expected a number at least 0/],
    ['abc', ['--weight-drop', 'abc'], /^rnn: option '--weight-drop <p>' argument 'abc' is invalid/],
  ])('refuses --weight-drop %s in one line, exit 2, before anything is written', (_name, extra, message) => {
    const ck = path.join(dir, `refused-${_name.replace(/\W/g, '')}`);
    const run = rnn(['train', corpus, ...flags, ...extra, '--checkpoint-dir', ck]);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.trim().split('\n')).toHaveLength(1);
    expect(run.stderr.trim()).toMatch(message);
    expect(fs.existsSync(ck)).toBe(false);
  });

  it('is said at start-up, recorded, shown by info, changes the weights, and is kept by --resume step for step', () => {
    expect(rnn(['train', corpus, ...flags, '--max-iters', '10', '--checkpoint-dir', path.join(dir, 'none')]).code).toBe(0);
    const dropped = rnn(['train', corpus, ...flags, '--weight-drop', '0.3', '--max-iters', '10', '--checkpoint-dir', path.join(dir, 'straight')]);
    expect(dropped.code).toBe(0);
    expect(dropped.stderr).toMatch(/training: 1x8 GRU \(weight drop 0\.3\)/);
    expect(loadCheckpoint(latest('straight')).meta.train.weightDrop).toBe(0.3);
    expect(rnn(['info', latest('straight'), '--no-backends']).stdout).toMatch(/dropout 0, weight drop 0\.3, init/);
    expect(tensorsOf(latest('straight')).equals(tensorsOf(latest('none')))).toBe(false);
    // 6 iterations, then resumed without the flag to 10: the run's own weight drop and masks carry on.
    expect(rnn(['train', corpus, ...flags, '--weight-drop', '0.3', '--max-iters', '6', '--checkpoint-dir', path.join(dir, 'split')]).code).toBe(0);
    const resumed = rnn(['train', corpus, '--backend', 'reference', '--max-iters', '10', '--checkpoint-dir', path.join(dir, 'split'), '--resume']);
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toMatch(/resuming .* at iteration 6: 1x8 GRU \(weight drop 0\.3\)/);
    expect(tensorsOf(latest('split')).equals(tensorsOf(latest('straight')))).toBe(true);
    // Evaluation and sampling read the weights as they are.
    expect(rnn(['sample', '--checkpoint', latest('straight'), '--length', '20', '--backend', 'reference']).code).toBe(0);
  });

  it('0 trains and saves what a run without the flag does, train_config included', () => {
    // Each in its own folder with the same relative --checkpoint-dir, so train_config can be equal.
    for (const run of ['without', 'zero']) fs.mkdirSync(path.join(dir, run));
    const train = (run: string, extra: string[]): number | null =>
      rnn(['train', corpus, ...flags, ...extra, '--max-iters', '10', '--checkpoint-dir', 'ck'], { cwd: path.join(dir, run) }).code;
    expect(train('without', [])).toBe(0);
    expect(train('zero', ['--weight-drop', '0'])).toBe(0);
    const saved = (run: string): string => path.join(dir, run, 'ck', 'play.safetensors');
    expect(tensorsOf(saved('zero')).equals(tensorsOf(saved('without')))).toBe(true);
    expect(trainConfigText(saved('zero'))).toBe(trainConfigText(saved('without')));
    expect(trainConfigText(saved('zero'))).not.toMatch(/weightDrop/);
  });

  it('--plan shows it on the regularisation line, and as regularisation.weightDrop with --json', () => {
    const words = rnn(['train', corpus, ...flags, '--weight-drop', '0.25', '--plan']);
    expect(words.code).toBe(0);
    expect(words.stderr).toMatch(/regularisation {2}dropout 0, zoneout none, weight decay 0, weight drop 0\.25, /);
    const json = rnn(['train', corpus, ...flags, '--weight-drop', '0.25', '--plan', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).regularisation.weightDrop).toBe(0.25);
    expect(JSON.parse(rnn(['train', corpus, ...flags, '--plan', '--json']).stdout).regularisation.weightDrop).toBe(0);
  });
});
