// The LSTM on the wasm backend: assembly/cells/lstm.ts.

import { WasmCell } from './cell';

export const lstm: WasmCell = {
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
};
