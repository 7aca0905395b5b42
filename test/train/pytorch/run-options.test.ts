// `rnn train --engine pytorch` with the run options: --snapshots, --log, --overwrite and an
// interrupt behave as they do on our engine (test/cli/commands.test.ts, train-feedback.test.ts,
// interrupt.test.ts and test/train/run.test.ts check ours).
//
// They need /usr/bin/python3 with torch (CI installs Debian's python3-torch); without it they are
// skipped by name, with the reason.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { rnn, rnnAsync, tempWorkspace, tensorsOf } from '../../cli/helpers';

const PYTHON = '/usr/bin/python3';
const HAS_TORCH = (() => {
  const probe = spawnSync(PYTHON, ['-c', 'import torch, torch.distributed'], { encoding: 'utf8' });
  return !probe.error && probe.status === 0;
})();
const withTorch = HAS_TORCH ? describe : describe.skip;
const SKIPPED = HAS_TORCH ? '' : ` (skipped: ${PYTHON} cannot import torch; apt-get install python3-torch)`;

/** A small model, two layers, on the workspace's generated play. */
const SMALL = ['--layers', '2', '--hidden', '8', '--embedding', '5', '--seq-len', '8', '--batch', '4'];
const TORCH = ['--engine', 'pytorch', '--nproc', '1'];
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

function progressOf(file: string): { iteration: number; averaged?: number; history: Array<{ iteration: number; trainLoss: number; valLoss?: number }> } {
  return JSON.parse(readCheckpoint(file).metadata.progress);
}

/** What `rnn info --json` says of a checkpoint. */
function info(file: string): { iteration: number; resumable: boolean; train: { seed: number } } {
  const run = rnn(['info', file, '--json', '--no-backends']);
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout).checkpoint;
}

withTorch(`--engine pytorch: the run options${SKIPPED}`, () => {
  describe('--snapshots, --log and --overwrite', () => {
    const { dir, corpus } = tempWorkspace();
    const ckpt = path.join(dir, 'ckpt');
    const snapshots = path.join(ckpt, 'play.snapshots');
    const torchLog = path.join(dir, 'torch.jsonl');
    const oursLog = path.join(dir, 'ours.jsonl');
    // A tail average over the second half (a point every 4 steps): the latest checkpoint holds the mean,
    // a snapshot the raw weights.
    const RUN = [...SMALL, '--max-iters', '15', '--eval-every', '5', '--average-tail', '0.5'];

    beforeAll(() => {
      fs.writeFileSync(torchLog, '{"earlier":"run"}\n');
      const ours = rnn(['train', corpus, ...RUN, '--backend', 'reference', '--checkpoint-dir', path.join(dir, 'ours'), '--log', oursLog, '--quiet']);
      expect(ours.code).toBe(0);
      const torch = rnn(['train', corpus, ...RUN, ...TORCH, '--checkpoint-dir', ckpt, '--snapshots', '--log', torchLog], TIMEOUT);
      expect(torch.stderr).not.toMatch(/Traceback|Error/);
      expect(torch.code).toBe(0);
      expect(torch.stdout).toBe('');
    }, 150000);

    test('--snapshots: one weights-only snapshot a save, named by iteration, that `rnn average` reads', () => {
      expect(fs.readdirSync(snapshots).sort()).toEqual(['iter-0000005.safetensors', 'iter-0000010.safetensors', 'iter-0000015.safetensors']);
      expect(info(path.join(snapshots, 'iter-0000010.safetensors'))).toMatchObject({ iteration: 10, resumable: false });
      const mean = path.join(dir, 'mean.safetensors');
      const averaged = rnn(['average', snapshots, '--last', '2', '--out', mean]);
      expect(averaged.code).toBe(0);
      expect(averaged.stdout).toBe('');
      expect(info(mean).iteration).toBe(15);
      const sample = rnn(['sample', '--checkpoint', mean, '--length', '20', '--seed', '1']);
      expect(sample.code).toBe(0);
      expect([...sample.stdout].length).toBeGreaterThanOrEqual(20);
    });

    test('a snapshot holds the raw weights (the latest checkpoint\'s optimizer.iterate.*), not the tail\'s mean', () => {
      const latest = readCheckpoint(path.join(ckpt, 'play.safetensors'));
      const snapshot = readCheckpoint(path.join(snapshots, 'iter-0000015.safetensors'));
      expect(progressOf(path.join(ckpt, 'play.safetensors')).averaged).toBeGreaterThan(0);
      const names = [...snapshot.tensors.keys()];
      expect(names).toContain('decoder.weight');
      expect(names.every((name) => !name.startsWith('optimizer.') && !name.startsWith('state.'))).toBe(true);
      for (const name of names) {
        expect(snapshot.tensors.get(name)!.equals(latest.tensors.get(`optimizer.iterate.${name}`)!)).toBe(true);
        expect(snapshot.tensors.get(name)!.equals(latest.tensors.get(name)!)).toBe(false); // the mean differs
      }
    });

    test('--log: one JSON line per evaluation, appended, with the keys and learning rates our engine writes', () => {
      const lines = fs.readFileSync(torchLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      const ours = fs.readFileSync(oursLog, 'utf8').trim().split('\n').map((line) => JSON.parse(line));
      expect(lines[0]).toEqual({ earlier: 'run' });
      expect(lines.slice(1).map((l) => l.iteration)).toEqual([5, 10, 15]);
      expect(ours.map((l) => l.iteration)).toEqual([5, 10, 15]);
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

    test('a second run under the name is refused without --overwrite, and changes no file', () => {
      const before = fs.readdirSync(ckpt, { recursive: true }).map(String).sort();
      const again = rnn(['train', corpus, ...SMALL, ...TORCH, '--max-iters', '5', '--checkpoint-dir', ckpt], TIMEOUT);
      expect(again.code).toBe(2);
      expect(again.stdout).toBe('');
      expect(again.stderr).toMatch(/^rnn: a run is saved under --name play already: .*play\.safetensors \(iteration 15, saved .*\); continue it with --resume, start another with --name, or replace it with --overwrite\n$/);
      expect(fs.readdirSync(ckpt, { recursive: true }).map(String).sort()).toEqual(before);
      expect(info(path.join(ckpt, 'play.safetensors')).iteration).toBe(15);
    }, 150000);

    test('--overwrite replaces the run whole: new checkpoints, none of the old snapshots left', () => {
      const run = rnn(['train', corpus, ...SMALL, ...TORCH, '--max-iters', '5', '--eval-every', '5', '--checkpoint-dir', ckpt,
        '--snapshots', '--overwrite', '--seed', '7'], TIMEOUT);
      expect(run.code).toBe(0);
      expect(run.stderr).toMatch(/--overwrite: removed the replaced run's best checkpoint and snapshots \(4 files\)/);
      expect(fs.readdirSync(snapshots)).toEqual(['iter-0000005.safetensors']);
      for (const file of ['play.safetensors', 'play.best.safetensors']) {
        expect(info(path.join(ckpt, file))).toMatchObject({ iteration: 5, train: { seed: 7 } });
      }
    }, 150000);
  });

  describe('SIGINT mid-run', () => {
    const { dir, corpus } = tempWorkspace();
    // The same run interrupted and resumed, and whole; its own temporary folder, to see it left empty.
    const cut = path.join(dir, 'cut'), whole = path.join(dir, 'whole'), temp = path.join(dir, 'tmp');
    const flags = [corpus, ...SMALL, '--engine', 'pytorch', '--nproc', '2', '--max-iters', '120', '--eval-every', '5', '--dropout', '0.2'];
    const env = { TMPDIR: temp };

    test('exits 130 with a resumable checkpoint and no temporary file; --resume ends where the uninterrupted run does', async () => {
      fs.mkdirSync(temp);
      let signalled = false;
      const interrupted = await rnnAsync(['train', ...flags, '--checkpoint-dir', cut], {
        env,
        onStderr: (soFar, child) => {
          if (!signalled && /rnn: iteration 20 /.test(soFar)) {
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
      expect(stopped.iteration).toBeGreaterThanOrEqual(20);
      expect(stopped.iteration).toBeLessThan(120);
      // The checkpoints alone: no .tmp, no lock; and nothing left in the temporary folder.
      expect(fs.readdirSync(cut).sort()).toEqual(['play.best.safetensors', 'play.safetensors']);
      expect(fs.readdirSync(temp)).toEqual([]);

      const resumed = rnn(['train', ...flags, '--checkpoint-dir', cut, '--resume'], { env, ...TIMEOUT });
      expect(resumed.code).toBe(0);
      expect(resumed.stderr).toContain(`resuming ${latest} at iteration ${stopped.iteration}`);
      expect(info(latest).iteration).toBe(120);
      expect(rnn(['train', ...flags, '--checkpoint-dir', whole, '--quiet'], { env, ...TIMEOUT }).code).toBe(0);
      expect(fs.readdirSync(temp)).toEqual([]);
      // The same masks (seeded by the iteration and the rank), weights, moments, state and stream
      // cursor: the resumed run ends on the weights of the run that was never stopped, bit for bit.
      expect(tensorsOf(latest).equals(tensorsOf(path.join(whole, 'play.safetensors')))).toBe(true);
    }, 240000);
  });
});
