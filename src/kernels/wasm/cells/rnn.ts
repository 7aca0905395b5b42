// The tanh and ReLU RNNs on the wasm backend: assembly/cells/rnn.ts.

import { WasmCell } from './cell';

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

export const rnnTanh = rnn('rnn-tanh', 'Tanh');
export const rnnRelu = rnn('rnn-relu', 'Relu');
