// The peephole LSTM on the wasm backend: assembly/cells/peephole.ts.

import { WasmCell } from './cell';

export const peephole: WasmCell = {
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
};
