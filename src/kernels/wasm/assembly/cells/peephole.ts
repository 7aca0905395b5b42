// The peephole LSTM cell (Gers, Schraudolph & Schmidhuber 2002), forward and backward.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// gates: [B, 4H] (i, f, g, o); cPrev, c, h, dh, dhRec, dc: [B, H]; peep: [1, 3H] (w_ci, w_cf, w_co),
// shared by every row; dPeep: [B, 3H]. The formulas are reference/cells/peephole.ts's:
//   i = σ(a_i + w_ci⊙c_{t-1}), f = σ(a_f + w_cf⊙c_{t-1}), g = tanh(a_g)
//   c = f⊙c_{t-1} + i⊙g;  o = σ(a_o + w_co⊙c);  h = o⊙tanh(c)

import { sigmoid4, tanh4 } from '../simdmath';
import { load4, rowStart, store4 } from './lanes';

// Units j..j+3 (or j alone) of one row: g = &gates[b, j], p = &peep[j], the rest &state[b, j].
@inline function forward4(g: usize, p: usize, hBytes: usize, cPrev: usize, c: usize, h: usize, lanes: i32): void {
  const cp = load4(cPrev, lanes);
  const i = sigmoid4(f32x4.add(load4(g, lanes), f32x4.mul(load4(p, lanes), cp)));
  const f = sigmoid4(f32x4.add(load4(g + hBytes, lanes), f32x4.mul(load4(p + hBytes, lanes), cp)));
  const gg = tanh4(load4(g + 2 * hBytes, lanes));
  const cv = f32x4.add(f32x4.mul(f, cp), f32x4.mul(i, gg));
  const o = sigmoid4(f32x4.add(load4(g + 3 * hBytes, lanes), f32x4.mul(load4(p + 2 * hBytes, lanes), cv)));
  store4(g, i, lanes); store4(g + hBytes, f, lanes); store4(g + 2 * hBytes, gg, lanes); store4(g + 3 * hBytes, o, lanes);
  store4(c, cv, lanes);
  store4(h, f32x4.mul(o, tanh4(cv)), lanes);
}

/** gates (pre-activations in, activations out), c and h of one step. */
export function peepholeForward(
  gates: usize, cPrev: usize, c: usize, h: usize, peep: usize,
  B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = gates + <usize>b * 4 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const u = <usize>j << 2, o = s0 + u;
      forward4(g0 + u, peep + u, hBytes, cPrev + o, c + o, h + o, 4);
    }
    for (; j < H; j++) {
      const u = <usize>j << 2, o = s0 + u;
      forward4(g0 + u, peep + u, hBytes, cPrev + o, c + o, h + o, 1);
    }
  }
}

// dp = &dPeep[b, j] (blocks hBytes apart, like p).
@inline function backward4(
  g: usize, p: usize, hBytes: usize, cPrev: usize, c: usize,
  dh: usize, dhRec: usize, dc: usize, dg: usize, dp: usize, lanes: i32,
): void {
  const i = load4(g, lanes), f = load4(g + hBytes, lanes), gg = load4(g + 2 * hBytes, lanes), o = load4(g + 3 * hBytes, lanes);
  const cp = load4(cPrev, lanes), cv = load4(c, lanes);
  const dhv = f32x4.add(load4(dh, lanes), load4(dhRec, lanes));
  const one = f32x4.splat(1.0);
  const tc = tanh4(cv);
  const dao = f32x4.mul(f32x4.mul(f32x4.mul(dhv, tc), o), f32x4.sub(one, o));
  // c reaches the loss through h = o·tanh(c), through o's peephole, and through step t+1.
  const dcv = f32x4.add(
    f32x4.add(load4(dc, lanes), f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(tc, tc)))),
    f32x4.mul(dao, load4(p + 2 * hBytes, lanes)));
  const dai = f32x4.mul(f32x4.mul(f32x4.mul(dcv, gg), i), f32x4.sub(one, i));
  const daf = f32x4.mul(f32x4.mul(f32x4.mul(dcv, cp), f), f32x4.sub(one, f));
  store4(dg, dai, lanes);
  store4(dg + hBytes, daf, lanes);
  store4(dg + 2 * hBytes, f32x4.mul(f32x4.mul(dcv, i), f32x4.sub(one, f32x4.mul(gg, gg))), lanes);
  store4(dg + 3 * hBytes, dao, lanes);
  store4(dp, f32x4.mul(dai, cp), lanes);
  store4(dp + hBytes, f32x4.mul(daf, cp), lanes);
  store4(dp + 2 * hBytes, f32x4.mul(dao, cv), lanes);
  // To cPrev: through f, and through i's and f's peepholes.
  const dcOut = f32x4.add(f32x4.add(f32x4.mul(dcv, f), f32x4.mul(dai, load4(p, lanes))), f32x4.mul(daf, load4(p + hBytes, lanes)));
  store4(dc, dcOut, lanes);
}

/** dGates and dPeep's per-row terms from the activations in gates; dc in: from step t+1, out: to cPrev. */
export function peepholeBackward(
  gates: usize, cPrev: usize, c: usize, peep: usize, dh: usize, dhRec: usize, dc: usize, dGates: usize, dPeep: usize,
  B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = <usize>b * 4 * hBytes, p0 = <usize>b * 3 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const u = <usize>j << 2, o = s0 + u;
      backward4(gates + g0 + u, peep + u, hBytes, cPrev + o, c + o, dh + o, dhRec + o, dc + o,
        dGates + g0 + u, dPeep + p0 + u, 4);
    }
    for (; j < H; j++) {
      const u = <usize>j << 2, o = s0 + u;
      backward4(gates + g0 + u, peep + u, hBytes, cPrev + o, c + o, dh + o, dhRec + o, dc + o,
        dGates + g0 + u, dPeep + p0 + u, 1);
    }
  }
}
