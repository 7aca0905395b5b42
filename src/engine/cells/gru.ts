// The GRU (Cho et al. 2014) as nn.GRU: gates r, z, n; n = tanh(W_in·x + b_in + r ⊙ (W_hn·h + b_hn)).

import { CELL_GATES } from '../../kernels/backend';
import { CellSpec, zeroBiases } from './cell';

export const GRU: CellSpec = {
  name: 'gru',
  title: 'GRU',
  gates: CELL_GATES.gru,
  module: 'gru',
  carriesCell: false,
  separateRecurrent: true,
  peepholes: false,
  initialBiases: (H) => zeroBiases(3 * H),
  allowsIdentityInit: false,
};
