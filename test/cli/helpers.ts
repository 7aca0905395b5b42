// Runs the real bin/rnn (built into dist/ by `npm run build`) and captures what it prints.

import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'rnn');

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Where the spawned runs keep their measured training rates: one file per test process, not the
 * user's ~/.cache (a test that needs its own sets RNN_RATES_CACHE in `env`).
 */
export const RATES_CACHE = path.join(os.tmpdir(), `rnn-test-rates-${process.pid}.json`);

export function rnn(args: string[], opts: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): Run {
  const result: SpawnSyncReturns<string> = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd ?? ROOT,
    input: opts.input ?? '',
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', RNN_DEBUG: '', RNN_RATES_CACHE: RATES_CACHE, ...opts.env },
    timeout: opts.timeoutMs ?? 60000,
  });
  if (result.error) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A temporary folder with a small generated corpus (a seeded, Shakespeare-shaped pattern). */
export function tempWorkspace(): { dir: string; corpus: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-test-'));
  const lines: string[] = [];
  const names = ['ROMEO', 'JULIET', 'NURSE'];
  for (let i = 0; i < 120; i++) {
    lines.push(`${names[i % 3]}:`, `O gentle night, thy ${['stars', 'moon', 'dark'][i % 3]} are kind ${i % 7}.`, '');
  }
  const corpus = path.join(dir, 'play.txt');
  fs.writeFileSync(corpus, lines.join('\n'));
  return { dir, corpus };
}

/** Flags for a tiny, fast run on the reference backend. */
export const TINY = ['--backend', 'reference', '--layers', '1', '--hidden', '8', '--embedding', '4', '--seq-len', '8', '--batch', '4', '--eval-every', '5'];

/**
 * Starts bin/rnn without blocking the event loop (a test's own HTTP server must keep answering),
 * and resolves when it exits. `onStderr` sees stderr as it arrives, with the child to signal.
 */
export function rnnAsync(
  args: string[],
  opts: { env?: Record<string, string>; cwd?: string; input?: string; onStderr?: (soFar: string, child: ChildProcess) => void } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd ?? ROOT,
      env: { ...process.env, NO_COLOR: '', RNN_DEBUG: '', RNN_RATES_CACHE: RATES_CACHE, ...opts.env },
    });
    let stdout = '', stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      opts.onStderr?.(stderr, child);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(opts.input ?? '');
  });
}

/** The tensor bytes of a safetensors file, after its header (which holds timestamps): what two runs must agree on bit for bit. */
export function tensorsOf(file: string): Buffer {
  const bytes = fs.readFileSync(file);
  return bytes.subarray(8 + Number(bytes.readBigUInt64LE(0)));
}

/**
 * Writes training rates into a rates cache under the key a run of this shape on this machine looks
 * up, so that the size rule plans by known rates rather than by a measurement of a busy machine.
 */
export function seedRates(
  file: string, corpusText: string,
  run: { cell?: string; layers?: number; embedding: number; batch: number; seqLen: number; threads?: number; backend?: string },
  rates: Array<[hiddenSize: number, charsPerSecond: number]>,
): void {
  // Loaded here so a test that does not seed rates does not load the engine.
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const { ratesKey, storeRates } = require('../../src/engine/rates-cache') as typeof import('../../src/engine/rates-cache');
  const { version } = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const layers = run.layers ?? 2;
  const shape = {
    cell: (run.cell ?? 'gru') as never, layers, embeddingSize: run.embedding, vocabSize: new Set(corpusText).size, batchSize: run.batch, seqLen: run.seqLen,
  };
  const threads = run.threads && run.threads > 0 ? run.threads : os.availableParallelism();
  const key = ratesKey(shape, rates.map(([h]) => h), { name: run.backend ?? 'auto', threads }, version);
  const error = storeRates(file, {
    key, rates: rates.map(([hiddenSize, charsPerSecond]) => ({ layers, hiddenSize, charsPerSecond })),
    measuredAt: '2026-12-05T00:00:00.000Z', seconds: 1, backendDescription: 'seeded by the test',
  });
  if (error) throw error;
}
