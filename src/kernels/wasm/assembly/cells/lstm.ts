// The fused LSTM cell, forward and backward, gate order i, f, g, o (PyTorch's).
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// gates: [B, 4H]; cPrev, c, h, dh, dhRec, dc: [B, H]. The formulas are reference/cells/lstm.ts's,
// four hidden units at a time (lanes.ts); each kernel runs the rows of one chunk.

import { sigmoid4, tanh4 } from '../simdmath';
import { load4, rowStart, store4 } from './lanes';

// Units j..j+3 (or j alone) of one row: g = &gates[b, j] (gate blocks hBytes apart), the rest &state[b, j].
@inline function forward4(g: usize, hBytes: usize, cPrev: usize, c: usize, h: usize, lanes: i32): void {
  const i = sigmoid4(load4(g, lanes)), f = sigmoid4(load4(g + hBytes, lanes));
  const gg = tanh4(load4(g + 2 * hBytes, lanes)), o = sigmoid4(load4(g + 3 * hBytes, lanes));
  const cv = f32x4.add(f32x4.mul(f, load4(cPrev, lanes)), f32x4.mul(i, gg));
  store4(g, i, lanes); store4(g + hBytes, f, lanes); store4(g + 2 * hBytes, gg, lanes); store4(g + 3 * hBytes, o, lanes);
  store4(c, cv, lanes);
  store4(h, f32x4.mul(o, tanh4(cv)), lanes);
}

/** gates (pre-activations in, activations out), c = f⊙cPrev + i⊙g, h = o⊙tanh(c). */
export function lstmForward(
  gates: usize, cPrev: usize, c: usize, h: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = gates + <usize>b * 4 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const o = s0 + (<usize>j << 2), og = g0 + (<usize>j << 2);
      forward4(og, hBytes, cPrev + o, c + o, h + o, 4);
    }
    for (; j < H; j++) {
      const o = s0 + (<usize>j << 2), og = g0 + (<usize>j << 2);
      forward4(og, hBytes, cPrev + o, c + o, h + o, 1);
    }
  }
}

@inline function backward4(
  g: usize, hBytes: usize, cPrev: usize, c: usize,
  dh: usize, dhRec: usize, dc: usize, dg: usize, lanes: i32,
): void {
  const i = load4(g, lanes), f = load4(g + hBytes, lanes), gg = load4(g + 2 * hBytes, lanes), o = load4(g + 3 * hBytes, lanes);
  const dhv = f32x4.add(load4(dh, lanes), load4(dhRec, lanes));
  const one = f32x4.splat(1.0);
  const tc = tanh4(load4(c, lanes));
  // h = o·tanh(c): dc gets dh·o·(1 - tanh²c) on top of what flows back from step t+1.
  const dcv = f32x4.add(load4(dc, lanes), f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(tc, tc))));
  store4(dg, f32x4.mul(f32x4.mul(f32x4.mul(dcv, gg), i), f32x4.sub(one, i)), lanes);
  store4(dg + hBytes, f32x4.mul(f32x4.mul(f32x4.mul(dcv, load4(cPrev, lanes)), f), f32x4.sub(one, f)), lanes);
  store4(dg + 2 * hBytes, f32x4.mul(f32x4.mul(dcv, i), f32x4.sub(one, f32x4.mul(gg, gg))), lanes);
  store4(dg + 3 * hBytes, f32x4.mul(f32x4.mul(f32x4.mul(dhv, tc), o), f32x4.sub(one, o)), lanes);
  store4(dc, f32x4.mul(dcv, f), lanes);
}

/** dGates from the activations in gates; dc in: from step t+1, out: to cPrev. */
export function lstmBackward(
  gates: usize, cPrev: usize, c: usize, dh: usize, dhRec: usize, dc: usize, dGates: usize,
  B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = <usize>b * 4 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const o = s0 + (<usize>j << 2), og = g0 + (<usize>j << 2);
      backward4(gates + og, hBytes, cPrev + o, c + o, dh + o, dhRec + o, dc + o, dGates + og, 4);
    }
    for (; j < H; j++) {
      const o = s0 + (<usize>j << 2), og = g0 + (<usize>j << 2);
      backward4(gates + og, hBytes, cPrev + o, c + o, dh + o, dhRec + o, dc + o, dGates + og, 1);
    }
  }
}
