// Atomic writes: the target holds the old bytes or the new ones, never half, and no temp file stays.

import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { writeFileAtomic } from '../../src/data/atomic';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-save-'));
});
afterEach(() => {
  jest.restoreAllMocks();
  fs.rmSync(dir, { recursive: true, force: true });
});

const tempFiles = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

test('writes a new file and replaces an old one, leaving no temporary file', () => {
  const target = path.join(dir, 'model.safetensors');
  writeFileAtomic(target, Buffer.from('first'));
  expect(fs.readFileSync(target, 'utf8')).toBe('first');
  writeFileAtomic(target, Buffer.from('second, longer'));
  expect(fs.readFileSync(target, 'utf8')).toBe('second, longer');
  writeFileAtomic(target, Buffer.alloc(0));
  expect(fs.readFileSync(target).length).toBe(0);
  expect(fs.readdirSync(dir)).toEqual(['model.safetensors']);
});

test('a failed rename leaves the target untouched and removes the temporary file', () => {
  // rename(2) cannot replace a non-empty directory with a file, so the last step fails.
  const target = path.join(dir, 'model.safetensors');
  fs.mkdirSync(target);
  fs.writeFileSync(path.join(target, 'keep'), 'old');
  expect(() => writeFileAtomic(target, Buffer.from('new'))).toThrow(/EISDIR|ENOTEMPTY|EEXIST/);
  expect(fs.readFileSync(path.join(target, 'keep'), 'utf8')).toBe('old');
  expect(tempFiles()).toEqual([]);
});

test('a write that fails half way keeps the old file intact and removes the temporary file', () => {
  const target = path.join(dir, 'model.safetensors');
  fs.writeFileSync(target, 'old checkpoint');
  // Spy on the module object itself: the `import * as` namespace is a frozen copy of getters.
  const nodeFs: typeof fs = jest.requireActual('fs');
  const realWrite = nodeFs.writeSync;
  jest.spyOn(nodeFs, 'writeSync').mockImplementationOnce(((fd: number, buffer: Buffer, offset: number) => {
    realWrite(fd, buffer, offset, 3); // a few bytes reach the temp file, then the disk fills
    const err: NodeJS.ErrnoException = new Error('ENOSPC: no space left on device, write');
    err.code = 'ENOSPC';
    throw err;
  }) as unknown as typeof fs.writeSync);
  expect(() => writeFileAtomic(target, Buffer.from('new checkpoint'))).toThrow(/ENOSPC/);
  expect(fs.readFileSync(target, 'utf8')).toBe('old checkpoint');
  expect(tempFiles()).toEqual([]);
});

test('a missing directory fails with the path in the message', () => {
  const target = path.join(dir, 'no', 'such', 'model.safetensors');
  expect(() => writeFileAtomic(target, Buffer.from('x'))).toThrow(/ENOENT/);
});

test('SIGKILL at random moments during repeated saves never leaves a partial target', async () => {
  // A child process saves 4 MiB images, each filled with one byte value, back to back; we kill it
  // at a random moment, several times over. The target must then be one whole image: the right
  // length and a single value. (A stale .tmp may remain after SIGKILL, since no cleanup can run;
  // it is never the target.) A writer that wrote the target in place fails this within a few
  // rounds: each kill has a fair chance of landing mid-write.
  const target = path.join(dir, 'model.safetensors');
  const imageBytes = 4 << 20;
  const rounds = 8;
  const saveModule = path.resolve(__dirname, '../../src/data/atomic.ts');
  const saveJs = ts.transpileModule(fs.readFileSync(saveModule, 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const childSource = `
    const exports = {};
    new Function('exports', 'require', ${JSON.stringify(saveJs)})(exports, require);
    for (let k = 1; ; k = (k % 250) + 1) {
      exports.writeFileAtomic(${JSON.stringify(target)}, Buffer.alloc(${imageBytes}, k));
      if (k === 1) process.stdout.write('.');
    }
  `;

  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, ['-e', childSource], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    // Once one save has landed, kill at a random point within the next few saves.
    child.stdout.once('data', () => setTimeout(() => child.kill('SIGKILL'), Math.random() * 40));
    const signal = await exited;
    expect({ signal, stderr }).toEqual({ signal: 'SIGKILL', stderr: '' });

    const image = fs.readFileSync(target);
    expect(image.length).toBe(imageBytes);
    expect(image.every((b) => b === image[0])).toBe(true);
  }
});
