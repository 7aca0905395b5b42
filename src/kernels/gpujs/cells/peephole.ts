// Peephole LSTM (Gers, Schraudolph & Schmidhuber 2002) as gpu.js kernels; the formulas are
// ../../reference/cells/peephole.ts's. peep [1, 3H] = (w_ci, w_cf, w_co):
//   i = σ(a_i + w_ci⊙c_{t-1}), f = σ(a_f + w_cf⊙c_{t-1}), g = tanh(a_g)
//   c = f⊙c_{t-1} + i⊙g;  o = σ(a_o + w_co⊙c);  h = o⊙tanh(c)
// Every pass recomputes the few flops of its cell it needs (c in the activations pass, dc in
// each backward pass) rather than reading them from another pass.

import { GpujsCell } from './cell';

/** Forward, over the B·H cells: h (the result, OUTPUT 0) and c (sub-kernel, OUTPUT 1). */
const FORWARD = `function peepholeForward(gates, gOff, cPrev, cOff, peep, pOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, H);
  const j = i - b * H;
  const g0 = gOff + b * 4 * H + j;
  const cp = cPrev[cOff + i];
  const ig = sigmoid(gates[g0] + peep[pOff + j] * cp);
  const fg = sigmoid(gates[g0 + H] + peep[pOff + H + j] * cp);
  const gg = tanhStable(gates[g0 + 2 * H]);
  const c = peepholeCellState(fg * cp + ig * gg);
  const og = sigmoid(gates[g0 + 3 * H] + peep[pOff + 2 * H + j] * c);
  if (this.constants.OUTPUT > 0.5) { return c; }
  return og * tanhStable(c);
}`;

const CELL_STATE = `function peepholeCellState(c) {
  return c;
}`;

/** gates [B, 4H]: pre-activations → i, f, g, o, for the backward pass; o needs this step's c. */
const GATE_ACTIVATIONS = `function peepholeGateActivations(gates, gOff, cPrev, cOff, peep, pOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 4 * H);
  const q = i - b * 4 * H;
  const gate = rowOf(q, H);
  const j = q - gate * H;
  const g0 = gOff + b * 4 * H + j;
  const cp = cPrev[cOff + b * H + j];
  const ig = sigmoid(gates[g0] + peep[pOff + j] * cp);
  if (gate < 0.5) { return ig; }
  const fg = sigmoid(gates[g0 + H] + peep[pOff + H + j] * cp);
  if (gate < 1.5) { return fg; }
  const gg = tanhStable(gates[g0 + 2 * H]);
  if (gate < 2.5) { return gg; }
  return sigmoid(gates[g0 + 3 * H] + peep[pOff + 2 * H + j] * (fg * cp + ig * gg));
}`;

/**
 * The backward terms of one cell, shared by the three backward passes: dao, then dc_t (c reaches
 * the loss through h = o·tanh(c), through o's peephole and through step t+1), then dai, daf, dag.
 * Arguments are the cell's values: its gate activations, c_{t-1}, c_t, w_co, dL/dh_t in total,
 * dL/dc_t from step t+1. WHICH picks the value returned: 0 dai, 1 daf, 2 dag, 3 dao, 4 dc_t.
 */
const BACKWARD_TERM = `function peepholeBackwardTerm(ig, fg, gg, og, cp, cv, wco, dhv, dcNext, which) {
  const tc = tanhStable(cv);
  const dao = dhv * tc * og * (1 - og);
  const dcv = dcNext + dhv * og * (1 - tc * tc) + dao * wco;
  if (which > 3.5) { return dcv; }
  if (which > 2.5) { return dao; }
  if (which > 1.5) { return dcv * ig * (1 - gg * gg); }
  if (which > 0.5) { return dcv * cp * fg * (1 - fg); }
  return dcv * gg * ig * (1 - ig);
}`;

/** dGates [B, 4H]: thread (b, q) is gate q / H of cell j = q % H. */
const BACKWARD_GATES = `function peepholeBackwardGates(gates, gOff, cPrev, cpOff, c, cOff, peep, pOff, dh, dhOff, dhRec, drOff, dc, dcOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 4 * H);
  const q = i - b * 4 * H;
  const gate = rowOf(q, H);
  const j = q - gate * H;
  const k = b * H + j;
  const g0 = gOff + b * 4 * H + j;
  const dhv = dh[dhOff + k] + dhRec[drOff + k];
  return peepholeBackwardTerm(gates[g0], gates[g0 + H], gates[g0 + 2 * H], gates[g0 + 3 * H],
    cPrev[cpOff + k], c[cOff + k], peep[pOff + 2 * H + j], dhv, dc[dcOff + k], gate);
}`;

/** dPeep [B, 3H]: row b's terms dai·c_{t-1}, daf·c_{t-1}, dao·c_t, summed over rows by the engine. */
const BACKWARD_PEEP = `function peepholeBackwardPeep(gates, gOff, cPrev, cpOff, c, cOff, peep, pOff, dh, dhOff, dhRec, drOff, dc, dcOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, 3 * H);
  const q = i - b * 3 * H;
  const gate = rowOf(q, H);
  const j = q - gate * H;
  const k = b * H + j;
  const g0 = gOff + b * 4 * H + j;
  const cp = cPrev[cpOff + k];
  const cv = c[cOff + k];
  const dhv = dh[dhOff + k] + dhRec[drOff + k];
  let which = gate;
  let by = cp;
  if (gate > 1.5) {
    which = 3;
    by = cv;
  }
  return by * peepholeBackwardTerm(gates[g0], gates[g0 + H], gates[g0 + 2 * H], gates[g0 + 3 * H],
    cp, cv, peep[pOff + 2 * H + j], dhv, dc[dcOff + k], which);
}`;

/** dc [B, H] out: dL/dc_{t-1}, through f and through i's and f's peepholes. */
const BACKWARD_CELL = `function peepholeBackwardCell(gates, gOff, cPrev, cpOff, c, cOff, peep, pOff, dh, dhOff, dhRec, drOff, dc, dcOff) {
  const i = this.thread.x;
  const H = this.constants.H;
  const b = rowOf(i, H);
  const j = i - b * H;
  const g0 = gOff + b * 4 * H + j;
  const ig = gates[g0];
  const fg = gates[g0 + H];
  const gg = gates[g0 + 2 * H];
  const og = gates[g0 + 3 * H];
  const cp = cPrev[cpOff + i];
  const cv = c[cOff + i];
  const wco = peep[pOff + 2 * H + j];
  const dhv = dh[dhOff + i] + dhRec[drOff + i];
  const dcNext = dc[dcOff + i];
  const dcv = peepholeBackwardTerm(ig, fg, gg, og, cp, cv, wco, dhv, dcNext, 4);
  const dai = peepholeBackwardTerm(ig, fg, gg, og, cp, cv, wco, dhv, dcNext, 0);
  const daf = peepholeBackwardTerm(ig, fg, gg, og, cp, cv, wco, dhv, dcNext, 1);
  return dcv * fg + dai * peep[pOff + j] + daf * peep[pOff + H + j];
}`;

const BACKWARD_INPUTS = ['gates', 'cPrev', 'c', 'peep', 'dh', 'dhRec', 'dc'] as const;

export const PEEPHOLE_CELL: GpujsCell = {
  helpers: [BACKWARD_TERM],
  forward: [
    { name: 'forward', source: FORWARD, out: 'h', subOutputs: { c: CELL_STATE }, inputs: ['gates', 'cPrev', 'peep'] },
    { name: 'activations', source: GATE_ACTIVATIONS, out: 'gates', inputs: ['gates', 'cPrev', 'peep'] },
  ],
  backward: [
    { name: 'dGates', source: BACKWARD_GATES, out: 'dGates', inputs: [...BACKWARD_INPUTS] },
    { name: 'dPeep', source: BACKWARD_PEEP, out: 'dPeep', inputs: [...BACKWARD_INPUTS] },
    { name: 'dc', source: BACKWARD_CELL, out: 'dc', inputs: [...BACKWARD_INPUTS] },
  ],
};
