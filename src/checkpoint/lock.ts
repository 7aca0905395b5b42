// One writer per checkpoint name: a lock file beside the checkpoints, naming the writer's PID.
//
// `rnn train` takes NAME.lock in the checkpoint folder before it reads the corpus, so a second
// run writing the same name is refused at once (naming the first's PID), not after an hour of
// training that would then overwrite the other's checkpoints. Creating the lock also proves the
// folder is writable before any work is done. A lock whose process is gone (a SIGKILL, a power
// cut) is stale: it is taken over with a warning, and the temporary files that run left behind
// are removed.

import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';
import { EXTENSION } from './checkpoint';

export interface CheckpointLock {
  readonly path: string;
  release(): void;
}

/** Makes dir (as mkdir -p) or says, in one line, why it cannot hold checkpoints. */
export function prepareCheckpointDir(dir: string): void {
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw dirError(dir, err);
  }
  if (!fs.statSync(dir).isDirectory()) throw new UsageError(`--checkpoint-dir ${dir} is a file, not a directory; give a directory`);
}

function dirError(dir: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST' || code === 'ENOTDIR') return new UsageError(`--checkpoint-dir ${dir} is a file (or inside one), not a directory; give a directory`);
  if (code === 'EROFS') return new UsageError(`--checkpoint-dir ${dir} is on a read-only file system; give a writable --checkpoint-dir`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`--checkpoint-dir ${dir} is not writable (${code}); give a writable --checkpoint-dir`);
  if (code === 'ENOSPC' || code === 'EDQUOT') return new UsageError(`--checkpoint-dir ${dir}: no space left on the device (${code}); free some space or give another --checkpoint-dir`);
  return new UsageError(`--checkpoint-dir ${dir} cannot hold checkpoints (${code ?? String(err)})`);
}

/** Whether a process with this PID runs (EPERM: it does, as another user). */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes dir/NAME.lock for this process; refuses when a running process holds it, takes it over
 * (calling warn) when its process is gone. Released by release() and, as a last resort, when
 * the process exits (a second Ctrl-C exits at once).
 */
export function lockCheckpoint(dir: string, name: string, warn: (message: string) => void): CheckpointLock {
  prepareCheckpointDir(dir);
  const lockPath = path.join(dir, `${name}.lock`);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = fs.openSync(lockPath, 'wx');
      try {
        fs.writeSync(fd, `${process.pid}\n`);
      } finally {
        fs.closeSync(fd);
      }
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) throw lockError(dir, lockPath, err);
    }
    const holder = readPid(lockPath);
    if (holder !== null && holder !== process.pid && isRunning(holder)) {
      throw new UsageError(`${path.join(dir, name + EXTENSION)} is being written by another rnn train (PID ${holder}); ` +
        `wait for it to finish, or train under another --name (lock: ${lockPath})`);
    }
    warn(`taking over the stale lock ${lockPath}${holder === null ? '' : ` of PID ${holder}, which is no longer running`}`);
    removeStaleTemps(dir, name);
    try {
      fs.unlinkSync(lockPath);
    } catch {
      // Another run took it over first; the retry will say so.
    }
  }
  let held = true;
  const release = (): void => {
    if (!held) return;
    held = false;
    process.off('exit', release);
    try {
      if (readPid(lockPath) === process.pid) fs.unlinkSync(lockPath);
    } catch {
      // Already gone.
    }
  };
  process.on('exit', release);
  return { path: lockPath, release };
}

function lockError(dir: string, lockPath: string, err: unknown): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EEXIST') return new UsageError(`${lockPath} was taken by another rnn train at the same moment; wait for it, or train under another --name`);
  return dirError(dir, err);
}

function readPid(lockPath: string): number | null {
  try {
    const pid = Number(fs.readFileSync(lockPath, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Temporary files of NAME's checkpoints (data/atomic.ts names them .FILE.PID.RANDOM.tmp) whose writer is gone. */
function removeStaleTemps(dir: string, name: string): void {
  const prefixes = [`.${name}${EXTENSION}.`, `.${name}.best${EXTENSION}.`];
  for (const entry of fs.readdirSync(dir)) {
    const prefix = prefixes.find((p) => entry.startsWith(p));
    if (!prefix || !entry.endsWith('.tmp')) continue;
    const pid = Number(entry.slice(prefix.length).split('.')[0]);
    if (Number.isSafeInteger(pid) && pid > 0 && !isRunning(pid)) {
      try {
        fs.unlinkSync(path.join(dir, entry));
      } catch {
        // Gone already.
      }
    }
  }
}
