// The vanilla RNN cell (nn.RNN, nonlinearity tanh or relu), forward and backward.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// gates: [B, H] = W_ih·x + b_ih + W_hh·h_{t-1} + b_hh; h, dh, dhRec, dGates: [B, H]. As in
// reference/cells/rnn.ts, forward keeps h in gates too: act' is a function of the output,
// tanh' = 1 − h², relu' = [h > 0]. Units are independent, so a chunk's rows run as one flat range.

import { tanh4 } from '../simdmath';
import { load4, rowStart, store4 } from './lanes';

// relu(a) = a > 0 ? a : 0 exactly as the reference (NaN and -0 give 0): pmax(0, a) = 0 < a ? a : 0.
@inline function act4(a: v128, relu: bool): v128 {
  return relu ? f32x4.pmax(f32x4.splat(0.0), a) : tanh4(a);
}

// dL/da = dh · act'(h); relu' multiplies by 1 or 0 (not a mask) so NaN and the sign of 0 follow the reference.
@inline function slope4(v: v128, relu: bool): v128 {
  const one = f32x4.splat(1.0);
  return relu ? v128.and(f32x4.gt(v, f32x4.splat(0.0)), one) : f32x4.sub(one, f32x4.mul(v, v));
}

@inline function forward(gates: usize, h: usize, B: i32, H: i32, chunks: i32, chunk: i32, relu: bool): void {
  const end = rowStart(B, chunks, chunk + 1) * H;
  let k = rowStart(B, chunks, chunk) * H;
  for (; k + 4 <= end; k += 4) {
    const o = <usize>k << 2, v = act4(load4(gates + o, 4), relu);
    store4(gates + o, v, 4); store4(h + o, v, 4);
  }
  for (; k < end; k++) {
    const o = <usize>k << 2, v = act4(load4(gates + o, 1), relu);
    store4(gates + o, v, 1); store4(h + o, v, 1);
  }
}

@inline function backward(
  gates: usize, dh: usize, dhRec: usize, dGates: usize, B: i32, H: i32, chunks: i32, chunk: i32, relu: bool,
): void {
  const end = rowStart(B, chunks, chunk + 1) * H;
  let k = rowStart(B, chunks, chunk) * H;
  for (; k + 4 <= end; k += 4) {
    const o = <usize>k << 2;
    store4(dGates + o, f32x4.mul(f32x4.add(load4(dh + o, 4), load4(dhRec + o, 4)), slope4(load4(gates + o, 4), relu)), 4);
  }
  for (; k < end; k++) {
    const o = <usize>k << 2;
    store4(dGates + o, f32x4.mul(f32x4.add(load4(dh + o, 1), load4(dhRec + o, 1)), slope4(load4(gates + o, 1), relu)), 1);
  }
}

/** h = tanh(gates); gates keeps h. */
export function rnnTanhForward(gates: usize, h: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize): void {
  forward(gates, h, B, H, chunks, chunk, false);
}

/** h = relu(gates); gates keeps h. */
export function rnnReluForward(gates: usize, h: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize): void {
  forward(gates, h, B, H, chunks, chunk, true);
}

/** dGates = (dh + dhRec) ⊙ (1 − h²), h read from gates. */
export function rnnTanhBackward(
  gates: usize, dh: usize, dhRec: usize, dGates: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  backward(gates, dh, dhRec, dGates, B, H, chunks, chunk, false);
}

/** dGates = (dh + dhRec) ⊙ [h > 0], h read from gates. */
export function rnnReluBackward(
  gates: usize, dh: usize, dhRec: usize, dGates: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  backward(gates, dh, dhRec, dGates, B, H, chunks, chunk, true);
}
