// LSTM cell (nn.LSTM; gate order i, f, g, o): forward and backward of one step, beside each other.
//   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o); c = f⊙c_{t-1} + i⊙g; h = o⊙tanh(c)

import { CellKernels, CellStep, CellStepGrad, cellDims } from '../../backend';
import { DataOf, sigmoid } from './common';

export function lstmKernels(data: DataOf): CellKernels {
  return {
    forward(step: CellStep): void {
      const { B, H } = cellDims('lstm', step);
      const gates = data(step.gates), cPrev = data(step.cPrev!), c = data(step.c!), h = data(step.h);
      for (let b = 0; b < B; b++) {
        const g0 = b * 4 * H;
        for (let j = 0; j < H; j++) {
          const i = sigmoid(gates[g0 + j]);
          const f = sigmoid(gates[g0 + H + j]);
          const g = Math.tanh(gates[g0 + 2 * H + j]);
          const o = sigmoid(gates[g0 + 3 * H + j]);
          gates[g0 + j] = i;
          gates[g0 + H + j] = f;
          gates[g0 + 2 * H + j] = g;
          gates[g0 + 3 * H + j] = o;
          const cv = f * cPrev[b * H + j] + i * g;
          c[b * H + j] = cv;
          h[b * H + j] = o * Math.tanh(cv);
        }
      }
    },

    backward(step: CellStepGrad): void {
      const { B, H } = cellDims('lstm', step);
      const gates = data(step.gates), cPrev = data(step.cPrev!), c = data(step.c!);
      const dhT = data(step.dh), dhRec = data(step.dhRec), dc = data(step.dc!), dGates = data(step.dGates);
      for (let b = 0; b < B; b++) {
        const g0 = b * 4 * H;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const i = gates[g0 + j], f = gates[g0 + H + j];
          const g = gates[g0 + 2 * H + j], o = gates[g0 + 3 * H + j];
          const tc = Math.tanh(c[k]);
          const dh = dhT[k] + dhRec[k];
          // h = o·tanh(c): dc gets dh·o·(1 - tanh²c) on top of what flows back from step t+1.
          const dcv = dc[k] + dh * o * (1 - tc * tc);
          dGates[g0 + j] = dcv * g * i * (1 - i);             // di · σ'
          dGates[g0 + H + j] = dcv * cPrev[k] * f * (1 - f);  // df · σ'
          dGates[g0 + 2 * H + j] = dcv * i * (1 - g * g);      // dg · tanh'
          dGates[g0 + 3 * H + j] = dh * tc * o * (1 - o);      // do · σ'
          dc[k] = dcv * f;                                     // to cPrev
        }
      }
    },
  };
}
