// LSTM cell (nn.LSTM; gate order i, f, g, o) as gpu.js kernels; the formulas are
// ../../reference/cells/lstm.ts's:
//   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o); c = f⊙c_{t-1} + i⊙g; h = o⊙tanh(c)
// gates [B, 4H] hold i, f, g, o at column offsets 0, H, 2H, 3H of row b.

import { GpujsCell } from './cell';

/** Forward, over the B·H cells: h (the result, OUTPUT 0) and c (sub-kernel, OUTPUT 1). */
const FORWARD = `function lstmForward(gates, gOff, cPrev, cOff) {
  const i = this.thread.x;
  const b = rowOf(i, this.constants.H);
  const j = i - b * this.constants.H;
  const g0 = gOff + b * 4 * this.constants.H + j;
  const ig = sigmoid(gates[g0]);
  const fg = sigmoid(gates[g0 + this.constants.H]);
  const gg = tanhStable(gates[g0 + 2 * this.constants.H]);
  const og = sigmoid(gates[g0 + 3 * this.constants.H]);
  const c = cellState(fg * cPrev[cOff + i] + ig * gg);
  if (this.constants.OUTPUT > 0.5) { return c; }
  return og * tanhStable(c);
}`;

const CELL_STATE = `function cellState(c) {
  return c;
}`;

/** gates [B, 4H]: pre-activations → σ(i), σ(f), tanh(g), σ(o), for the backward pass. */
const GATE_ACTIVATIONS = `function gateActivations(gates, gOff) {
  const i = this.thread.x;
  const q = i - rowOf(i, 4 * this.constants.H) * 4 * this.constants.H;
  const x = gates[gOff + i];
  if (q >= 2 * this.constants.H && q < 3 * this.constants.H) {
    return tanhStable(x);
  }
  return sigmoid(x);
}`;

/**
 * Backward, dGates [B, 4H]: thread (b, q) is gate q / H of cell j = q % H. Each thread
 * recomputes its cell's dc (a few flops) rather than reading it from a second pass.
 */
const BACKWARD_GATES = `function lstmBackwardGates(gates, gOff, cPrev, cpOff, c, cOff, dh, dhOff, dhRec, drOff, dc, dcOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 4 * H);
  const q = i - b * 4 * H;
  const gate = rowOf(q, H);
  const j = q - gate * H;
  const k = b * H + j;
  const g0 = gOff + b * 4 * H + j;
  const ig = gates[g0];
  const fg = gates[g0 + H];
  const gg = gates[g0 + 2 * H];
  const og = gates[g0 + 3 * H];
  const tc = tanhStable(c[cOff + k]);
  const dhv = dh[dhOff + k] + dhRec[drOff + k];
  const dcv = dc[dcOff + k] + dhv * og * (1 - tc * tc);
  if (gate < 0.5) { return dcv * gg * ig * (1 - ig); }
  if (gate < 1.5) { return dcv * cPrev[cpOff + k] * fg * (1 - fg); }
  if (gate < 2.5) { return dcv * ig * (1 - gg * gg); }
  return dhv * tc * og * (1 - og);
}`;

/** Backward, dc [B, H] out: the gradient w.r.t. cPrev. */
const BACKWARD_CELL = `function lstmBackwardCell(gates, gOff, c, cOff, dh, dhOff, dhRec, drOff, dc, dcOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, H);
  const j = i - b * H;
  const g0 = gOff + b * 4 * H + j;
  const fg = gates[g0 + H];
  const og = gates[g0 + 3 * H];
  const tc = tanhStable(c[cOff + i]);
  const dhv = dh[dhOff + i] + dhRec[drOff + i];
  return (dc[dcOff + i] + dhv * og * (1 - tc * tc)) * fg;
}`;

export const LSTM_CELL: GpujsCell = {
  forward: [
    { name: 'forward', source: FORWARD, out: 'h', subOutputs: { c: CELL_STATE }, inputs: ['gates', 'cPrev'] },
    { name: 'activations', source: GATE_ACTIVATIONS, out: 'gates', inputs: ['gates'] },
  ],
  backward: [
    { name: 'dGates', source: BACKWARD_GATES, out: 'dGates', inputs: ['gates', 'cPrev', 'c', 'dh', 'dhRec', 'dc'] },
    { name: 'dc', source: BACKWARD_CELL, out: 'dc', inputs: ['gates', 'c', 'dh', 'dhRec', 'dc'] },
  ],
};
