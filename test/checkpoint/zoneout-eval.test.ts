// Zoneout's evaluation-time expectation (h_t = p·h_{t-1} + (1−p)·h̃_t, and c likewise) against an
// independent implementation: bench/peers/torch_eval.py's step-by-step PyTorch loop over the
// nn.LSTM / nn.GRU parameters these files load into by name. fixtures/zoneout_eval/README.md says
// how the files and expected.json were made; the test needs no Python.

import * as path from 'path';
import { rnn } from '../cli/helpers';

const DIR = path.join(__dirname, '..', 'fixtures', 'zoneout_eval');
// eslint-disable-next-line @typescript-eslint/no-var-requires
const expected = require(path.join(DIR, 'expected.json')) as Record<string, {
  loss_nats: number; loss_nats_without_zoneout: number; loss_nats_c_as_h?: number; predicted: number;
}>;

// lstm-hc: --zoneout 0.05 --zoneout-cell 0.5, c zoned out with its own p.
for (const cell of ['lstm', 'gru', 'lstm-hc']) {
  for (const backend of ['reference', 'wasm']) {
    it(`rnn eval of the zoneout ${cell} on ${backend} scores what PyTorch does with zoneout's expectation`, () => {
      const run = rnn(['eval', path.join(DIR, 'text.txt'), '-c', path.join(DIR, `${cell}.safetensors`), '--batch', '1', '--backend', backend, '--json', '-q']);
      expect(run.code).toBe(0);
      const result = JSON.parse(run.stdout);
      expect(result.predicted).toBe(expected[cell].predicted);
      expect(Math.abs(result.lossNats - expected[cell].loss_nats)).toBeLessThan(1e-6);
      // The check can tell: scoring without the expectation is far off.
      expect(Math.abs(expected[cell].loss_nats - expected[cell].loss_nats_without_zoneout)).toBeGreaterThan(1e-2);
      // And without c's own probability (c scored with h's).
      if (cell === 'lstm-hc') expect(Math.abs(expected[cell].loss_nats - expected[cell].loss_nats_c_as_h!)).toBeGreaterThan(3e-3);
    });
  }
}
