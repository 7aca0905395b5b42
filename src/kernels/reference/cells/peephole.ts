// Peephole LSTM (Gers, Schraudolph & Schmidhuber 2002), diagonal peepholes: c_{t-1} into i and f,
// c_t into o. peep = (w_ci, w_cf, w_co), each [H].
//   i = σ(a_i + w_ci⊙c_{t-1}), f = σ(a_f + w_cf⊙c_{t-1}), g = tanh(a_g)
//   c = f⊙c_{t-1} + i⊙g;  o = σ(a_o + w_co⊙c);  h = o⊙tanh(c)

import { CellKernels, CellStep, CellStepGrad, cellDims } from '../../backend';
import { DataOf, sigmoid } from './common';

export function peepholeKernels(data: DataOf): CellKernels {
  return {
    forward(step: CellStep): void {
      const { B, H } = cellDims('peephole', step);
      const gates = data(step.gates), cPrev = data(step.cPrev!), c = data(step.c!), h = data(step.h);
      const peep = data(step.peep!);
      for (let b = 0; b < B; b++) {
        const g0 = b * 4 * H;
        for (let j = 0; j < H; j++) {
          const cp = cPrev[b * H + j];
          const i = sigmoid(gates[g0 + j] + peep[j] * cp);
          const f = sigmoid(gates[g0 + H + j] + peep[H + j] * cp);
          const g = Math.tanh(gates[g0 + 2 * H + j]);
          const cv = f * cp + i * g;
          const o = sigmoid(gates[g0 + 3 * H + j] + peep[2 * H + j] * cv);
          gates[g0 + j] = i;
          gates[g0 + H + j] = f;
          gates[g0 + 2 * H + j] = g;
          gates[g0 + 3 * H + j] = o;
          c[b * H + j] = cv;
          h[b * H + j] = o * Math.tanh(cv);
        }
      }
    },

    backward(step: CellStepGrad): void {
      const { B, H } = cellDims('peephole', step);
      const gates = data(step.gates), cPrev = data(step.cPrev!), c = data(step.c!), peep = data(step.peep!);
      const dhT = data(step.dh), dhRec = data(step.dhRec), dc = data(step.dc!), dGates = data(step.dGates);
      const dPeep = data(step.dPeep!);
      for (let b = 0; b < B; b++) {
        const g0 = b * 4 * H;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const i = gates[g0 + j], f = gates[g0 + H + j];
          const g = gates[g0 + 2 * H + j], o = gates[g0 + 3 * H + j];
          const cp = cPrev[k], cv = c[k];
          const tc = Math.tanh(cv);
          const dh = dhT[k] + dhRec[k];
          const dao = dh * tc * o * (1 - o);
          // c reaches the loss through h = o·tanh(c), through o's peephole, and through step t+1.
          const dcv = dc[k] + dh * o * (1 - tc * tc) + dao * peep[2 * H + j];
          const dai = dcv * g * i * (1 - i);
          const daf = dcv * cp * f * (1 - f);
          dGates[g0 + j] = dai;
          dGates[g0 + H + j] = daf;
          dGates[g0 + 2 * H + j] = dcv * i * (1 - g * g);
          dGates[g0 + 3 * H + j] = dao;
          dPeep[b * 3 * H + j] = dai * cp;
          dPeep[b * 3 * H + H + j] = daf * cp;
          dPeep[b * 3 * H + 2 * H + j] = dao * cv;
          dc[k] = dcv * f + dai * peep[j] + daf * peep[H + j]; // to cPrev, also through i's and f's peepholes
        }
      }
    },
  };
}
