// The wasm backend's cells: each one's two kernels (in ../assembly/cells/<cell>.ts) and their
// tensor arguments, in the kernels' order, registered against src/cells.ts's names. A new cell is
// its assembly file, a line in ../assembly/index.ts and an entry here.

import { CellRegistry } from '../../backend';
import { WasmCell } from './cell';

export type { WasmCell, WasmCellKernel } from './cell';

/** The tanh and ReLU RNNs: assembly/cells/rnn.ts. */
function rnn(name: 'rnn-tanh' | 'rnn-relu', act: 'Tanh' | 'Relu'): WasmCell {
  return {
    name,
    forward: {
      kernel: `rnn${act}Forward`,
      args: (s) => [s.gates, s.h],
      writes: (s) => [s.gates, s.h],
    },
    backward: {
      kernel: `rnn${act}Backward`,
      args: (s) => [s.gates, s.dh, s.dhRec, s.dGates],
      writes: (s) => [s.dGates],
    },
  };
}

export const WASM_CELLS: CellRegistry<WasmCell> = {
  // assembly/cells/lstm.ts
  lstm: {
    name: 'lstm',
    forward: {
      kernel: 'lstmForward',
      args: (s) => [s.gates, s.cPrev!, s.c!, s.h],
      writes: (s) => [s.gates, s.c!, s.h],
    },
    backward: {
      kernel: 'lstmBackward',
      args: (s) => [s.gates, s.cPrev!, s.c!, s.dh, s.dhRec, s.dc!, s.dGates],
      writes: (s) => [s.dc!, s.dGates],
    },
  },
  // assembly/cells/peephole.ts
  peephole: {
    name: 'peephole',
    forward: {
      kernel: 'peepholeForward',
      args: (s) => [s.gates, s.cPrev!, s.c!, s.h, s.peep!],
      writes: (s) => [s.gates, s.c!, s.h],
    },
    backward: {
      kernel: 'peepholeBackward',
      args: (s) => [s.gates, s.cPrev!, s.c!, s.peep!, s.dh, s.dhRec, s.dc!, s.dGates, s.dPeep!],
      writes: (s) => [s.dc!, s.dGates, s.dPeep!],
    },
  },
  // assembly/cells/gru.ts
  gru: {
    name: 'gru',
    forward: {
      kernel: 'gruForward',
      args: (s) => [s.gates, s.rec!, s.hPrev, s.h],
      writes: (s) => [s.gates, s.h],
    },
    backward: {
      kernel: 'gruBackward',
      args: (s) => [s.gates, s.rec!, s.hPrev, s.dh, s.dhRec, s.dGates, s.dRec!],
      writes: (s) => [s.dhRec, s.dGates, s.dRec!],
    },
  },
  'rnn-tanh': rnn('rnn-tanh', 'Tanh'),
  'rnn-relu': rnn('rnn-relu', 'Relu'),
};

/** Every cell kernel's export name: the workers' table needs them all. */
export const CELL_KERNEL_NAMES: readonly string[] = Object.values(WASM_CELLS).flatMap((c) => [c.forward.kernel, c.backward.kernel]);
