// Resume is exact: N steps straight equal k steps, a SIGINT at a random point, and --resume to
// N, in weights, optimizer state, carried state and validation loss, bit for bit, on every CPU
// backend.

import { spawn } from 'child_process';
import * as fc from 'fast-check';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, ROOT, rnn, tempDir } from './helpers';

const work = tempDir();
const corpus = path.join(work, 'play.txt');
const lines: string[] = [];
for (let i = 0; i < 80; i++) lines.push(`${['ROMEO', 'JULIET', 'NURSE'][i % 3]}: O gentle night ${i % 7}, thy stars are kind.`);
fs.writeFileSync(corpus, lines.join('\n'));

/** The tensor bytes (weights, moments, carried state) and progress of a checkpoint. */
function stateOf(file: string): { tensors: Buffer; iteration: number; valLoss: number } {
  const bytes = fs.readFileSync(file);
  const n = Number(bytes.readBigUInt64LE(0));
  const progress = JSON.parse(JSON.parse(bytes.subarray(8, 8 + n).toString('utf8')).__metadata__.progress);
  return { tensors: bytes.subarray(8 + n), iteration: progress.iteration, valLoss: progress.lastValLoss };
}

/** Trains until `delayMs` after the first checkpoint appears, then sends SIGINT; resolves with the exit code. */
function trainInterrupted(args: string[], latest: string, delayMs: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, stdio: 'ignore' });
    const poll = setInterval(() => {
      if (!fs.existsSync(latest)) return;
      clearInterval(poll);
      setTimeout(() => child.kill('SIGINT'), delayMs);
    }, 5);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(poll);
      resolve(code);
    });
  });
}

const BACKENDS: Array<[string, string[]]> = [['reference', []], ['wasm', ['--threads', '2']]];

describe.each(BACKENDS)('resume on %s', (backend, extra) => {
  const common = ['--backend', backend, ...extra, '--layers', '2', '--hidden', '16', '--embedding', '8', '--seq-len', '8', '--batch', '4', '--eval-every', '3', '-q'];

  // A constant rate, so extending --max-iters past k does not change the steps before it (a
  // decaying schedule spans the run's length; test/cli/interrupt.test.ts resumes a cosine run),
  // and a random cell with its masks in play: dropout and zoneout's, or weight drop's on W_hh
  // (drawn from the seed and the step as dropout's are, so a resumed run multiplies by the masked
  // weights an uninterrupted one would). No tail averaging: its tail is a fraction of the run's
  // length too (the next case resumes an averaged run).
  const MASKS: Array<[string, string[], number, number]> = [
    ['dropout and zoneout', ['--dropout', '0.2', '--zoneout', '0.1'], 3, 0],
    ['--weight-drop', ['--weight-drop', '0.3', '--dropout', '0.1'], 2, 1],
  ];
  it.each(MASKS)('k steps with %s + SIGINT + --resume ends bit-identical to N steps straight, for random k and cell', async (what, masks, numRuns, seed) => {
    let trial = 0;
    const ks: string[] = [];
    const cells = fc.constantFrom('lstm', 'peephole', 'gru', 'rnn-tanh', 'rnn-relu');
    await fc.assert(fc.asyncProperty(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 1, max: 6 }), cells, async (delayMs, more, cell) => {
      const flags = [...common, '--cell', cell, '--lr-schedule', 'constant', ...masks, '--average-tail', '0'];
      const dir = path.join(work, `${backend}-${seed}-${trial++}`);
      const cut = path.join(dir, 'cut'), whole = path.join(dir, 'whole');
      const latest = path.join(cut, 'play.safetensors');
      expect(await trainInterrupted(['train', corpus, ...flags, '--max-iters', '1000000', '--checkpoint-dir', cut], latest, delayMs)).toBe(130);
      const k = stateOf(latest).iteration;
      ks.push(`${k} (${cell})`);
      const n = String(k + more);
      expect(rnn(['train', corpus, ...flags, '--max-iters', n, '--checkpoint-dir', cut, '--resume']).code).toBe(0);
      expect(rnn(['train', corpus, ...flags, '--max-iters', n, '--checkpoint-dir', whole]).code).toBe(0);
      const resumed = stateOf(latest), straight = stateOf(path.join(whole, 'play.safetensors'));
      expect(resumed.iteration).toBe(k + more);
      expect(resumed.valLoss).toBe(straight.valLoss);
      expect(resumed.tensors.equals(straight.tensors)).toBe(true);
    }), { numRuns, seed: backend.length + seed });
    process.stdout.write(`resume with ${what} on ${backend}: interrupted at k = ${ks.join(', ')}\n`);
  });

  // Tail averaging across the cut: the run's bound stays (so does its tail, from iteration 3 (a first point at 4)),
  // and the mean (the saved weights), the raw weights beside it and the count must carry on.
  it('k steps of an averaged tail + SIGINT + --resume ends bit-identical to the run straight, for random k', async () => {
    const N = '200';
    const ks: number[] = [];
    await fc.assert(fc.asyncProperty(fc.integer({ min: 20, max: 80 }), async (delayMs) => {
      const flags = [...common, '--cell', 'gru', '--dropout', '0.2', '--average-tail', '0.99', '--max-iters', N];
      const dir = path.join(work, `${backend}-avg-${delayMs}-${ks.length}`);
      const cut = path.join(dir, 'cut'), whole = path.join(dir, 'whole');
      const latest = path.join(cut, 'play.safetensors');
      expect(await trainInterrupted(['train', corpus, ...flags, '--checkpoint-dir', cut], latest, delayMs)).toBe(130);
      ks.push(stateOf(latest).iteration);
      expect(rnn(['train', corpus, ...flags, '--checkpoint-dir', cut, '--resume']).code).toBe(0);
      expect(rnn(['train', corpus, ...flags, '--checkpoint-dir', whole]).code).toBe(0);
      const resumed = stateOf(latest), straight = stateOf(path.join(whole, 'play.safetensors'));
      expect(resumed.iteration).toBe(Number(N));
      expect(resumed.valLoss).toBe(straight.valLoss);
      expect(resumed.tensors.equals(straight.tensors)).toBe(true);
    }), { numRuns: 2, seed: backend.length });
    process.stdout.write(`averaged resume on ${backend}: interrupted at k = ${ks.join(', ')} of ${N}\n`);
  });
});
