// The peephole LSTM (Gers, Schraudolph & Schmidhuber 2002): nn.LSTM's weights plus diagonal
// peepholes from c_{t-1} into i and f and from c_t into o, `lstm.weight_peep_l{k}` [3H].

import { CELL_GATES } from '../../kernels/backend';
import { CellSpec } from './cell';
import { forgetBiasOne } from './lstm';

export const PEEPHOLE: CellSpec = {
  name: 'peephole',
  title: 'peephole LSTM',
  gates: CELL_GATES.peephole,
  module: 'lstm',
  carriesCell: true,
  separateRecurrent: false,
  peepholes: true,
  initialBiases: forgetBiasOne,
  allowsIdentityInit: false,
};
