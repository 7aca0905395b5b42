// Shared by the reliability suite: run the real bin/rnn and hold it to the contract every
// failure keeps (exit code, exactly one line on stderr, no stack trace, checkpoints untouched).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Run, rnn } from '../cli/helpers';

export { rnn, rnnAsync, BIN, ROOT, TINY } from '../cli/helpers';

/** Every file under dir with its bytes: compared before and after a run that must change nothing. */
export function snapshot(dir: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  if (!fs.existsSync(dir)) return files;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    if (fs.statSync(file).isFile()) files.set(name, fs.readFileSync(file));
  }
  return files;
}

export function expectUnchanged(dir: string, before: Map<string, Buffer>): void {
  const after = snapshot(dir);
  expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
  for (const [name, bytes] of before) expect({ name, same: after.get(name)!.equals(bytes) }).toEqual({ name, same: true });
}

/** The refusal contract: the exit code, one `rnn: …` line on stderr matching `message`, no stack. */
export function expectRefusal(run: Run, code: number, message: RegExp): void {
  const lines = run.stderr.split('\n').filter((l) => l !== '');
  expect({ code: run.code, lines }).toEqual({ code, lines: [expect.stringMatching(message)] });
  expect(lines[0]).toMatch(/^rnn: /);
  expect(run.stderr).not.toMatch(/\n\s+at /); // no stack frames
}

export function tempDir(prefix = 'rnn-rel-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A safetensors image's header (parsed) and data section. */
export function splitImage(bytes: Buffer): { header: Record<string, unknown>; data: Buffer } {
  const n = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')), data: bytes.subarray(8 + n) };
}

/** A safetensors image from a header given as JSON text (not re-serialized: duplicates survive). */
export function joinImage(headerJson: string, data: Buffer): Buffer {
  const json = Buffer.from(headerJson, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, data]);
}

export function editHeader(bytes: Buffer, edit: (header: Record<string, any>) => void): Buffer {
  const { header, data } = splitImage(bytes);
  edit(header);
  return joinImage(JSON.stringify(header), data);
}

/** Is the machine able to mount (root with CAP_SYS_ADMIN, as CI and this container are)? */
export function canMount(): boolean {
  const dir = tempDir('rnn-mnt-');
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const ok = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]).status === 0;
  if (ok) spawnSync('umount', [dir]);
  fs.rmdirSync(dir);
  return ok;
}
