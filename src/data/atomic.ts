// Writes a file atomically: a crash or kill leaves the old file or the new one, never half of one.
//
// The recipe (write a temporary file beside the target, fsync it, rename it over the target, fsync
// the directory) relies on rename(2) replacing the target atomically within one filesystem, which
// is why the temporary file lives in the target's own directory. Synchronous on purpose: it also
// runs from a SIGINT handler, where an await may never resume.

import * as fs from 'fs';
import * as path from 'path';

/** Replaces `target` with `data`; on any error removes its temporary file and rethrows. */
export function writeFileAtomic(target: string, data: Buffer): void {
  const dir = path.dirname(target);
  // Hidden, unique per process and call, and ending in .tmp (ignored by git) so that a stale one
  // left by a SIGKILL is recognisable and never mistaken for a checkpoint.
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.${tempSuffix()}.tmp`);

  let fd: number | undefined;
  let created = false;
  try {
    fd = fs.openSync(temp, 'wx'); // wx: never follow or reuse an existing file
    created = true;
    let written = 0;
    while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written);
    // Without this the rename can reach the disk before the data, and a power cut leaves an
    // empty file under the target's name.
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(temp, target);
  } catch (err) {
    if (fd !== undefined) closeQuietly(fd);
    if (created) removeQuietly(temp);
    throw err;
  }
  syncDirectory(dir);
}

/** Makes the rename itself durable. Best effort: some platforms cannot open or fsync a directory. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // The new file is in place either way; only its survival of a power cut is less certain.
  } finally {
    if (fd !== undefined) closeQuietly(fd);
  }
}

function closeQuietly(fd: number): void {
  try {
    fs.closeSync(fd);
  } catch {
    // Already closed or invalid; nothing left to release.
  }
}

function removeQuietly(file: string): void {
  try {
    fs.unlinkSync(file);
  } catch {
    // Never created, or already gone.
  }
}

/** A random temp-name suffix. crypto is required here, not at the top: loading it costs `rnn sample`, which never saves, ~4 ms. */
function tempSuffix(): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { randomBytes } = require('crypto') as typeof import('crypto');
  return randomBytes(6).toString('hex');
}
