// rnn sample's --num, --greedy, --beam, --stop, --prime-file and exact pipe output, on the real bin/rnn.

import * as fs from 'fs';
import * as path from 'path';
import { rnn, tempWorkspace, TINY } from './helpers';

describe('rnn sample modes', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');
  const sample = (...args: string[]): string[] => ['sample', '--checkpoint-dir', ckptDir, '--backend', 'reference', '-q', ...args];

  beforeAll(() => {
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '30', '--checkpoint-dir', ckptDir]).code).toBe(0);
  });

  it('into a pipe writes exactly prime + --length characters, no line break added', () => {
    const run = rnn(sample('--length', '37', '--prime', 'NURSE:', '--seed', '2'));
    expect(run.code).toBe(0);
    expect([...run.stdout].length).toBe(6 + 37);
  });

  it('--num N: sample i is --seed seed+i-1 alone, separated by a documented line; --json gives an array', () => {
    const three = rnn(sample('--length', '30', '--seed', '40', '--num', '3', '--prime', 'O'));
    expect(three.code).toBe(0);
    const parts = three.stdout.split(/\n--- sample (\d+)\/3, seed (\d+) ---\n/);
    // [text1, '2', '41', text2, '3', '42', text3]
    expect(parts.length).toBe(7);
    expect([parts[1], parts[2], parts[4], parts[5]]).toEqual(['2', '41', '3', '42']);
    for (const [i, text] of [[0, parts[0]], [1, parts[3]], [2, parts[6]]] as Array<[number, string]>) {
      expect(text).toBe(rnn(sample('--length', '30', '--seed', String(40 + i), '--prime', 'O')).stdout);
    }
    const json = JSON.parse(rnn(sample('--length', '30', '--seed', '40', '--num', '3', '--prime', 'O', '--json')).stdout);
    expect(json.map((r: { seed: number }) => r.seed)).toEqual([40, 41, 42]);
    expect(json[1].text).toBe(parts[3]);
    expect(Number.isFinite(json[0].logProb) && json[0].logProb < 0).toBe(true);
  });

  it('--greedy ignores the seed, and says on stderr that --temp is ignored', () => {
    const a = rnn(['sample', '--checkpoint-dir', ckptDir, '--backend', 'reference', '--greedy', '--temp', '1.5', '--length', '25', '--prime', 'ROMEO:', '--seed', '1']);
    const b = rnn(sample('--greedy', '--length', '25', '--prime', 'ROMEO:', '--seed', '2'));
    expect(a.code).toBe(0);
    expect(a.stdout).toBe(b.stdout);
    expect(a.stderr).toMatch(/warning: --temp ignored/);
  });

  it('--beam K prints one text with its log-probability (stderr and --json); --beam 1 is --greedy', () => {
    const beam = rnn(['sample', '--checkpoint-dir', ckptDir, '--backend', 'reference', '--beam', '3', '--length', '20', '--prime', 'JULIET:']);
    expect(beam.code).toBe(0);
    expect([...beam.stdout].length).toBe(7 + 20);
    expect(beam.stderr).toMatch(/beam 3: log-probability -\d+\.\d+ nats over 20 characters/);
    const json = JSON.parse(rnn(sample('--beam', '3', '--length', '20', '--prime', 'JULIET:', '--json')).stdout);
    expect(json).toMatchObject({ mode: 'beam', beam: 3, text: beam.stdout, characters: 20 });
    const greedy = JSON.parse(rnn(sample('--greedy', '--length', '20', '--prime', 'JULIET:', '--json')).stdout);
    const one = JSON.parse(rnn(sample('--beam', '1', '--length', '20', '--prime', 'JULIET:', '--json')).stdout);
    expect(one.text).toBe(greedy.text);
    expect(one.logProb).toBeCloseTo(greedy.logProb, 6);
  });

  it('--stop ends after the first occurrence (repeatable); --length stays the bound', () => {
    const free = rnn(sample('--length', '200', '--seed', '9', '--prime', 'ROMEO:')).stdout;
    const gen = free.slice('ROMEO:'.length);
    const stop = gen.slice(3, 5); // a two-character string the sample is known to contain
    const cut = rnn(sample('--length', '200', '--seed', '9', '--prime', 'ROMEO:', '--stop', 'never-there', '--stop', stop));
    expect(cut.code).toBe(0);
    expect(cut.stdout).toBe('ROMEO:' + gen.slice(0, gen.indexOf(stop) + stop.length));
    const json = JSON.parse(rnn(sample('--length', '200', '--seed', '9', '--prime', 'ROMEO:', '--stop', stop, '--json')).stdout);
    expect(json.stopped).toBe(stop);
    expect(json.stop).toEqual([stop]);
  });

  it('--prime-file reads a prime with line breaks', () => {
    const file = path.join(dir, 'prime.txt');
    fs.writeFileSync(file, 'ROMEO:\nO gentle\n');
    const run = rnn(sample('--prime-file', file, '--length', '10', '--seed', '3'));
    expect(run.code).toBe(0);
    expect(run.stdout.startsWith('ROMEO:\nO gentle\n')).toBe(true);
    expect(run.stdout).toBe(rnn(sample('--prime', 'ROMEO:\nO gentle\n', '--length', '10', '--seed', '3')).stdout);
  });

  it.each([
    ['--beam 0', ['--beam', '0'], /--beam/],
    ['an empty --stop', ['--stop', ''], /stop string cannot be empty/],
    ['--prime and --prime-file', ['--prime', 'a', '--prime-file', 'x'], /--prime or --prime-file, not both/],
    ['--greedy and --beam', ['--greedy', '--beam', '2'], /--greedy or --beam, not both/],
    ['--beam and --num', ['--beam', '2', '--num', '3'], /drop --num/],
    ['--num 0', ['--num', '0'], /--num/],
    ['a missing --prime-file', ['--prime-file', 'no-such-file.txt'], /no-such-file.txt: no such file/],
  ])('%s is a one-line usage error (exit 2)', (_name, args, message) => {
    const run = rnn(sample(...args));
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split('\n').length).toBe(1);
    expect(run.stdout).toBe('');
  });
});
