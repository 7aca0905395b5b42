// `rnn train --engine pytorch` with the run options: --snapshots, --log, --overwrite and an
// interrupt behave as they do on our engine (test/cli/commands.test.ts, train-feedback.test.ts,
// interrupt.test.ts and test/train/run.test.ts check ours).
//
// They need /usr/bin/python3 with torch (CI installs Debian's python3-torch); without it they are
// skipped by name, with the reason.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Run, rnn, rnnAsync, tempWorkspace, tensorsOf } from '../../cli/helpers';

import { SKIPPED, withTorch } from './torch';

/** A small model, two layers, on the workspace's generated play. */
const SMALL = ['--layers', '2', '--hidden', '8', '--embedding', '5', '--seq-len', '8', '--batch', '4'];
const TIMEOUT = { timeoutMs: 120000 };

/** A safetensors file's metadata and its tensors by name, as raw float32 bytes. */
function readCheckpoint(file: string): { metadata: Record<string, string>; tensors: Map<string, Buffer> } {
  const bytes = fs.readFileSync(file);
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const header = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  const { __metadata__: metadata, ...entries } = header;
  const tensors = new Map<string, Buffer>();
  for (const [name, entry] of Object.entries(entries as Record<string, { data_offsets: [number, number] }>)) {
    tensors.set(name, bytes.subarray(8 + headerLength + entry.data_offsets[0], 8 + headerLength + entry.data_offsets[1]));
  }
  return { metadata, tensors };
}

function progressOf(file: string): {
  iteration: number; averaged?: number; endChoice?: { mean: number; raw: number; chose: string };
  history: Array<{ iteration: number; trainLoss: number; valLoss?: number }>;
} {
  return JSON.parse(readCheckpoint(file).metadata.progress);
}

/** What `rnn info --json` says of a checkpoint. */
function info(file: string): { iteration: number; resumable: boolean; train: Record<string, unknown> } {
  const run = rnn(['info', file, '--json', '--no-backends']);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout).checkpoint;
}

withTorch(`--engine pytorch: the run options${SKIPPED}`, () => {
  const { dir, corpus } = tempWorkspace();
  // One run serves every check (each launch of PyTorch costs seconds): 2 processes, dropout on, and
  // a tail average over the second half (a point every 4 steps), so the latest checkpoint holds the
  // mean and a snapshot the raw weights. It replaces (--overwrite) a short run of ours saved under
  // the same name, and the interrupted run is this run, cut and resumed.
  const FLAGS = [corpus, ...SMALL, '--max-iters', '80', '--eval-every', '10', '--dropout', '0.2', '--average-tail', '0.5', '--snapshots'];
  const RUN = [...FLAGS, '--engine', 'pytorch', '--nproc', '2'];
  const whole = path.join(dir, 'whole'), cut = path.join(dir, 'cut'), temp = path.join(dir, 'tmp');
  const snapshots = path.join(whole, 'play.snapshots');
  const torchLog = path.join(dir, 'torch.jsonl'), oursLog = path.join(dir, 'ours.jsonl');
  // Its own temporary folder, to see that nothing is left in it.
  const env = { TMPDIR: temp };
  const EVALUATIONS = [10, 20, 30, 40, 50, 60, 70, 80];
  const listing = (folder: string): string[] => fs.readdirSync(folder, { recursive: true }).map(String).sort();
  let old: { files: string[] }, refused: Run & { files: string[] }, replacing: Run;

  beforeAll(() => {
    fs.mkdirSync(temp);
    fs.writeFileSync(torchLog, '{"earlier":"run"}\n');
    // The run to replace: ours, with snapshots at 5, 10 and 15 and a best checkpoint.
    expect(rnn(['train', corpus, ...SMALL, '--max-iters', '15', '--eval-every', '5', '--snapshots', '--backend', 'reference', '--checkpoint-dir', whole,
      '--quiet']).code).toBe(0);
    old = { files: listing(whole) };
    refused = { ...rnn(['train', ...RUN, '--checkpoint-dir', whole, '--log', torchLog], { env, ...TIMEOUT }), files: listing(whole) };
    replacing = rnn(['train', ...RUN, '--checkpoint-dir', whole, '--log', torchLog, '--overwrite'], { env, ...TIMEOUT });
    expect(replacing.stderr).not.toMatch(/Traceback|Error/);
    expect(replacing.code).toBe(0);
    expect(replacing.stdout).toBe('');
    const ours = rnn(['train', ...FLAGS, '--backend', 'reference', '--checkpoint-dir', path.join(dir, 'ours'), '--log', oursLog, '--quiet']);
    expect(ours.code).toBe(0);
  }, 150000);

  test('a second run under the name is refused without --overwrite, and changes no file', () => {
    expect(old.files).toEqual(['play.best.safetensors', 'play.safetensors', 'play.snapshots',
      ...[5, 10, 15].map((i) => path.join('play.snapshots', `iter-${String(i).padStart(7, '0')}.safetensors`))].sort());
    expect(refused.code).toBe(2);
    expect(refused.stdout).toBe('');
    expect(refused.stderr).toMatch(/^rnn: a run is saved under --name play already: .*play\.safetensors \(iteration 15, saved .*\); continue it with --resume, start another with --name, or replace it with --overwrite\n$/);
    expect(refused.files).toEqual(old.files);
  });

  test('--overwrite replaces the run (one of ours) whole: new checkpoints, none of the old snapshots left', () => {
    // The replaced run's best checkpoint and its 3 snapshots; its latest is replaced by the new one.
    expect(replacing.stderr).toMatch(/--overwrite: removed the replaced run's best checkpoint and snapshots \(4 files\)/);
    expect(fs.readdirSync(snapshots).sort()).toEqual(EVALUATIONS.map((i) => `iter-${String(i).padStart(7, '0')}.safetensors`));
    expect(info(path.join(whole, 'play.safetensors'))).toMatchObject({ iteration: 80, train: { maxIters: 80, dropout: 0.2 } });
    expect(info(path.join(whole, 'play.best.safetensors'))).toMatchObject({ train: { maxIters: 80, dropout: 0.2 } });
  });

  test('--snapshots: one weights-only snapshot a save, named by iteration, that `rnn average` reads', () => {
    expect(fs.readdirSync(snapshots).sort()).toEqual(EVALUATIONS.map((i) => `iter-${String(i).padStart(7, '0')}.safetensors`));
    expect(info(path.join(snapshots, 'iter-0000040.safetensors'))).toMatchObject({ iteration: 40, resumable: false });
    const mean = path.join(dir, 'mean.safetensors');
    const averaged = rnn(['average', snapshots, '--last', '3', '--out', mean]);
    expect(averaged.code).toBe(0);
    expect(averaged.stdout).toBe('');
    expect(info(mean).iteration).toBe(80);
    const sample = rnn(['sample', '--checkpoint', mean, '--length', '20', '--seed', '1']);
    expect(sample.code).toBe(0);
    expect([...sample.stdout].length).toBeGreaterThanOrEqual(20);
  });

  test('a snapshot holds the raw weights (the latest checkpoint\'s optimizer.iterate.*), not the tail\'s mean', () => {
    const latest = readCheckpoint(path.join(whole, 'play.safetensors'));
    const snapshot = readCheckpoint(path.join(snapshots, 'iter-0000080.safetensors'));
    const progress = progressOf(path.join(whole, 'play.safetensors'));
    expect(progress.averaged).toBeGreaterThan(0);
    // The end measured both and kept the lower: the mean is under the plain names or optimizer.mean.*.
    expect(progress.endChoice).toMatchObject({ chose: expect.stringMatching(/^(mean|raw)$/) });
    const mean = progress.endChoice!.chose === 'raw' ? 'optimizer.mean.' : '';
    const names = [...snapshot.tensors.keys()];
    expect(names).toContain('decoder.weight');
    expect(names.every((name) => !name.startsWith('optimizer.') && !name.startsWith('state.'))).toBe(true);
    for (const name of names) {
      expect(snapshot.tensors.get(name)!.equals(latest.tensors.get(`optimizer.iterate.${name}`)!)).toBe(true);
      expect(snapshot.tensors.get(name)!.equals(latest.tensors.get(`${mean}${name}`)!)).toBe(false); // the mean differs
    }
    expect(progressOf(path.join(snapshots, 'iter-0000080.safetensors')).endChoice).toBeUndefined();
  });

  test('--log: one JSON line per evaluation, appended, with the keys and learning rates our engine writes', () => {
    const lines = fs.readFileSync(torchLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    const ours = fs.readFileSync(oursLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(lines[0]).toEqual({ earlier: 'run' });
    expect(lines.slice(1).map((l) => l.iteration)).toEqual(EVALUATIONS);
    expect(ours.map((l) => l.iteration)).toEqual(EVALUATIONS);
    for (let i = 0; i < ours.length; i++) {
      const line = lines[i + 1];
      expect(Object.keys(line)).toEqual(Object.keys(ours[i]));
      for (const key of Object.keys(line)) expect(typeof line[key]).toBe(typeof ours[i][key]);
      expect(line.epoch).toBe(ours[i].epoch);
      expect(line.lr).toBeCloseTo(ours[i].lr, 12); // the same schedule at the same step
      expect(line.valLoss).toBeGreaterThan(0);
      expect(line.charsPerSecond).toBeGreaterThan(0);
    }
  });

  test('SIGINT mid-run: exit 130, a resumable checkpoint, no temporary file; --resume ends where the uninterrupted run does', async () => {
    let signalled = false;
    const interrupted = await rnnAsync(['train', ...RUN, '--checkpoint-dir', cut], {
      env,
      onStderr: (soFar, child) => {
        if (!signalled && /rnn: iteration 10 /.test(soFar)) {
          signalled = true;
          child.kill('SIGINT');
        }
      },
    });
    expect(signalled).toBe(true);
    expect(interrupted.code).toBe(130);
    expect(interrupted.stdout).toBe('');
    expect(interrupted.stderr).toMatch(/interrupt: the PyTorch ranks stop at the next step and save/);
    expect(interrupted.stderr).toMatch(/\nrnn: interrupted; resume with: rnn train .* --resume --engine pytorch\n$/);
    expect(interrupted.stderr).not.toMatch(/Traceback/);
    const latest = path.join(cut, 'play.safetensors');
    const stopped = info(latest);
    expect(stopped.resumable).toBe(true);
    expect(stopped.iteration).toBeGreaterThanOrEqual(10);
    expect(stopped.iteration).toBeLessThan(80);
    // The checkpoints alone (no .tmp, no lock), and nothing left in the temporary folder.
    expect(fs.readdirSync(cut).sort()).toEqual(['play.best.safetensors', 'play.safetensors', 'play.snapshots']);
    expect(fs.readdirSync(path.join(cut, 'play.snapshots')).every((f) => /^iter-\d{7}\.safetensors$/.test(f))).toBe(true);
    expect(fs.readdirSync(temp)).toEqual([]);

    const resumed = rnn(['train', ...RUN, '--checkpoint-dir', cut, '--resume'], { env, ...TIMEOUT });
    expect(resumed.code).toBe(0);
    expect(resumed.stderr).toContain(`resuming ${latest} at iteration ${stopped.iteration}`);
    expect(info(latest).iteration).toBe(80);
    expect(fs.readdirSync(temp)).toEqual([]);
    // The same masks (seeded by the iteration and the rank), weights, moments, running mean, state
    // and stream cursor: the resumed run ends on the uninterrupted run's weights, bit for bit.
    expect(tensorsOf(latest).equals(tensorsOf(path.join(whole, 'play.safetensors')))).toBe(true);
  }, 240000);
});
