// Vanilla RNN cell (nn.RNN, nonlinearity tanh or relu): h = act(W_ih·x + b_ih + W_hh·h_{t-1} + b_hh).
// Forward keeps h in gates too, since act' is a function of the output: tanh' = 1 − h², relu' = [h > 0].

import { CellKernels, CellStep, CellStepGrad, cellDims } from '../../backend';
import { DataOf } from './common';

export function rnnKernels(data: DataOf, act: 'tanh' | 'relu'): CellKernels {
  const cell = act === 'tanh' ? 'rnn-tanh' : 'rnn-relu';
  return {
    forward(step: CellStep): void {
      const { B, H } = cellDims(cell, step);
      const gates = data(step.gates), h = data(step.h);
      for (let k = 0; k < B * H; k++) {
        const a = gates[k];
        const v = act === 'tanh' ? Math.tanh(a) : a > 0 ? a : 0;
        gates[k] = v;
        h[k] = v;
      }
    },

    backward(step: CellStepGrad): void {
      const { B, H } = cellDims(cell, step);
      const gates = data(step.gates), dhT = data(step.dh), dhRec = data(step.dhRec), dGates = data(step.dGates);
      for (let k = 0; k < B * H; k++) {
        const v = gates[k];
        const slope = act === 'tanh' ? 1 - v * v : v > 0 ? 1 : 0;
        dGates[k] = (dhT[k] + dhRec[k]) * slope;
      }
    },
  };
}
