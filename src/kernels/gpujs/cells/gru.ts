// GRU cell (nn.GRU; gate order r, z, n) as gpu.js kernels; the formulas are
// ../../reference/cells/gru.ts's. gates = W_ih·x + b_ih, rec = W_hh·h_{t-1} + b_hh, both [B, 3H]:
//   r = σ(gates_r + rec_r), z = σ(gates_z + rec_z), n = tanh(gates_n + r⊙rec_n)
//   h = (1 − z)⊙n + z⊙h_{t-1}

import { GpujsCell } from './cell';

/** gates [B, 3H]: pre-activations → r, z, n, for the backward pass; n needs its row's r. */
const GATE_ACTIVATIONS = `function gruGateActivations(gates, gOff, rec, rOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 3 * H);
  const q = i - b * 3 * H;
  if (q >= 2 * H) {
    const r0 = b * 3 * H + q - 2 * H;
    const r = sigmoid(gates[gOff + r0] + rec[rOff + r0]);
    return tanhStable(gates[gOff + i] + r * rec[rOff + i]);
  }
  return sigmoid(gates[gOff + i] + rec[rOff + i]);
}`;

/** h [B, H] from the pre-activations. */
const FORWARD_HIDDEN = `function gruForwardHidden(gates, gOff, rec, rOff, hPrev, hOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, H);
  const j = i - b * H;
  const g0 = b * 3 * H + j;
  const r = sigmoid(gates[gOff + g0] + rec[rOff + g0]);
  const z = sigmoid(gates[gOff + g0 + H] + rec[rOff + g0 + H]);
  const n = tanhStable(gates[gOff + g0 + 2 * H] + r * rec[rOff + g0 + 2 * H]);
  return (1 - z) * n + z * hPrev[hOff + i];
}`;

/**
 * Backward, dGates [B, 3H] (the result, OUTPUT 0) and dRec (sub-kernel, OUTPUT 1): thread (b, q)
 * is gate q / H of unit j = q % H. They differ only in n's block, where dRec = dan ⊙ r.
 */
const BACKWARD_GATES = `function gruBackwardGates(gates, gOff, rec, rOff, hPrev, hpOff, dh, dhOff, dhRec, drOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 3 * H);
  const q = i - b * 3 * H;
  const gate = rowOf(q, H);
  const j = q - gate * H;
  const k = b * H + j;
  const g0 = gOff + b * 3 * H + j;
  const r = gates[g0];
  const z = gates[g0 + H];
  const n = gates[g0 + 2 * H];
  const dhv = dh[dhOff + k] + dhRec[drOff + k];
  const dan = dhv * (1 - z) * (1 - n * n);
  let dGate = dan;
  let dRecurrent = dan * r;
  if (gate < 1.5) {
    dGate = dhv * (hPrev[hpOff + k] - n) * z * (1 - z);
    if (gate < 0.5) {
      dGate = dan * rec[rOff + b * 3 * H + 2 * H + j] * r * (1 - r);
    }
    dRecurrent = dGate;
  }
  const dRecValue = gruRecGradient(dRecurrent);
  if (this.constants.OUTPUT > 0.5) { return dRecValue; }
  return dGate;
}`;

const REC_GRADIENT = `function gruRecGradient(d) {
  return d;
}`;

/** dhRec [B, H] out: the part of dL/dh_{t-1} that bypasses W_hh, z ⊙ dh (the engine adds dRec·W_hh). */
const BACKWARD_DIRECT = `function gruBackwardDirect(gates, gOff, dh, dhOff, dhRec, drOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, H);
  const j = i - b * H;
  return (dh[dhOff + i] + dhRec[drOff + i]) * gates[gOff + b * 3 * H + H + j];
}`;

export const GRU_CELL: GpujsCell = {
  forward: [
    { name: 'h', source: FORWARD_HIDDEN, out: 'h', inputs: ['gates', 'rec', 'hPrev'] },
    { name: 'activations', source: GATE_ACTIVATIONS, out: 'gates', inputs: ['gates', 'rec'] },
  ],
  backward: [
    {
      name: 'dGates', source: BACKWARD_GATES, out: 'dGates', subOutputs: { dRec: REC_GRADIENT },
      inputs: ['gates', 'rec', 'hPrev', 'dh', 'dhRec'],
    },
    { name: 'dhRec', source: BACKWARD_DIRECT, out: 'dhRec', inputs: ['gates', 'dh', 'dhRec'] },
  ],
};
