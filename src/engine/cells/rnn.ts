// The vanilla (Elman) RNN as nn.RNN: h = act(W_ih·x + b_ih + W_hh·h + b_hh), act tanh or ReLU.

import { CELL_GATES } from '../../kernels/backend';
import { CellSpec, zeroBiases } from './cell';

const vanilla = (name: 'rnn-tanh' | 'rnn-relu', title: string): CellSpec => ({
  name,
  title,
  gates: CELL_GATES[name],
  module: 'rnn',
  carriesCell: false,
  separateRecurrent: false,
  peepholes: false,
  initialBiases: (H) => zeroBiases(H),
  allowsIdentityInit: true,
});

export const RNN_TANH = vanilla('rnn-tanh', 'tanh RNN');
export const RNN_RELU = vanilla('rnn-relu', 'ReLU RNN');
