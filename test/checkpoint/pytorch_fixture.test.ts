// Our reader on a file written by an independent writer: a PyTorch char-LSTM state_dict.
//
// fixtures/make_safetensors.py made the file (torch.manual_seed(1234)) and printed the values
// checked here; rerun it with /usr/bin/python3 to regenerate. The test itself needs no Python.

import * as path from 'path';
import { readSafetensorsFile } from '../../src/checkpoint/safetensors';

const FIXTURE = path.join(__dirname, 'fixtures', 'torch_char_lstm.safetensors');
const V = 7; // vocab
const E = 4; // embedding
const H = 5; // hidden

test('decodes PyTorch names, shapes, metadata and values', () => {
  const { tensors, metadata } = readSafetensorsFile(FIXTURE);
  expect(metadata).toEqual({ format: 'pt', writer: 'make_safetensors.py' });

  // nn.LSTM packs the gates i, f, g, o along the first axis: weight_ih_l0 is [4H, E].
  const expectedShapes: Record<string, number[]> = {
    'embedding.weight': [V, E],
    'lstm.weight_ih_l0': [4 * H, E],
    'lstm.weight_hh_l0': [4 * H, H],
    'lstm.bias_ih_l0': [4 * H],
    'lstm.bias_hh_l0': [4 * H],
    'lstm.weight_ih_l1': [4 * H, H],
    'lstm.weight_hh_l1': [4 * H, H],
    'lstm.bias_ih_l1': [4 * H],
    'lstm.bias_hh_l1': [4 * H],
    'decoder.weight': [V, H],
    'decoder.bias': [V],
  };
  expect(Object.fromEntries([...tensors].map(([name, t]) => [name, t.shape]))).toEqual(expectedShapes);

  // Row-major element [row, col] of a [rows, cols] tensor; values printed by the script (float32).
  const at = (name: string, ...index: number[]): number => {
    const t = tensors.get(name)!;
    const flat = index.length === 1 ? index[0] : index[0] * t.shape[1] + index[1];
    return t.data[flat];
  };
  expect(at('embedding.weight', 0, 0)).toBe(Math.fround(-0.1117185652256012));
  expect(at('embedding.weight', 6, 3)).toBe(Math.fround(-1.156704306602478));
  expect(at('lstm.weight_ih_l0', 19, 3)).toBe(Math.fround(-0.3544940948486328));
  expect(at('lstm.weight_hh_l1', 7, 2)).toBe(Math.fround(-0.40646371245384216));
  expect(at('lstm.bias_hh_l1', 19)).toBe(Math.fround(0.19134332239627838));
  expect(at('decoder.weight', 6, 4)).toBe(Math.fround(-0.29132142663002014));
  expect(at('decoder.bias', 0)).toBe(Math.fround(0.28981509804725647));

  // Sums (float64 in PyTorch) catch any value read from the wrong place.
  const sums: Record<string, number> = {
    'embedding.weight': -3.3449070313945413,
    'lstm.weight_ih_l0': -0.46333899861201644,
    'lstm.weight_hh_l0': 2.477807871066034,
    'lstm.bias_ih_l0': -1.691708616912365,
    'lstm.bias_hh_l0': -0.6044145126870717,
    'lstm.weight_ih_l1': 5.737521871458739,
    'lstm.weight_hh_l1': -1.2240228513255715,
    'lstm.bias_ih_l1': 0.5200754329562187,
    'lstm.bias_hh_l1': 0.2466251105070114,
    'decoder.weight': 0.6525879977270961,
    'decoder.bias': -0.773016095161438,
  };
  for (const [name, sum] of Object.entries(sums)) {
    expect(tensors.get(name)!.data.reduce((acc, x) => acc + x, 0)).toBeCloseTo(sum, 12);
  }
});
