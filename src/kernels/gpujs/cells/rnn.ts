// Vanilla RNN cell (nn.RNN, nonlinearity tanh or relu) as gpu.js kernels; the formulas are
// ../../reference/cells/rnn.ts's: h = act(W_ih·x + b_ih + W_hh·h_{t-1} + b_hh), gates [B, H].
// Forward keeps h in gates too, since act' is a function of the output: tanh' = 1 − h²,
// relu' = [h > 0]. Constant RELU: 1 for relu, 0 for tanh.

import { GpujsCell } from './cell';

/** h (the result, OUTPUT 0) and the activations over gates (sub-kernel, OUTPUT 1): the same values. */
const FORWARD = `function rnnForward(gates, gOff) {
  const a = gates[gOff + this.thread.x];
  let v = Math.max(a, 0);
  if (this.constants.RELU < 0.5) { v = tanhStable(a); }
  const kept = rnnActivation(v);
  return kept;
}`;

const ACTIVATION = `function rnnActivation(v) {
  return v;
}`;

/** dGates [B, H] = (dh + dhRec) ⊙ act'(h). */
const BACKWARD = `function rnnBackward(gates, gOff, dh, dhOff, dhRec, drOff) {
  const i = this.thread.x;
  const v = gates[gOff + i];
  const d = dh[dhOff + i] + dhRec[drOff + i];
  if (this.constants.RELU > 0.5) {
    if (v > 0) { return d; }
    return 0;
  }
  return d * (1 - v * v);
}`;

export function rnnCell(act: 'tanh' | 'relu'): GpujsCell {
  const constants = { RELU: act === 'relu' ? 1 : 0 };
  return {
    forward: [{ name: 'forward', source: FORWARD, out: 'h', subOutputs: { gates: ACTIVATION }, inputs: ['gates'], constants }],
    backward: [{ name: 'backward', source: BACKWARD, out: 'dGates', inputs: ['gates', 'dh', 'dhRec'], constants }],
  };
}
