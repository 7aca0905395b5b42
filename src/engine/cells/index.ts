// The cells `rnn train --cell` offers, in the order `--help` lists them.

import { CellName } from '../../kernels/backend';
import { CellSpec } from './cell';
import { LSTM } from './lstm';
import { PEEPHOLE } from './peephole';
import { GRU } from './gru';
import { RNN_RELU, RNN_TANH } from './rnn';

export type { CellSpec } from './cell';

export const CELLS: readonly CellSpec[] = [LSTM, PEEPHOLE, GRU, RNN_TANH, RNN_RELU];

export const CELL_NAMES: readonly CellName[] = CELLS.map((c) => c.name);

export function cellSpec(name: CellName): CellSpec {
  const spec = CELLS.find((c) => c.name === name);
  if (!spec) throw new Error(`unknown cell '${name}'`);
  return spec;
}
