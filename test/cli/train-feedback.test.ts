// rnn train's --log, --patience and --sample-every on the real bin/rnn.

import * as fs from 'fs';
import * as path from 'path';
import { rnn, tempWorkspace, TINY } from './helpers';

describe('rnn train feedback', () => {
  const { dir, corpus } = tempWorkspace();

  it('--log appends one JSON line per evaluation, with the fields to plot', () => {
    const log = path.join(dir, 'run.jsonl');
    fs.writeFileSync(log, '{"earlier":"run"}\n');
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '20', '--checkpoint-dir', path.join(dir, 'ck1'), '--log', log]);
    expect(run.code).toBe(0);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toEqual({ earlier: 'run' }); // appended, not overwritten
    expect(lines.slice(1).map((l) => l.iteration)).toEqual([5, 10, 15, 20]); // --eval-every 5
    for (const l of lines.slice(1)) {
      expect(Object.keys(l).sort()).toEqual(['best', 'charsPerSecond', 'elapsedMs', 'epoch', 'iteration', 'lr', 'trainLoss', 'valLoss'].sort());
      expect(l.valLoss).toBeGreaterThan(0);
    }
    // The rate the step before each evaluation used: the default cosine from 0.002 to 0.0002 over
    // 20 iterations, so at iteration i (0-based i-1 for that step) it is 0.0002 + 0.0018·½(1 + cos(π(i−1)/20)).
    const cosine = (i: number): number => 0.0002 + 0.0018 * 0.5 * (1 + Math.cos((Math.PI * (i - 1)) / 20));
    for (const l of lines.slice(1)) expect(l.lr).toBeCloseTo(cosine(l.iteration), 12);
  });

  it('--log into a folder that does not exist is a usage error before training', () => {
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '5', '--checkpoint-dir', path.join(dir, 'ck2'), '--log', path.join(dir, 'no', 'run.jsonl')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--log .*cannot append/);
    expect(fs.existsSync(path.join(dir, 'ck2'))).toBe(false);
  });

  it('--patience stops when validation stops improving, says so, and --json names the reason', () => {
    // A learning rate this high makes validation worse at once: it cannot improve for long.
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '400', '--lr', '0.5', '--patience', '2', '--checkpoint-dir', path.join(dir, 'ck3'), '--json']);
    expect(run.code).toBe(0);
    const summary = JSON.parse(run.stdout);
    expect(summary.stop).toBe('patience');
    expect(summary.iterations).toBeLessThan(400);
    expect(run.stderr).toMatch(/--patience 2: no better validation loss in 2 evaluations/);
    expect(fs.existsSync(path.join(dir, 'ck3', 'play.best.safetensors'))).toBe(true);
  });

  it('--sample-every prints a seeded sample of --sample-length characters on stderr, never on stdout', () => {
    const args = ['train', corpus, ...TINY, '--max-iters', '10', '--sample-every', '5', '--sample-length', '30'];
    const a = rnn([...args, '--checkpoint-dir', path.join(dir, 'ck4')]);
    expect(a.code).toBe(0);
    expect(a.stdout).toBe('');
    // The default tail (0.3) holds iteration 8's weights by iteration 10: that sample says so.
    const samples = a.stderr.match(/rnn: sample at iteration (5 \(seed 1337, temperature 0\.8|10 \(seed 1337, temperature 0\.8, weights: the tail's mean of 1 point)\):\n/g);
    expect(samples).toHaveLength(2);
    // Off a terminal the default is no samples.
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '10', '--checkpoint-dir', path.join(dir, 'ck5')]).stderr).not.toMatch(/sample at iteration/);
  });

  it('a sample in the averaged tail is drawn from the mean the checkpoint holds, and says so', () => {
    // 12 iterations, tail 0.5: iterations 6..12 are in it, and 8 and 12 are its points. A high
    // rate moves the weights far between two points, so the raw weights would sample other text.
    const ck = path.join(dir, 'ck6');
    const run = rnn(['train', corpus, ...TINY, '--max-iters', '12', '--lr', '0.05', '--average-tail', '0.5', '--sample-every', '12',
      '--sample-length', '200', '--checkpoint-dir', ck]);
    expect(run.code).toBe(0);
    const drawn = /rnn: sample at iteration 12 \(seed 1337, temperature 0\.8, weights: the tail's mean of 2 points\):\n([^]*?)\n-{40}/.exec(run.stderr);
    expect(drawn).not.toBeNull();
    // Still learning fast, this run's raw weights validate lower than the mean at its end, so the
    // checkpoint's weights are those, and the mean sits beside them as optimizer.mean.*: a copy
    // with the mean under the plain names samples what was drawn, the checkpoint itself does not.
    expect(run.stderr).toMatch(/rnn: it ends on the last step's own weights: val [\d.]+, the tail's running mean [\d.]+ \(kept for --resume\)\n/);
    const file = path.join(ck, 'play.safetensors');
    const meanFile = path.join(dir, 'mean.safetensors');
    fs.writeFileSync(meanFile, withNamesSwapped(fs.readFileSync(file), 'optimizer.mean.'));
    const sample = (f: string): string => rnn(['sample', '--checkpoint', f, '--seed', '1337', '--temp', '0.8', '--length', '200']).stdout;
    expect(sample(meanFile)).toBe(drawn![1]);
    expect(sample(file)).not.toBe(drawn![1]);
    // rnn info names the choice and both figures; --json gives them as numbers.
    const [raw, mean] = /val ([\d.]+), the tail's running mean ([\d.]+)/.exec(run.stderr)!.slice(1);
    expect(rnn(['info', file]).stdout).toMatch(new RegExp(`weights +the last step's own: they validate ${raw}, lower than the running mean of 2 points ` +
      `of the last 50% of the run \\(--average-tail\\) at ${mean}, which is kept for --resume`));
    const json = JSON.parse(rnn(['info', file, '--json']).stdout).checkpoint;
    expect(json.endChoice).toMatchObject({ chose: 'raw' });
    expect(json.endChoice.raw.toFixed(4)).toBe(raw);
    expect(json.endChoice.mean.toFixed(4)).toBe(mean);
    expect(json.lastValLoss).toBe(json.endChoice.raw);
  });
});

/** A safetensors file whose plain parameter names and `prefix`-named copies trade places (the header alone changes). */
function withNamesSwapped(bytes: Buffer, prefix: string): Buffer {
  const n = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')) as Record<string, { data_offsets: number[] }>;
  for (const name of Object.keys(header)) {
    if (!name.startsWith(prefix)) continue;
    const plain = name.slice(prefix.length);
    [header[plain].data_offsets, header[name].data_offsets] = [header[name].data_offsets, header[plain].data_offsets];
  }
  let json = Buffer.from(JSON.stringify(header));
  json = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, bytes.subarray(8 + n)]);
}
