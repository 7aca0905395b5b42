// Products with int8 weights (quantised sampling): C[M, N] (+)= A[M, K] · Wᵀ, W = scale ⊙ q.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// Each row of A is rounded to int16 with its own scale (max|a| / 32767), and every dot product is
// summed in integers by i32x4.dot_i16x8_s over int8 weights widened to int16: per 16 weights one
// 16-byte load, two widenings, two dots and two adds, against the float GEMV's four 16-byte
// loads, four multiplies and four adds, and a quarter of the bytes. (Dequantising to float in
// the kernel instead costs more instructions than the float kernel: four widenings and a
// convert per four weights. Relaxed SIMD's i8 dot needs 7-bit operands and is
// implementation-defined past them.) The integer sums are exact, so the result depends on
// neither the thread split nor the SIMD path, and the only rounding beside the weights' is A's
// to 16 bits: ≤ max|a| / 65534 per element.
//
// Layout (made by the backend from quantizeRows): q [N, Kp] int8 row-major, Kp = K rounded up to
// 16 with zero padding; scales [N] float32. scratch holds an M block of A's rows as int16 [Kp]
// and their scales.

import { gemmScratchBytes } from './gemm';

/**
 * k per integer block: a lane sums 4 products per 16 k, each |p| ≤ 127 · 32767 < 2^22, so 256 k
 * keep a lane under 2^28 and the four lanes' total under 2^30: no int32 overflows.
 */
const KB: i32 = 256;
/** Rows of A rounded at once: 64 rows of int16 (64 KiB at K = 512) stay in L2 over all of W. */
const MB: i32 = 64;

@inline function paddedK(K: i32): i32 {
  return (K + 15) & ~15;
}

/** Kp: the int8 row length of W (K rounded up to 16). */
export function quantRowBytes(K: i32): i32 {
  return paddedK(K);
}

// x[0:K] → int16 at dst[0:Kp] (zeros past K); returns the scale. A NaN row gives scale NaN (and
// the saturating conversion zeros), so NaN comes out as it went in.
function roundRow16(x: usize, K: i32, kp: i32, dst: usize): f32 {
  let amax: f32 = 0;
  for (let k = 0; k < K; k++) amax = max(amax, abs(load<f32>(x + (<usize>k << 2))));
  const inv: f32 = amax > 0 ? <f32>32767 / amax : 0;
  for (let k = 0; k < K; k++) {
    store<i16>(dst + (<usize>k << 1), <i16><i32>nearest(load<f32>(x + (<usize>k << 2)) * inv));
  }
  for (let k = K; k < kp; k++) store<i16>(dst + (<usize>k << 1), 0);
  return amax / <f32>32767;
}

// Σ_k x[k] · w[k] over [kb, ke) for four rows of W at once, lane j the sum of row j: exact.
@inline function dot4(x: usize, w0: usize, w1: usize, w2: usize, w3: usize, kb: i32, ke: i32): v128 {
  let s0 = i32x4.splat(0), s1 = i32x4.splat(0), s2 = i32x4.splat(0), s3 = i32x4.splat(0);
  for (let k = kb; k < ke; k += 16) {
    const xo = x + (<usize>k << 1);
    const xlo = v128.load(xo), xhi = v128.load(xo, 16);
    const o = <usize>k;
    let w = v128.load(w0 + o);
    s0 = i32x4.add(s0, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), xlo));
    s0 = i32x4.add(s0, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), xhi));
    w = v128.load(w1 + o);
    s1 = i32x4.add(s1, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), xlo));
    s1 = i32x4.add(s1, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), xhi));
    w = v128.load(w2 + o);
    s2 = i32x4.add(s2, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), xlo));
    s2 = i32x4.add(s2, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), xhi));
    w = v128.load(w3 + o);
    s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(w), xlo));
    s3 = i32x4.add(s3, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(w), xhi));
  }
  // Horizontal sums, still in integers: lane j = Σ lanes of sj.
  const t0 = i32x4.add(v128.shuffle<i32>(s0, s1, 0, 4, 1, 5), v128.shuffle<i32>(s0, s1, 2, 6, 3, 7));
  const t1 = i32x4.add(v128.shuffle<i32>(s2, s3, 0, 4, 1, 5), v128.shuffle<i32>(s2, s3, 2, 6, 3, 7));
  return i32x4.add(v128.shuffle<i32>(t0, t1, 0, 1, 4, 5), v128.shuffle<i32>(t0, t1, 2, 3, 6, 7));
}

// The same sum for one row of W, in the same integers (so it equals dot4's lane bit for bit).
@inline function dot1(x: usize, w: usize, kb: i32, ke: i32): i32 {
  let s = i32x4.splat(0);
  for (let k = kb; k < ke; k += 16) {
    const xo = x + (<usize>k << 1);
    const v = v128.load(w + <usize>k);
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_low_i8x16_s(v), v128.load(xo)));
    s = i32x4.add(s, i32x4.dot_i16x8_s(i16x8.extend_high_i8x16_s(v), v128.load(xo, 16)));
  }
  return i32x4.extract_lane(s, 0) + i32x4.extract_lane(s, 1) + i32x4.extract_lane(s, 2) + i32x4.extract_lane(s, 3);
}

/**
 * C[0:M, n0:n1] (+)= A · Wᵀ for columns [n0, n1) (a thread's share): a [M, K] (row stride lda
 * floats), q [N, Kp] int8 with scales [N], c [M, N] (row stride ldc). Per element: the integer
 * sums of each KB block of k, converted and added in float32, times scale[n] · scale_a[m].
 */
export function gemmQ8(
  M: i32, N: i32, K: i32, a: usize, lda: i32, q: usize, scales: usize,
  c: usize, ldc: i32, accumulate: i32, n0: i32, n1: i32, scratch: usize,
): void {
  if (M <= 0 || n0 >= n1) return;
  const kp = paddedK(K);
  const rowBytes = <usize>kp << 1;
  // A block of rows as int16 must fit this thread's scratch, after MB scales.
  const fit = (gemmScratchBytes() - (MB << 2)) / <i32>rowBytes;
  const mb = max(1, min(MB, fit));
  const aScales = scratch;
  const aRows = scratch + (<usize>MB << 2);
  for (let m0 = 0; m0 < M; m0 += mb) {
    const rows = min(mb, M - m0);
    for (let r = 0; r < rows; r++) {
      store<f32>(aScales + (<usize>r << 2), roundRow16(a + (<usize>(m0 + r) * lda << 2), K, kp, aRows + <usize>r * rowBytes));
    }
    let n = n0;
    for (; n + 4 <= n1; n += 4) {
      const w0 = q + <usize>n * kp, w1 = w0 + <usize>kp, w2 = w1 + <usize>kp, w3 = w2 + <usize>kp;
      const ws = v128.load(scales + (<usize>n << 2));
      for (let r = 0; r < rows; r++) {
        const x = aRows + <usize>r * rowBytes;
        let f = f32x4.splat(0);
        for (let kb = 0; kb < kp; kb += KB) f = f32x4.add(f, f32x4.convert_i32x4_s(dot4(x, w0, w1, w2, w3, kb, min(kp, kb + KB))));
        let v = f32x4.mul(f, f32x4.mul(ws, f32x4.splat(load<f32>(aScales + (<usize>r << 2)))));
        const dst = c + ((<usize>(m0 + r) * ldc + n) << 2);
        if (accumulate) v = f32x4.add(v128.load(dst), v);
        v128.store(dst, v);
      }
    }
    for (; n < n1; n++) {
      const w = q + <usize>n * kp;
      const ws = load<f32>(scales + (<usize>n << 2));
      for (let r = 0; r < rows; r++) {
        const x = aRows + <usize>r * rowBytes;
        let f: f32 = 0;
        for (let kb = 0; kb < kp; kb += KB) f += <f32>dot1(x, w, kb, min(kp, kb + KB));
        let v = f * (ws * load<f32>(aScales + (<usize>r << 2)));
        const dst = c + ((<usize>(m0 + r) * ldc + n) << 2);
        if (accumulate) v += load<f32>(dst);
        store<f32>(dst, v);
      }
    }
  }
}

/**
 * w [N, K] float32 (row stride K) → q [N, Kp] int8 (zero padding) and scales [N], by the rule of
 * quantizeRows (src/kernels/backend.ts) bit for bit: scale = max|w| / 127 in float32, q = w / scale
 * in float32 rounded half to even. SIMD, so a 2x512 model (4M weights) quantises in a few ms at
 * sampling's start-up. Returns the first row holding a NaN or an infinity (f32.max keeps a NaN),
 * else -1.
 */
export function quantizeQ8(w: usize, N: i32, K: i32, q: usize, scales: usize): i32 {
  const kp = paddedK(K);
  for (let n = 0; n < N; n++) {
    const row = w + (<usize>n * K << 2);
    let m4 = f32x4.splat(0);
    let k = 0;
    for (; k + 4 <= K; k += 4) m4 = f32x4.max(m4, f32x4.abs(v128.load(row + (<usize>k << 2))));
    let amax = max(max(f32x4.extract_lane(m4, 0), f32x4.extract_lane(m4, 1)), max(f32x4.extract_lane(m4, 2), f32x4.extract_lane(m4, 3)));
    for (; k < K; k++) amax = max(amax, abs(load<f32>(row + (<usize>k << 2))));
    if (!isFinite<f32>(amax)) return n;
    const scale: f32 = amax / <f32>127;
    store<f32>(scales + (<usize>n << 2), scale);
    const dst = q + <usize>n * kp;
    if (scale == 0) {
      memory.fill(dst, 0, <usize>kp);
      continue;
    }
    const s4 = f32x4.splat(scale);
    k = 0;
    for (; k + 16 <= K; k += 16) {
      const o = row + (<usize>k << 2);
      const i0 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(o), s4)));
      const i1 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(o, 16), s4)));
      const i2 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(o, 32), s4)));
      const i3 = i32x4.trunc_sat_f32x4_s(f32x4.nearest(f32x4.div(v128.load(o, 48), s4)));
      v128.store(dst + <usize>k, i8x16.narrow_i16x8_s(i16x8.narrow_i32x4_s(i0, i1), i16x8.narrow_i32x4_s(i2, i3)));
    }
    for (; k < K; k++) store<i8>(dst + <usize>k, <i8><i32>nearest(load<f32>(row + (<usize>k << 2)) / scale));
    for (; k < kp; k++) store<i8>(dst + <usize>k, 0);
  }
  return -1;
}
