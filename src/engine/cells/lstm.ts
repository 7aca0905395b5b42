// The LSTM (Hochreiter & Schmidhuber 1997, with a forget gate): nn.LSTM's gates i, f, g, o.

import { CELL_GATES } from '../../kernels/backend';
import { CellSpec } from './cell';

/** Forget-gate bias 1 (Jozefowicz et al. 2015), in b_ih, so b_ih + b_hh starts at 1. */
export function forgetBiasOne(H: number): { ih: Float64Array; hh: Float64Array } {
  const ih = new Float64Array(4 * H);
  ih.fill(1, H, 2 * H);
  return { ih, hh: new Float64Array(4 * H) };
}

export const LSTM: CellSpec = {
  name: 'lstm',
  title: 'LSTM',
  gates: CELL_GATES.lstm,
  module: 'lstm',
  carriesCell: true,
  separateRecurrent: false,
  peepholes: false,
  initialBiases: forgetBiasOne,
  allowsIdentityInit: false,
};
