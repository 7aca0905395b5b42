// The gpu.js backend's cells: one file per cell, listed here.

import { CellRegistry } from '../../backend';
import { GpujsCell, subKernelSources } from './cell';
import { LSTM_CELL } from './lstm';
import { PEEPHOLE_CELL } from './peephole';
import { GRU_CELL } from './gru';
import { rnnCell } from './rnn';

export type { GpujsCell, CellPass, StepTensor } from './cell';

export const GPUJS_CELLS: CellRegistry<GpujsCell> = {
  lstm: LSTM_CELL,
  peephole: PEEPHOLE_CELL,
  gru: GRU_CELL,
  'rnn-tanh': rnnCell('tanh'),
  'rnn-relu': rnnCell('relu'),
};

/** The functions the cells' kernels call, for every mode (each source once). */
export function cellHelpers(): string[] {
  return [...new Set(Object.values(GPUJS_CELLS).flatMap((cell) => cell.helpers ?? []))];
}

/** Their sub-kernel sources, which webgpu (no kernel maps) registers as plain functions. */
export function cellSubKernels(): string[] {
  return subKernelSources(Object.values(GPUJS_CELLS));
}
