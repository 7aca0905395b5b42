// The GRU cell (nn.GRU; gate order r, z, n), forward and backward.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// gates: [B, 3H] = W_ih·x + b_ih; rec: [B, 3H] = W_hh·h_{t-1} + b_hh; hPrev, h, dh, dhRec: [B, H];
// dGates, dRec: [B, 3H]. The formulas are reference/cells/gru.ts's:
//   r = σ(gates_r + rec_r), z = σ(gates_z + rec_z), n = tanh(gates_n + r⊙rec_n)
//   h = (1 − z)⊙n + z⊙h_{t-1}

import { sigmoid4, tanh4 } from '../simdmath';
import { load4, rowStart, store4 } from './lanes';

// Units j..j+3 (or j alone) of one row: g = &gates[b, j], q = &rec[b, j] (gate blocks hBytes apart).
@inline function forward4(g: usize, q: usize, hBytes: usize, hPrev: usize, h: usize, lanes: i32): void {
  const r = sigmoid4(f32x4.add(load4(g, lanes), load4(q, lanes)));
  const z = sigmoid4(f32x4.add(load4(g + hBytes, lanes), load4(q + hBytes, lanes)));
  const n = tanh4(f32x4.add(load4(g + 2 * hBytes, lanes), f32x4.mul(r, load4(q + 2 * hBytes, lanes))));
  store4(g, r, lanes); store4(g + hBytes, z, lanes); store4(g + 2 * hBytes, n, lanes);
  store4(h, f32x4.add(f32x4.mul(f32x4.sub(f32x4.splat(1.0), z), n), f32x4.mul(z, load4(hPrev, lanes))), lanes);
}

/** gates (pre-activations in, r, z, n out) and h of one step. */
export function gruForward(
  gates: usize, rec: usize, hPrev: usize, h: usize, B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = <usize>b * 3 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const u = <usize>j << 2, o = s0 + u;
      forward4(gates + g0 + u, rec + g0 + u, hBytes, hPrev + o, h + o, 4);
    }
    for (; j < H; j++) {
      const u = <usize>j << 2, o = s0 + u;
      forward4(gates + g0 + u, rec + g0 + u, hBytes, hPrev + o, h + o, 1);
    }
  }
}

// dg = &dGates[b, j], dq = &dRec[b, j].
@inline function backward4(
  g: usize, q: usize, hBytes: usize, hPrev: usize, dh: usize, dhRec: usize, dg: usize, dq: usize, lanes: i32,
): void {
  const r = load4(g, lanes), z = load4(g + hBytes, lanes), n = load4(g + 2 * hBytes, lanes);
  const one = f32x4.splat(1.0);
  const dhv = f32x4.add(load4(dh, lanes), load4(dhRec, lanes));
  const dan = f32x4.mul(f32x4.mul(dhv, f32x4.sub(one, z)), f32x4.sub(one, f32x4.mul(n, n)));
  const daz = f32x4.mul(f32x4.mul(f32x4.mul(dhv, f32x4.sub(load4(hPrev, lanes), n)), z), f32x4.sub(one, z));
  const dar = f32x4.mul(f32x4.mul(f32x4.mul(dan, load4(q + 2 * hBytes, lanes)), r), f32x4.sub(one, r));
  store4(dg, dar, lanes); store4(dg + hBytes, daz, lanes); store4(dg + 2 * hBytes, dan, lanes);
  store4(dq, dar, lanes); store4(dq + hBytes, daz, lanes); store4(dq + 2 * hBytes, f32x4.mul(dan, r), lanes);
  // To h_{t-1} directly; the engine adds dRec·W_hh.
  store4(dhRec, f32x4.mul(dhv, z), lanes);
}

/** dGates and dRec from r, z, n in gates; dhRec in: from step t+1, out: z⊙dh, the part of dh_{t-1} past W_hh. */
export function gruBackward(
  gates: usize, rec: usize, hPrev: usize, dh: usize, dhRec: usize, dGates: usize, dRec: usize,
  B: i32, H: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const hBytes = <usize>H << 2;
  for (let b = rowStart(B, chunks, chunk), end = rowStart(B, chunks, chunk + 1); b < end; b++) {
    const g0 = <usize>b * 3 * hBytes, s0 = <usize>b * hBytes;
    let j = 0;
    for (; j + 4 <= H; j += 4) {
      const u = <usize>j << 2, o = s0 + u;
      backward4(gates + g0 + u, rec + g0 + u, hBytes, hPrev + o, dh + o, dhRec + o, dGates + g0 + u, dRec + g0 + u, 4);
    }
    for (; j < H; j++) {
      const u = <usize>j << 2, o = s0 + u;
      backward4(gates + g0 + u, rec + g0 + u, hBytes, hPrev + o, dh + o, dhRec + o, dGates + g0 + u, dRec + g0 + u, 1);
    }
  }
}
