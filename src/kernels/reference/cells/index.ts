// The reference backend's cells: one file per cell, listed here. Plain loops beside the formulas.

import { CellKernels, CellRegistry } from '../../backend';
import { DataOf } from './common';
import { lstmKernels } from './lstm';
import { peepholeKernels } from './peephole';
import { gruKernels } from './gru';
import { rnnKernels } from './rnn';

export const REFERENCE_CELLS: CellRegistry<(data: DataOf) => CellKernels> = {
  lstm: lstmKernels,
  peephole: peepholeKernels,
  gru: gruKernels,
  'rnn-tanh': (data) => rnnKernels(data, 'tanh'),
  'rnn-relu': (data) => rnnKernels(data, 'relu'),
};
