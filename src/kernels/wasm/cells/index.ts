// The wasm backend's cells: one file per cell (its kernels in ../assembly/cells/), listed here.

import { CellRegistry } from '../../backend';
import { WasmCell } from './cell';
import { lstm } from './lstm';
import { peephole } from './peephole';
import { gru } from './gru';
import { rnnRelu, rnnTanh } from './rnn';

export type { WasmCell, WasmCellKernel } from './cell';

export const WASM_CELLS: CellRegistry<WasmCell> = {
  lstm, peephole, gru, 'rnn-tanh': rnnTanh, 'rnn-relu': rnnRelu,
};

/** Every cell kernel's export name: the workers' table needs them all. */
export const CELL_KERNEL_NAMES: readonly string[] = Object.values(WASM_CELLS).flatMap((c) => [c.forward.kernel, c.backward.kernel]);
