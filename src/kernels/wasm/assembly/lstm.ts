// The fused LSTM cell, forward and backward, gate order i, f, g, o (PyTorch's).
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// gates: [B, 4H]; cPrev, c, h, dh, dhRec, dc: [B, H]. The formulas are reference.ts's, four
// hidden units at a time; a remainder unit goes through the same vector code in lane 0.

import { sigmoid4, tanh4 } from './simdmath';

// One group of four units j..j+3 of row b: g = &gates[b, j], s = &state[b, j].
@inline function forward4(g: usize, hBytes: usize, cPrev: usize, c: usize, h: usize, lanes: i32): void {
  let xi: v128, xf: v128, xg: v128, xo: v128, cp: v128;
  if (lanes == 4) {
    xi = v128.load(g); xf = v128.load(g + hBytes); xg = v128.load(g + 2 * hBytes); xo = v128.load(g + 3 * hBytes);
    cp = v128.load(cPrev);
  } else {
    xi = v128.load32_zero(g); xf = v128.load32_zero(g + hBytes);
    xg = v128.load32_zero(g + 2 * hBytes); xo = v128.load32_zero(g + 3 * hBytes);
    cp = v128.load32_zero(cPrev);
  }
  const i = sigmoid4(xi), f = sigmoid4(xf), gg = tanh4(xg), o = sigmoid4(xo);
  const cv = f32x4.add(f32x4.mul(f, cp), f32x4.mul(i, gg));
  const hv = f32x4.mul(o, tanh4(cv));
  if (lanes == 4) {
    v128.store(g, i); v128.store(g + hBytes, f); v128.store(g + 2 * hBytes, gg); v128.store(g + 3 * hBytes, o);
    v128.store(c, cv); v128.store(h, hv);
  } else {
    v128.store32_lane(g, i, 0); v128.store32_lane(g + hBytes, f, 0);
    v128.store32_lane(g + 2 * hBytes, gg, 0); v128.store32_lane(g + 3 * hBytes, o, 0);
    v128.store32_lane(c, cv, 0); v128.store32_lane(h, hv, 0);
  }
}

/** gates (pre-activations in, activations out), c = f⊙cPrev + i⊙g, h = o⊙tanh(c). */
export function lstmCellForward(gates: usize, cPrev: usize, c: usize, h: usize, B: i32, H: i32): void {
  const hBytes = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const g0 = gates + <usize>b * 4 * hBytes;
    const s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const o = <usize>j << 2;
      forward4(g0 + o, hBytes, cPrev + s0 + o, c + s0 + o, h + s0 + o, 4);
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      forward4(g0 + o, hBytes, cPrev + s0 + o, c + s0 + o, h + s0 + o, 1);
    }
  }
}

@inline function backward4(
  g: usize, hBytes: usize, cPrev: usize, c: usize,
  dh: usize, dhRec: usize, dc: usize, dg: usize, lanes: i32,
): void {
  let i: v128, f: v128, gg: v128, o: v128, cp: v128, cv: v128, dhv: v128, dcIn: v128;
  if (lanes == 4) {
    i = v128.load(g); f = v128.load(g + hBytes); gg = v128.load(g + 2 * hBytes); o = v128.load(g + 3 * hBytes);
    cp = v128.load(cPrev); cv = v128.load(c);
    dhv = f32x4.add(v128.load(dh), v128.load(dhRec)); dcIn = v128.load(dc);
  } else {
    i = v128.load32_zero(g); f = v128.load32_zero(g + hBytes);
    gg = v128.load32_zero(g + 2 * hBytes); o = v128.load32_zero(g + 3 * hBytes);
    cp = v128.load32_zero(cPrev); cv = v128.load32_zero(c);
    dhv = f32x4.add(v128.load32_zero(dh), v128.load32_zero(dhRec)); dcIn = v128.load32_zero(dc);
  }
  const one = f32x4.splat(1.0);
  const tc = tanh4(cv);
  // h = o·tanh(c): dc gets dh·o·(1 - tanh²c) on top of what flows back from step t+1.
  const dcv = f32x4.add(dcIn, f32x4.mul(f32x4.mul(dhv, o), f32x4.sub(one, f32x4.mul(tc, tc))));
  const di = f32x4.mul(f32x4.mul(f32x4.mul(dcv, gg), i), f32x4.sub(one, i));
  const df = f32x4.mul(f32x4.mul(f32x4.mul(dcv, cp), f), f32x4.sub(one, f));
  const dgg = f32x4.mul(f32x4.mul(dcv, i), f32x4.sub(one, f32x4.mul(gg, gg)));
  const dov = f32x4.mul(f32x4.mul(f32x4.mul(dhv, tc), o), f32x4.sub(one, o));
  const dcOut = f32x4.mul(dcv, f);
  if (lanes == 4) {
    v128.store(dg, di); v128.store(dg + hBytes, df); v128.store(dg + 2 * hBytes, dgg); v128.store(dg + 3 * hBytes, dov);
    v128.store(dc, dcOut);
  } else {
    v128.store32_lane(dg, di, 0); v128.store32_lane(dg + hBytes, df, 0);
    v128.store32_lane(dg + 2 * hBytes, dgg, 0); v128.store32_lane(dg + 3 * hBytes, dov, 0);
    v128.store32_lane(dc, dcOut, 0);
  }
}

/** dGates from the activations in gates; dc in: from step t+1, out: to cPrev. */
export function lstmCellBackward(
  gates: usize, cPrev: usize, c: usize, dh: usize, dhRec: usize, dc: usize, dGates: usize,
  B: i32, H: i32,
): void {
  const hBytes = <usize>H << 2;
  for (let b = 0; b < B; b++) {
    const g0 = <usize>b * 4 * hBytes;
    const s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const o = <usize>j << 2;
      backward4(gates + g0 + o, hBytes, cPrev + s0 + o, c + s0 + o,
        dh + s0 + o, dhRec + s0 + o, dc + s0 + o, dGates + g0 + o, 4);
    }
    for (; j < H; j++) {
      const o = <usize>j << 2;
      backward4(gates + g0 + o, hBytes, cPrev + s0 + o, c + s0 + o,
        dh + s0 + o, dhRec + s0 + o, dc + s0 + o, dGates + g0 + o, 1);
    }
  }
}
