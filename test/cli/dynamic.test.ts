// rnn eval --dynamic and rnn sample --adapt on the real bin/rnn: the report, every backend, the
// checkpoint left as it was, and one-line refusals.

import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { rnn, tempWorkspace, TINY } from './helpers';
import { DEFAULTS } from '../../src/config';

describe('rnn eval --dynamic, rnn sample --adapt', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');
  const base = ['--checkpoint-dir', ckptDir, '-q'];
  let checkpoint = '';
  const digest = (): string => crypto.createHash('sha256').update(fs.readFileSync(checkpoint)).digest('hex');

  beforeAll(() => {
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '20', '--checkpoint-dir', ckptDir]).code).toBe(0);
    checkpoint = path.join(ckptDir, fs.readdirSync(ckptDir).find((f) => f.endsWith('.safetensors') && !f.includes('best'))!);
  });

  for (const backend of ['reference', 'wasm', 'gpujs']) {
    it(`--dynamic on ${backend}: static (one stream, the same segments) and dynamic side by side; the checkpoint is unchanged`, () => {
      const before = digest();
      const run = rnn(['eval', corpus, ...base, '--backend', backend, '--dynamic', '--dynamic-rule', 'sgd', '--dynamic-lr', '0.5', '--dynamic-seq-len', '20', '--json']);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.streams).toBe(1);
      expect(result.seqLen).toBe(20);
      expect(result.dynamic).toMatchObject({ rule: 'sgd', learningRate: 0.5, decay: 0, seqLen: 20, predicted: result.predicted });
      // A repetitive text: learning while reading helps.
      expect(result.dynamic.lossNats).toBeLessThan(result.lossNats);
      const plain = JSON.parse(rnn(['eval', corpus, ...base, '--backend', backend, '--batch', '1', '--seq-len', '20', '--json']).stdout);
      expect(result.lossNats).toBeCloseTo(plain.lossNats, 6);
      expect(digest()).toBe(before);
    });
  }

  it('--dynamic-rule rms measures its gradient statistics on the training split of the corpus the checkpoint names, or of --dynamic-stats', () => {
    const run = rnn(['eval', corpus, ...base, '--backend', 'reference', '--dynamic', '--dynamic-rule', 'rms', '--dynamic-lr', '1e-3', '--json']);
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.dynamic).toMatchObject({ rule: 'rms', learningRate: 1e-3 });
    expect(result.dynamic.statsSeconds).toBeGreaterThan(0);
    expect(result.dynamic.lossNats).toBeLessThan(result.lossNats);
    const copy = path.join(dir, 'copy.txt');
    fs.copyFileSync(corpus, copy);
    const given = rnn(['eval', corpus, ...base, '--backend', 'reference', '--dynamic', '--dynamic-rule', 'rms', '--dynamic-lr', '1e-3', '--dynamic-stats', copy, '--json']);
    expect(JSON.parse(given.stdout).dynamic.lossNats).toBe(result.dynamic.lossNats);
  });

  it('prints the dynamic loss beside the static one as text', () => {
    const run = rnn(['eval', corpus, ...base, '--backend', 'reference', '--dynamic', '--dynamic-decay', '0.01']);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/^dynamic +\d\.\d{4} nats\/char .* below the static \d\.\d{4} of the same stream$/m);
    const lr = DEFAULTS.dynamicRule === 'rms' ? DEFAULTS.dynamicRmsLearningRate : DEFAULTS.dynamicLearningRate;
    expect(run.stdout).toContain(`rule ${DEFAULTS.dynamicRule}, lr ${lr}, decay 0.01, segments of ${DEFAULTS.dynamicSeqLen};`);
  });

  it('sample --adapt learns from the prime, then samples on; the checkpoint is unchanged', () => {
    const before = digest();
    const prime = fs.readFileSync(corpus, 'utf8').slice(0, 600);
    const args = ['sample', ...base, '--backend', 'reference', '--prime', prime, '--length', '40', '--seed', '3'];
    const adapted = rnn([...args, '--adapt', '--adapt-passes', '2', '--dynamic-rule', 'sgd', '--dynamic-lr', '0.5']);
    expect(adapted.code).toBe(0);
    expect(adapted.stdout.startsWith(prime)).toBe(true);
    expect([...adapted.stdout].length).toBe([...prime].length + 40);
    const plain = rnn(args);
    expect(plain.code).toBe(0);
    expect(adapted.stdout).not.toBe(plain.stdout);
    expect(digest()).toBe(before);
    const json = rnn([...args, '--adapt', '--json', '-q']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).text.startsWith(prime)).toBe(true);
  });

  it('says on stderr what adapting measured on the prime', () => {
    const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--backend', 'reference', '--prime', 'ROMEO:\nO gentle night', '--adapt', '--length', '5']);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/adapted to the 21-character prime in 1 pass\(es\): \d\.\d{4} nats\/char/);
  });

  const refusals: Array<[string, string[], RegExp]> = [
    ['a --dynamic-* flag without --dynamic', ['eval', corpus, '--dynamic-lr', '0.1'], /--dynamic-lr applies only with --dynamic/],
    ['--dynamic with --batch', ['eval', corpus, '--dynamic', '--batch', '4'], /one stream; drop --batch/],
    ['--dynamic with --seq-len', ['eval', corpus, '--dynamic', '--seq-len', '8'], /--dynamic-seq-len/],
    ['--dynamic with --quantize', ['eval', corpus, '--dynamic', '--quantize', 'int8'], /drop --quantize/],
    ['a negative --dynamic-lr', ['eval', corpus, '--dynamic', '--dynamic-lr', '-1'], /--dynamic-lr/],
    ['a --dynamic-decay above 1', ['eval', corpus, '--dynamic', '--dynamic-decay', '1.5'], /--dynamic-decay/],
    ['a --dynamic-seq-len of 0', ['eval', corpus, '--dynamic', '--dynamic-seq-len', '0'], /--dynamic-seq-len/],
    ['--adapt without a prime', ['sample', '--adapt'], /--adapt learns from the prime: give --prime/],
    ['--adapt with a 1-character prime', ['sample', '--adapt', '--prime', 'R'], /give at least 2/],
    ['--adapt-passes without --adapt', ['sample', '--prime', 'RO', '--adapt-passes', '2'], /--adapt-passes applies only with --adapt/],
    ['--adapt-passes 0', ['sample', '--prime', 'RO', '--adapt', '--adapt-passes', '0'], /--adapt-passes/],
    ['--dynamic-lr on sample without --adapt', ['sample', '--prime', 'RO', '--dynamic-lr', '0.1'], /applies only with --adapt/],
    ['--adapt with --beam', ['sample', '--prime', 'RO', '--adapt', '--beam', '3'], /drop --beam/],
    ['--dynamic-stats with the sgd rule', ['eval', corpus, '--dynamic', '--dynamic-rule', 'sgd', '--dynamic-stats', corpus], /--dynamic-stats is for --dynamic-rule rms/],
    ['an unknown --dynamic-rule', ['eval', corpus, '--dynamic', '--dynamic-rule', 'adam'], /--dynamic-rule/],
    ['--dynamic-rule rms whose statistics text is missing', ['eval', corpus, '--dynamic', '--dynamic-rule', 'rms', '--dynamic-stats', '/nonexistent/train.txt'], /--dynamic-stats FILE, or use --dynamic-rule sgd/],
  ];
  for (const [what, args, message] of refusals) {
    it(`refuses ${what} in one line (exit 2)`, () => {
      const run = rnn([...args, '--checkpoint-dir', ckptDir, '--backend', 'reference']);
      expect(run.code).toBe(2);
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(message);
    });
  }

  it('help text gives the defaults of DEFAULTS', () => {
    const help = rnn(['eval', '--help']).stdout.replace(/\s+/g, ' ');
    expect(help).toContain(`(default: ${DEFAULTS.dynamicRmsLearningRate} with rms, ${DEFAULTS.dynamicLearningRate} with sgd)`);
    expect(help).toContain(`default: "${DEFAULTS.dynamicRule}")`);
    expect(help).toContain(`(default: ${DEFAULTS.dynamicSeqLen})`);
    expect(rnn(['sample', '--help']).stdout.replace(/\s+/g, ' ')).toContain(`over the prime (default ${DEFAULTS.adaptPasses})`);
  });
});
