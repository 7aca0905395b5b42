// Faults while training: signals, SIGKILL at random points of checkpoint writing, a full disk, a
// read-only folder, two runs on one name, a closed pipe. Nothing saved before is ever lost.

import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { loadCheckpoint, restoreModel } from '../../src/checkpoint/checkpoint';
import { readCorpusFile, splitCorpus } from '../../src/data/corpus';
import { Model } from '../../src/engine/model';
import { Evaluator } from '../../src/engine/trainer';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { BIN, ROOT, TINY, canMount, expectRefusal, expectUnchanged, rnn, rnnAsync, snapshot, tempDir } from './helpers';

const work = tempDir();
const corpus = path.join(work, 'play.txt');
const lines: string[] = [];
for (let i = 0; i < 200; i++) lines.push(`${['ROMEO', 'JULIET', 'NURSE'][i % 3]}: O gentle night ${i % 7}, thy stars are kind.`);
fs.writeFileSync(corpus, lines.join('\n'));

const leftovers = (dir: string): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp') || f.endsWith('.lock'));

/** Re-measures a checkpoint's validation loss from its own weights, on the reference backend. */
async function reEvaluate(file: string): Promise<{ saved: number; measured: number }> {
  const ckpt = loadCheckpoint(file, { weightsOnly: true });
  const { train } = ckpt.meta;
  const split = splitCorpus(readCorpusFile(corpus), train.valFraction, train.seqLen + 1);
  const model = new Model(new ReferenceBackend('float32'), ckpt.meta.model);
  restoreModel(ckpt, model);
  const measured = await new Evaluator(model, split.val, train.batchSize, train.seqLen).meanLoss();
  return { saved: ckpt.meta.progress.lastValLoss!, measured };
}

describe('SIGINT', () => {
  it('a second SIGINT during the save exits 130 at once, leaving the previous checkpoint whole', async () => {
    const dir = path.join(work, 'sigint2');
    let sent = 0;
    // Steps of ~100 ms: the second SIGINT, sent when the first is acknowledged, lands before
    // or during the save that the first asked for.
    const flags = ['--backend', 'reference', '--layers', '1', '--hidden', '256', '--embedding', '8', '--seq-len', '8', '--batch', '4', '--eval-every', '5'];
    const run = await rnnAsync(['train', corpus, ...flags, '--max-iters', '1000000', '--checkpoint-dir', dir], {
      onStderr: (soFar, child) => {
        if (sent === 0 && /iter 5 \|/.test(soFar)) {
          sent = 1;
          // Once iteration 5's save is on disk, interrupt the steps after it.
          const poll = setInterval(() => {
            if (!fs.existsSync(path.join(dir, 'play.best.safetensors'))) return;
            clearInterval(poll);
            child.kill('SIGINT');
          }, 5);
        } else if (sent === 1 && /interrupt: saving/.test(soFar)) {
          sent = 2;
          child.kill('SIGINT');
        }
      },
    });
    expect(run.code).toBe(130);
    expect(run.stderr).toMatch(/interrupted again; exiting without waiting for the save/);
    const latest = path.join(dir, 'play.safetensors');
    expect(loadCheckpoint(latest).meta.progress.iteration).toBe(5); // the interrupted save was abandoned whole
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('SIGKILL while checkpoints are written', () => {
  // A model saved (2 files of ~1 MB, fsynced) and evaluated every iteration, with a step of a
  // few ms: much of the run is spent inside saveCheckpoint, so random kills land in it (the
  // temp files they leave count the kills that landed between a save's open and its rename).
  const TRIALS = 50;
  const FLAGS = ['--backend', 'reference', '--layers', '1', '--hidden', '128', '--embedding', '8', '--seq-len', '4', '--batch', '1',
    '--val-fraction', '0.005', '--eval-every', '1', '--save-every', '1', '--max-iters', '1000000', '-q'];

  function trial(dir: string, delayMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, 'train', corpus, ...FLAGS, '--checkpoint-dir', dir], { cwd: ROOT, stdio: 'ignore' });
      const latest = path.join(dir, 'play.safetensors');
      const poll = setInterval(() => {
        if (!fs.existsSync(latest)) return;
        clearInterval(poll);
        setTimeout(() => child.kill('SIGKILL'), delayMs);
      }, 5);
      child.on('error', reject);
      child.on('exit', () => {
        clearInterval(poll);
        resolve();
      });
    });
  }

  it(`${TRIALS} kills at random points leave checkpoints that load and re-evaluate to their saved loss`, async () => {
    let seed = 12345;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const dirs: string[] = [];
    for (let t = 0; t < TRIALS; t += 2) {
      const pair = [0, 1].map((k) => path.join(work, `kill${t + k}`));
      dirs.push(...pair);
      await Promise.all(pair.map((dir) => trial(dir, Math.floor(random() * 150))));
    }
    let tempsLeft = 0;
    for (const dir of dirs) {
      for (const name of ['play.safetensors', 'play.best.safetensors']) {
        if (name.includes('best') && !fs.existsSync(path.join(dir, name))) continue; // killed before its first best
        const { saved, measured } = await reEvaluate(path.join(dir, name));
        expect(Math.abs(measured - saved)).toBeLessThan(1e-4 * saved);
      }
      tempsLeft += fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
    }
    // Some kills land between the temp file's creation and its rename: the next run clears them.
    const dir = dirs.find((d) => fs.readdirSync(d).some((f) => f.endsWith('.tmp'))) ?? dirs[0];
    const next = rnn(['train', corpus, ...FLAGS.filter((f, i) => i < FLAGS.length - 3), '--max-iters', '1', '--checkpoint-dir', dir, '--name', 'play', '--overwrite']);
    expect(next.code).toBe(0);
    expect(next.stderr).toMatch(/warning: taking over the stale lock .*play.lock of PID \d+, which is no longer running/);
    expect(leftovers(dir)).toEqual([]);
    process.stdout.write(`SIGKILL trials: ${TRIALS}, temp files left by kills: ${tempsLeft}\n`);
  });
});

describe('a full disk', () => {
  /** An old, small checkpoint under the name a bigger model then fails to save over. */
  function previous(dir: string): Map<string, Buffer> {
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '5', '--checkpoint-dir', dir, '-q']).code).toBe(0);
    return snapshot(dir);
  }
  const BIG = ['--backend', 'reference', '--layers', '1', '--hidden', '96', '--embedding', '8', '--seq-len', '8', '--batch', '2', '--max-iters', '5', '--eval-every', '5'];

  it('ulimit -f: the save fails with one line, the previous checkpoint intact, no temp file', () => {
    const dir = path.join(work, 'fsize');
    const before = previous(dir);
    // --overwrite: the old run goes only once the new one's first save is whole, which it never is here.
    const run = spawnSync('bash', ['-c', `ulimit -f 64; exec "${process.execPath}" "${BIN}" train "${corpus}" ${BIG.join(' ')} --overwrite --checkpoint-dir "${dir}" -q`], { encoding: 'utf8' });
    expectRefusal({ code: run.status, stdout: run.stdout, stderr: run.stderr }, 1, /cannot save .*play.safetensors: the file is larger than this process may write \(ulimit -f\) \(EFBIG\); .* still holds the previous checkpoint/);
    expectUnchanged(dir, before);
  });

  (canMount() ? it : it.skip)('a full tmpfs: ENOSPC, the previous checkpoint intact, no temp file', () => {
    const dir = path.join(work, 'tmpfs');
    fs.mkdirSync(dir);
    expect(spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', dir]).status).toBe(0);
    try {
      const before = previous(dir);
      const run = rnn(['train', corpus, ...BIG, '--overwrite', '--checkpoint-dir', dir, '-q']);
      expectRefusal(run, 1, /cannot save .*play.safetensors: no space left on the device \(ENOSPC\); .* still holds the previous checkpoint/);
      expectUnchanged(dir, before);
    } finally {
      spawnSync('umount', [dir]);
    }
  });
});

describe('a checkpoint folder that cannot be written', () => {
  // CI runs as root, where mode bits do not stop writes: a read-only bind mount and chattr +i do.
  (canMount() ? it : it.skip)('a read-only bind mount is refused before training', () => {
    const dir = path.join(work, 'robind');
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '2', '--checkpoint-dir', dir, '-q']).code).toBe(0);
    const before = snapshot(dir);
    expect(spawnSync('mount', ['--bind', dir, dir]).status).toBe(0);
    try {
      expect(spawnSync('mount', ['-o', 'remount,ro,bind', dir]).status).toBe(0);
      const run = rnn(['train', corpus, ...TINY, '--max-iters', '2', '--checkpoint-dir', dir]);
      expectRefusal(run, 2, /--checkpoint-dir .* is on a read-only file system/);
    } finally {
      spawnSync('umount', [dir]);
    }
    expectUnchanged(dir, before);
  });

  const immutable = spawnSync('bash', ['-c', `d=$(mktemp -d -p "${work}") && chattr +i "$d" && chattr -i "$d"`]).status === 0;
  (immutable ? it : it.skip)('chattr +i is refused before training', () => {
    const dir = path.join(work, 'immutable');
    expect(rnn(['train', corpus, ...TINY, '--max-iters', '2', '--checkpoint-dir', dir, '-q']).code).toBe(0);
    const before = snapshot(dir);
    spawnSync('chattr', ['+i', dir]);
    try {
      const run = rnn(['train', corpus, ...TINY, '--max-iters', '2', '--checkpoint-dir', dir]);
      expectRefusal(run, 2, /--checkpoint-dir .* is not writable \(EPERM\)/);
    } finally {
      spawnSync('chattr', ['-i', dir]);
    }
    expectUnchanged(dir, before);
  });
});

describe('two runs on one checkpoint name', () => {
  it('the second refuses at once, naming the first PID', async () => {
    const dir = path.join(work, 'lock');
    let second: ReturnType<typeof rnn> | null = null;
    let firstPid = 0;
    const first = await rnnAsync(['train', corpus, ...TINY, '--max-iters', '1000000', '--checkpoint-dir', dir], {
      onStderr: (soFar, child) => {
        if (!second && /iter 5 \|/.test(soFar)) {
          firstPid = child.pid!;
          second = rnn(['train', corpus, ...TINY, '--max-iters', '3', '--checkpoint-dir', dir]);
          child.kill('SIGINT');
        }
      },
    });
    expect(first.code).toBe(130);
    expectRefusal(second!, 2, new RegExp(`play.safetensors is being written by another rnn train \\(PID ${firstPid}\\)`));
    expect(leftovers(dir)).toEqual([]);
  });
});

describe('a closed stdout', () => {
  it('train --json into a closed pipe still saves, and exits 0', () => {
    const dir = path.join(work, 'epipe');
    const run = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" train "${corpus}" ${TINY.join(' ')} --max-iters 3 --checkpoint-dir "${dir}" --json -q | true; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('rc=0');
    expect(run.stderr).toBe('');
    expect(loadCheckpoint(path.join(dir, 'play.safetensors')).meta.progress.iteration).toBe(3);
  });
  it('sample into a closed pipe exits 0 quietly', () => {
    const dir = path.join(work, 'epipe');
    const run = spawnSync('bash', ['-c', `"${process.execPath}" "${BIN}" sample --checkpoint-dir "${dir}" --length 200000 --backend reference -q | head -c 10 >/dev/null; echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    expect(run.stdout.trim()).toBe('rc=0');
    expect(run.stderr).toBe('');
  });
});
