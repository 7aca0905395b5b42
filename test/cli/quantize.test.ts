// --quantize int8 on rnn sample and rnn eval, on the real bin/rnn: it samples, it scores close to
// the float model, the same on the wasm kernel and the reference, and a bad mode is a usage error.

import * as path from 'path';
import { rnn, tempWorkspace, TINY } from './helpers';

describe('rnn sample/eval --quantize', () => {
  const { dir, corpus } = tempWorkspace();
  const ckptDir = path.join(dir, 'ck');

  beforeAll(() => {
    // Two layers and a hidden size off the kernels' 4- and 16-wide steps.
    const tiny = TINY.map((arg, i) => (TINY[i - 1] === '--layers' ? '2' : TINY[i - 1] === '--hidden' ? '19' : arg));
    expect(rnn(['train', corpus, ...tiny, '--max-iters', '30', '--checkpoint-dir', ckptDir]).code).toBe(0);
  });

  const evalLoss = (backend: string, quantize: string): { lossNats: number; quantize: string } => {
    const run = rnn(['eval', corpus, '--checkpoint-dir', ckptDir, '--backend', backend, '--quantize', quantize, '--json', '-q']);
    expect(run.code).toBe(0);
    return JSON.parse(run.stdout);
  };

  it('samples with int8 weights: prime + --length characters, and --json says so', () => {
    for (const backend of ['wasm', 'reference']) {
      const run = rnn(['sample', '--checkpoint-dir', ckptDir, '--backend', backend, '--quantize', 'int8', '-q',
        '--length', '40', '--prime', 'ROMEO:', '--seed', '5']);
      expect(run.code).toBe(0);
      expect([...run.stdout].length).toBe(6 + 40);
    }
    const json = JSON.parse(rnn(['sample', '--checkpoint-dir', ckptDir, '--backend', 'wasm', '--quantize', 'int8', '-q',
      '--length', '10', '--num', '2', '--json']).stdout);
    expect(json.map((r: { quantize: string }) => r.quantize)).toEqual(['int8', 'int8']);
  });

  it('evaluates with int8 weights: close to the float loss, and the same on wasm and the reference', () => {
    const float = evalLoss('reference', 'none');
    const int8 = evalLoss('reference', 'int8');
    const wasm = evalLoss('wasm', 'int8');
    expect(float.quantize).toBe('none');
    expect(int8.quantize).toBe('int8');
    // Different weights, so a different loss, but by far less than a training step moves it.
    expect(int8.lossNats).not.toBe(float.lossNats);
    expect(Math.abs(int8.lossNats - float.lossNats)).toBeLessThan(0.02);
    // wasm rounds activations to 16 bits on top: a far smaller change.
    expect(Math.abs(wasm.lossNats - int8.lossNats)).toBeLessThan(1e-3);
  });

  it('refuses an unknown mode with one line and exit 2', () => {
    for (const command of [['sample'], ['eval', corpus]]) {
      const run = rnn([...command, '--checkpoint-dir', ckptDir, '--quantize', 'int4']);
      expect(run.code).toBe(2);
      expect(run.stdout).toBe('');
      expect(run.stderr.trim().split('\n')).toHaveLength(1);
      expect(run.stderr).toMatch(/--quantize.*'int4'.*none, int8/);
    }
  });
});
