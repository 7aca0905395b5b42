// The GRU on the wasm backend: assembly/cells/gru.ts.

import { WasmCell } from './cell';

export const gru: WasmCell = {
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
};
