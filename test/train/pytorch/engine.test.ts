// `rnn train --engine pytorch` (src/train/pytorch/): DDP is the same mathematics, the same model
// as ours, our checkpoints both ways, and each refusal in one line with nothing written.
//
// The checks that train need /usr/bin/python3 with torch (CI installs Debian's python3-torch);
// without it they are skipped by name, with the reason, and the refusals that need no torch still run.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadCheckpoint } from '../../../src/checkpoint/checkpoint';
import { ROOT, rnn, tempWorkspace, tensorsOf } from '../../cli/helpers';

import { PYTHON, SKIPPED, withTorch } from './torch';

/** A small model, two layers so the dropout path between them exists, on the workspace's generated play. */
const SMALL = ['--layers', '2', '--hidden', '8', '--embedding', '5', '--seq-len', '8', '--batch', '4'];

interface History { iteration: number; trainLoss: number; valLoss?: number }

function historyOf(file: string): History[] {
  const bytes = fs.readFileSync(file);
  const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
  return JSON.parse(header.__metadata__.progress).history as History[];
}

/** Exit 2, one line on stderr that matches, nothing on stdout, and no checkpoint folder made. */
function expectRefused(args: string[], pattern: RegExp, env: Record<string, string> = {}): void {
  const { dir, corpus } = tempWorkspace();
  const checkpoints = path.join(dir, 'ckpt');
  const run = rnn(['train', corpus, '--checkpoint-dir', checkpoints, '--max-iters', '2', ...args], { env });
  expect(run.code).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr.trim().split('\n')).toHaveLength(1);
  expect(run.stderr).toMatch(pattern);
  expect(fs.existsSync(checkpoints)).toBe(false);
}

describe('--engine pytorch refuses what it cannot honour, before anything is written', () => {
  test.each([
    [['--engine', 'pytorch', '--cell', 'peephole'], /--cell peephole has no PyTorch module/],
    [['--engine', 'pytorch', '--zoneout', '0.1'], /no zoneout/],
    [['--engine', 'pytorch', '--backend', 'wasm'], /--backend picks the kernels of --engine rnn/],
    [['--engine', 'pytorch', '--gpu-mode', 'cpu'], /--gpu-mode is a gpu\.js option/],
    [['--engine', 'pytorch', '--sample-every', '5'], /--sample-every is not available with --engine pytorch/],
    [['--engine', 'pytorch', '--nnodes', '2'], /--nnodes 2 needs --node-rank .* and --rdzv-endpoint/],
    [['--engine', 'pytorch', '--nnodes', '2', '--node-rank', '2', '--rdzv-endpoint', 'h:29500'], /--node-rank 2 must be below --nnodes 2/],
    [['--nproc', '2'], /--nproc is a flag of --engine pytorch/],
  ])('%j', (args, pattern) => expectRefused(args, pattern));

  test('no such Python: the install command', () => {
    expectRefused(['--engine', 'pytorch'], /RNN_PYTHON=\/nonexistent\/python3 is not an executable file.*apt-get install python3-torch/,
      { RNN_PYTHON: '/nonexistent/python3' });
  });

  test('a Python without torch: the install command', () => {
    // python3 -S leaves site-packages (where Debian's torch lives) off the path.
    const fake = fakePython('exec /usr/bin/python3 -S "$@"');
    expectRefused(['--engine', 'pytorch'], /cannot import torch .*apt-get install python3-torch/, { RNN_PYTHON: fake });
  });
});

/** An executable `python3` in a folder of its own (no torchrun beside it), running `body`. */
function fakePython(body: string, extra: Record<string, string> = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-fake-python-'));
  const file = path.join(dir, 'python3');
  fs.writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  for (const [name, text] of Object.entries(extra)) fs.writeFileSync(path.join(dir, name), text);
  return file;
}

withTorch(`--engine pytorch with torch${SKIPPED}`, () => {
  test('a torch without torch.distributed: the install command', () => {
    const fake = fakePython(`PYTHONPATH="$(dirname "$0")" exec ${PYTHON} "$@"`, {
      'sitecustomize.py': 'import torch.distributed\ntorch.distributed.is_available = lambda: False\n',
    });
    expectRefused(['--engine', 'pytorch'], /needs torch\.distributed, and the torch .* was built without it.*apt-get install/, { RNN_PYTHON: fake });
  });

  test('no torchrun beside Python or on PATH: the install command', () => {
    const fake = fakePython(`exec ${PYTHON} "$@"`);
    expectRefused(['--engine', 'pytorch'], /needs torchrun, and there is none beside .* or on PATH.*apt-get install/,
      { RNN_PYTHON: fake, PATH: path.dirname(fake) }); // bin/rnn is run by node's full path: PATH serves torchrun's search alone
  });

  // Its masks are drawn by its own generator (not ours), so the check is that they act, are
  // recorded, and carry across --resume step for step; ddp_same.py checks that ranks share them.
  test('--weight-drop: trains, is recorded, changes the run, and --resume continues it exactly', () => {
    const { dir, corpus } = tempWorkspace();
    const ckpt = (name: string): string => path.join(dir, name);
    const latest = (name: string): string => path.join(ckpt(name), 'play.safetensors');
    const train = (name: string, extra: string[]): number | null =>
      rnn(['train', corpus, ...SMALL, '--engine', 'pytorch', '--lr-schedule', 'constant', '--eval-every', '3', '-q', '--checkpoint-dir', ckpt(name), ...extra]).code;
    expect(train('straight', ['--weight-drop', '0.3', '--max-iters', '6'])).toBe(0);
    expect(train('plain', ['--max-iters', '6'])).toBe(0);
    expect(train('split', ['--weight-drop', '0.3', '--max-iters', '3'])).toBe(0);
    expect(train('split', ['--resume', '--max-iters', '6'])).toBe(0);
    expect(loadCheckpoint(latest('straight')).meta.train.weightDrop).toBe(0.3);
    expect(loadCheckpoint(latest('split')).meta.train.weightDrop).toBe(0.3);
    expect(tensorsOf(latest('straight')).equals(tensorsOf(latest('plain')))).toBe(false);
    expect(tensorsOf(latest('split')).equals(tensorsOf(latest('straight')))).toBe(true);
  });

  test("--weight-drop's fused recurrence (torch._VF with W_hh ⊙ mask) follows the PyTorch witness's 3 steps, every cell (1e-12)", () => {
    const run = spawnSync(PYTHON, [path.join(ROOT, 'test/train/pytorch/weight_drop_witness.py')], { encoding: 'utf8', timeout: 120000 });
    if (run.status !== 0) throw new Error(`weight_drop_witness.py failed (${run.status}): ${run.stderr.slice(-2000)}`);
    const worst: Record<string, { loss: number; weights: number }> = JSON.parse(run.stdout.trim().split('\n').pop()!);
    expect(Object.keys(worst).sort()).toEqual(['gru', 'lstm', 'rnn-relu', 'rnn-tanh']);
    for (const { loss, weights } of Object.values(worst)) {
      expect(loss).toBeLessThan(1e-12);
      expect(weights).toBeLessThan(1e-12);
    }
  });

  describe('DDP is the same mathematics: 2 processes and 1 on the same global batch, 20 steps', () => {
    let losses: Record<string, { one: number[]; two: number[] }> = {};
    beforeAll(() => {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-ddp-'));
      const run = spawnSync(PYTHON, [
        // --log_dir: inside `out`, or torchrun leaves a torchelastic_* folder in the temporary folder.
        path.join(ROOT, 'src/train/pytorch/torchrun.py'), '--nproc_per_node', '2', '--monitor_interval', '0.5', '--log_dir', path.join(out, 'torchrun'),
        '--nnodes', '1', '--rdzv_backend', 'c10d',
        '--rdzv_endpoint', 'localhost:0', path.join(ROOT, 'test/train/pytorch/ddp_same.py'), out,
      ], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: '1', GLOO_SOCKET_IFNAME: 'lo' }, timeout: 120000 });
      fs.rmSync(out, { recursive: true, force: true });
      if (run.status !== 0) throw new Error(`ddp_same.py failed (${run.status}): ${run.stderr.slice(-2000)}`);
      losses = JSON.parse(run.stdout.trim().split('\n').pop()!).losses;
    }, 150000);

    test.each(['lstm', 'gru', 'rnn-tanh', 'rnn-relu', 'lstm weight drop 0.3', 'gru weight drop 0.3'])('%s: losses agree to 1e-5', (cell) => {
      const { one, two } = losses[cell];
      expect(one).toHaveLength(20);
      expect(two).toHaveLength(20);
      for (let i = 0; i < 20; i++) expect(Math.abs(one[i] - two[i])).toBeLessThanOrEqual(1e-5);
    });
  });

  // One chain per cell covers both directions: ours → --engine pytorch --nproc 2 --resume (10 steps,
  // against ours resuming the same checkpoint) → rnn sample / eval on its checkpoint → ours --resume of it.
  describe.each(['lstm', 'gru'])('%s: our checkpoints, both ways', (cell) => {
    const { dir, corpus } = tempWorkspace();
    const ckpt = path.join(dir, 'ckpt');
    const file = (name: string): string => path.join(ckpt, `${name}.safetensors`);
    const common = [corpus, '--checkpoint-dir', ckpt, '--quiet'];

    test('from one checkpoint, ours (reference backend) and --engine pytorch --nproc 2 give the same losses for 10 steps (1e-4)', () => {
      const start = rnn(['train', ...common, ...SMALL, '--cell', cell, '--backend', 'reference', '--name', 'ours', '--max-iters', '6', '--eval-every', '3']);
      expect(start.code).toBe(0);
      fs.copyFileSync(file('ours'), file('torch'));
      const ours = rnn(['train', ...common, '--name', 'ours', '--resume', '--backend', 'reference', '--max-iters', '16', '--eval-every', '1']);
      expect(ours.code).toBe(0);
      const torch = rnn(['train', ...common, '--name', 'torch', '--resume', '--engine', 'pytorch', '--nproc', '2', '--max-iters', '16', '--eval-every', '1', '--json'],
        { timeoutMs: 120000 });
      expect(torch.stderr).toBe('');
      expect(torch.code).toBe(0);
      expect(JSON.parse(torch.stdout)).toMatchObject({ iterations: 16, stop: 'max-iters', engine: 'pytorch', processes: 2 });
      const a = historyOf(file('ours')).filter((p) => p.iteration > 6);
      const b = historyOf(file('torch')).filter((p) => p.iteration > 6);
      expect(b.map((p) => p.iteration)).toEqual([7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
      expect(a.map((p) => p.iteration)).toEqual(b.map((p) => p.iteration));
      for (let i = 0; i < a.length; i++) {
        expect(Math.abs(a[i].trainLoss - b[i].trainLoss)).toBeLessThanOrEqual(1e-4);
        // Validation scores the tail's running mean from iteration 12 on: averaging agrees too.
        expect(Math.abs(a[i].valLoss! - b[i].valLoss!)).toBeLessThanOrEqual(1e-4);
      }
    }, 150000);

    test('rnn sample and rnn eval read its checkpoint; eval measures the validation loss it recorded', () => {
      const sample = rnn(['sample', '--checkpoint', file('torch'), '--length', '40', '--seed', '1']);
      expect(sample.code).toBe(0);
      expect([...sample.stdout].length).toBeGreaterThanOrEqual(40);
      const evaluated = rnn(['eval', corpus, '--checkpoint', file('torch'), '--split', 'val', '--backend', 'reference', '--json']);
      expect(evaluated.code).toBe(0);
      const recorded = historyOf(file('torch')).pop()!.valLoss!;
      expect(Math.abs(JSON.parse(evaluated.stdout).lossNats - recorded)).toBeLessThanOrEqual(1e-4);
    });

    test('ours --resume continues the run --engine pytorch saved', () => {
      const more = rnn(['train', ...common, '--name', 'torch', '--resume', '--backend', 'reference', '--max-iters', '20', '--json']);
      expect(more.code).toBe(0);
      expect(JSON.parse(more.stdout)).toMatchObject({ iterations: 20, stop: 'max-iters' });
      expect(historyOf(file('torch')).pop()!.iteration).toBe(20);
    });
  });
});
