// The model shipped in checkpoints/bundled/: its header, config and vocabulary (not its training),
// and that a fresh clone's `rnn sample`, `eval` and `info` find it with nothing else present.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { bundledCheckpoint, loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { rnn } from '../cli/helpers';

const TINY_SHAKESPEARE_SHA256 = '86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed';

describe('the bundled model', () => {
  const file = bundledCheckpoint();

  it('ships as one weights-only F16 safetensors file under 16 MB', () => {
    expect(file).not.toBeNull();
    const bytes = fs.readFileSync(file!);
    expect(bytes.length).toBeLessThan(16 * 2 ** 20);
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
    const names = Object.keys(header).filter((k) => k !== '__metadata__');
    expect(new Set(names.map((n) => header[n].dtype))).toEqual(new Set(['F16']));
    expect(names.filter((n) => n.startsWith('optimizer.') || n.startsWith('state.'))).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['embedding.weight', 'lstm.weight_ih_l0', 'lstm.weight_hh_l1', 'lstm.bias_hh_l1', 'decoder.weight', 'decoder.bias']));
  });

  it('is a 2x640 LSTM trained on tiny-shakespeare, with its 65-character vocabulary', () => {
    const ckpt = loadCheckpoint(file!, { weightsOnly: true });
    expect(ckpt.meta.model).toEqual({ vocabSize: 65, embeddingSize: 64, hiddenSize: 640, layers: 2, cell: 'lstm', zoneout: 0 });
    expect(ckpt.meta.corpus.sha256).toBe(TINY_SHAKESPEARE_SHA256);
    expect(ckpt.meta.vocab.chars.join('')).toBe("\n !$&',-.3:;?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz");
    expect(ckpt.meta.train.valFraction).toBe(0.1);
    expect(ckpt.meta.progress.bestValLoss).toBeLessThan(1.6);
  });

  it('is what rnn sample uses in a folder with no checkpoints, writing exactly --length characters', () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-bundled-'));
    const run = rnn(['sample', '--checkpoint-dir', empty, '--length', '120', '--seed', '42']);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(path.basename(file!));
    expect([...run.stdout]).toHaveLength(120);
    const info = rnn(['info', '--checkpoint-dir', empty, '--no-backends']);
    expect(info.code).toBe(0);
    expect(info.stdout).toMatch(/2-layer LSTM/);
  });
});
