// GRU cell (nn.GRU; gate order r, z, n). gates = W_ih·x + b_ih, rec = W_hh·h_{t-1} + b_hh:
//   r = σ(gates_r + rec_r), z = σ(gates_z + rec_z), n = tanh(gates_n + r⊙rec_n)
//   h = (1 − z)⊙n + z⊙h_{t-1}

import { CellKernels, CellStep, CellStepGrad, cellDims } from '../../backend';
import { DataOf, sigmoid } from './common';

export function gruKernels(data: DataOf): CellKernels {
  return {
    forward(step: CellStep): void {
      const { B, H } = cellDims('gru', step);
      const gates = data(step.gates), rec = data(step.rec!), hPrev = data(step.hPrev), h = data(step.h);
      for (let b = 0; b < B; b++) {
        const g0 = b * 3 * H;
        for (let j = 0; j < H; j++) {
          const r = sigmoid(gates[g0 + j] + rec[g0 + j]);
          const z = sigmoid(gates[g0 + H + j] + rec[g0 + H + j]);
          const n = Math.tanh(gates[g0 + 2 * H + j] + r * rec[g0 + 2 * H + j]);
          gates[g0 + j] = r;
          gates[g0 + H + j] = z;
          gates[g0 + 2 * H + j] = n;
          h[b * H + j] = (1 - z) * n + z * hPrev[b * H + j];
        }
      }
    },

    backward(step: CellStepGrad): void {
      const { B, H } = cellDims('gru', step);
      const gates = data(step.gates), rec = data(step.rec!), hPrev = data(step.hPrev);
      const dhT = data(step.dh), dhRec = data(step.dhRec), dGates = data(step.dGates), dRec = data(step.dRec!);
      for (let b = 0; b < B; b++) {
        const g0 = b * 3 * H;
        for (let j = 0; j < H; j++) {
          const k = b * H + j;
          const r = gates[g0 + j], z = gates[g0 + H + j], n = gates[g0 + 2 * H + j];
          const dh = dhT[k] + dhRec[k];
          const dan = dh * (1 - z) * (1 - n * n);
          const daz = dh * (hPrev[k] - n) * z * (1 - z);
          const dar = dan * rec[g0 + 2 * H + j] * r * (1 - r);
          dGates[g0 + j] = dar;
          dGates[g0 + H + j] = daz;
          dGates[g0 + 2 * H + j] = dan;
          dRec[g0 + j] = dar;
          dRec[g0 + H + j] = daz;
          dRec[g0 + 2 * H + j] = dan * r;
          dhRec[k] = dh * z; // to h_{t-1} directly; the engine adds dRec·W_hh
        }
      }
    },
  };
}
