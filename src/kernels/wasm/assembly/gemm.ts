// The SIMD128 GEMM: C[M, N] (+)= op(A)·op(B) over packed panels with a register-blocked micro-kernel.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// The loop nest is BLIS's: for each NC-wide column block of C, for each KC-deep slice of K,
// pack op(B)[KC, NC] into NR-wide panels; for each MC-tall row block, pack op(A)[MC, KC] into
// MR-tall panels; then every MR×NR tile of C gets kc rank-1 updates from one A panel and one
// B panel. Packing makes all four transpose layouts look the same to the micro-kernel and
// keeps its loads contiguous: a B panel (KC·NR·4 = 8 KiB) stays in L1, an A block
// (MC·KC·4 ≈ 128 KiB) in L2. Pointers are byte offsets into the shared memory; ld* are row
// strides in floats. Each thread calls gemm() on its own rectangle [m0, m1) × [n0, n1) of C
// with its own scratch, so threads never write the same bytes.

// Micro-tile: MR rows × NR columns of C, kept in MR·NR/4 f32x4 accumulators. V8 has 16 xmm
// registers for wasm SIMD (one is its scratch). With a separate mul and add each product needs a
// temporary: 4×8 (8 accumulators + 2 B vectors + 1 broadcast + 1 product) fits, 6×8 spills. A
// fused multiply-add (the relaxed module) needs no temporary, so 6×8 (12 + 2 + 1 = 15) fits and
// loads fewer B vectors per flop: alone in a loop, 48 GFLOP/s against 4×8's 42 on one core here.
export const MR: i32 = ASC_FEATURE_RELAXED_SIMD ? 6 : 4;
export const NR: i32 = 8;
const KC: i32 = 256;
// A multiple of MR, so only a block's last rows can make a partial tile.
const MC: i32 = ASC_FEATURE_RELAXED_SIMD ? 120 : 128;
const NC: i32 = 2048;

/** MR of this module, which the backend cuts rows by (4, or 6 in the relaxed module). */
export function microTileRows(): i32 {
  return MR;
}

/** Bytes of scratch one thread needs: an A block, a B block and one spill tile. */
export function gemmScratchBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) * 4;
}

// dst[(k, r)] for the 4×4 block of rows src0..src3 (each 4 floats at k..k+3): a transpose.
@inline function transpose4(r0: v128, r1: v128, r2: v128, r3: v128, dst: usize, stride: usize): void {
  const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5);
  const t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
  const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5);
  const t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
  v128.store(dst, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5));
  v128.store(dst + stride, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7));
  v128.store(dst + 2 * stride, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5));
  v128.store(dst + 3 * stride, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7));
}

// Packs op(A)[i0 : i0+mc, p0 : p0+kc] as MR-row panels, each laid out [kc, MR], the last
// panel padded with zeros. op(A)[i, k] = transA ? a[k*lda + i] : a[i*lda + k].
function packA(a: usize, lda: i32, transA: i32, i0: i32, mc: i32, p0: i32, kc: i32, dst: usize): void {
  const rowBytes = <usize>lda << 2;
  const kBytes = <usize>MR << 2; // one k of a panel
  for (let ir = 0; ir < mc; ir += MR) {
    const rows = min(MR, mc - ir);
    const panel = dst + (<usize>(ir * kc) << 2);
    if (transA) {
      // op(A) column k is contiguous in a: MR floats per k straight from memory.
      const src = a + ((<usize>p0 * lda + i0 + ir) << 2);
      if (rows == MR) {
        for (let k = 0; k < kc; k++) {
          const s = src + <usize>k * rowBytes, d = panel + <usize>k * kBytes;
          v128.store(d, v128.load(s));
          if (MR == 6) store<u64>(d, load<u64>(s, 16), 16);
        }
      } else {
        for (let k = 0; k < kc; k++) {
          for (let r = 0; r < MR; r++) {
            const v: f32 = r < rows ? load<f32>(src + <usize>k * rowBytes + (<usize>r << 2)) : 0;
            store<f32>(panel + (<usize>(k * MR + r) << 2), v);
          }
        }
      }
    } else {
      // Rows of a are contiguous along k: transpose 4×4 blocks into the [kc, MR] panel (and, for
      // MR = 6, rows 4 and 5 interleaved in pairs after each k's first four).
      const src = a + ((<usize>(i0 + ir) * lda + p0) << 2);
      let k = 0;
      if (rows == MR) {
        for (; k + 4 <= kc; k += 4) {
          const s = src + (<usize>k << 2), d = panel + <usize>k * kBytes;
          transpose4(v128.load(s), v128.load(s + rowBytes), v128.load(s + 2 * rowBytes),
            v128.load(s + 3 * rowBytes), d, kBytes);
          if (MR == 6) {
            const r4 = v128.load(s + 4 * rowBytes), r5 = v128.load(s + 5 * rowBytes);
            const lo = v128.shuffle<f32>(r4, r5, 0, 4, 1, 5), hi = v128.shuffle<f32>(r4, r5, 2, 6, 3, 7);
            v128.store64_lane(d + 16, lo, 0); v128.store64_lane(d + kBytes + 16, lo, 1);
            v128.store64_lane(d + 2 * kBytes + 16, hi, 0); v128.store64_lane(d + 3 * kBytes + 16, hi, 1);
          }
        }
      }
      for (; k < kc; k++) {
        for (let r = 0; r < MR; r++) {
          const v: f32 = r < rows ? load<f32>(src + <usize>r * rowBytes + (<usize>k << 2)) : 0;
          store<f32>(panel + (<usize>(k * MR + r) << 2), v);
        }
      }
    }
  }
}

// Packs op(B)[p0 : p0+kc, j0 : j0+nc] as NR-column panels, each laid out [kc, NR], the last
// panel padded with zeros. op(B)[k, j] = transB ? b[j*ldb + k] : b[k*ldb + j].
function packB(b: usize, ldb: i32, transB: i32, p0: i32, kc: i32, j0: i32, nc: i32, dst: usize): void {
  const rowBytes = <usize>ldb << 2;
  for (let jr = 0; jr < nc; jr += NR) {
    const cols = min(NR, nc - jr);
    const panel = dst + (<usize>(jr * kc) << 2);
    if (!transB) {
      // Row k of B holds the panel's NR values contiguously.
      const src = b + ((<usize>p0 * ldb + j0 + jr) << 2);
      if (cols == NR) {
        for (let k = 0; k < kc; k++) {
          const s = src + <usize>k * rowBytes;
          const d = panel + (<usize>k << 5);
          v128.store(d, v128.load(s));
          v128.store(d, v128.load(s, 16), 16);
        }
      } else {
        for (let k = 0; k < kc; k++) {
          for (let j = 0; j < NR; j++) {
            const v: f32 = j < cols ? load<f32>(src + <usize>k * rowBytes + (<usize>j << 2)) : 0;
            store<f32>(panel + (<usize>(k * NR + j) << 2), v);
          }
        }
      }
    } else {
      // Rows of b (columns of op(B)) are contiguous along k: transpose two 4×4 blocks per 4 k.
      const src = b + ((<usize>(j0 + jr) * ldb + p0) << 2);
      let k = 0;
      if (cols == NR) {
        for (; k + 4 <= kc; k += 4) {
          const s = src + (<usize>k << 2);
          const d = panel + (<usize>k << 5);
          transpose4(v128.load(s), v128.load(s + rowBytes), v128.load(s + 2 * rowBytes),
            v128.load(s + 3 * rowBytes), d, 32);
          const s4 = s + 4 * rowBytes;
          transpose4(v128.load(s4), v128.load(s4 + rowBytes), v128.load(s4 + 2 * rowBytes),
            v128.load(s4 + 3 * rowBytes), d + 16, 32);
        }
      }
      for (; k < kc; k++) {
        for (let j = 0; j < NR; j++) {
          const v: f32 = j < cols ? load<f32>(src + <usize>j * rowBytes + (<usize>k << 2)) : 0;
          store<f32>(panel + (<usize>(k * NR + j) << 2), v);
        }
      }
    }
  }
}

// acc + a·b. Built with relaxed SIMD (kernels-relaxed.wasm, `--enable relaxed-simd`) it is one
// f32x4.relaxed_madd: a fused multiply-add where the CPU has one (one rounding; V8 emits vfmadd on
// x64 with FMA3), else the same mul and add. The engine picks one form per process, so every
// thread sums the same way. The plain module (kernels.wasm) keeps the separate mul and add.
@inline function madd4(a: v128, b: v128, acc: v128): v128 {
  if (ASC_FEATURE_RELAXED_SIMD) return f32x4.relaxed_madd(a, b, acc);
  return f32x4.add(acc, f32x4.mul(a, b));
}

// One MR×NR tile: C[0:rows, 0:cols] (+)= Apanel[kc, MR]ᵀ · Bpanel[kc, NR]. Full tiles go
// straight to C; edge tiles go through tmp so the padded lanes are never written.
// A tile of fewer rows than MR (the last of a product whose M is not a multiple of MR: a
// per-step product of B = 32 rows is 5 tiles of 6 and one of 2) runs a kernel with only the
// accumulators it needs: the full kernel would spend 6 rows' work on 2. Every element is the
// same fused sum in the same k order whichever kernel computes it, so results keep their bits.
@inline function microKernel(
  kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: i32,
  rows: i32, cols: i32, tmp: usize,
): void {
  if (rows <= 2) microKernelRows2(kc, ap, bp, c, ldc, accumulate, rows, cols, tmp);
  else if (rows <= 4) microKernel4(kc, ap, bp, c, ldc, accumulate, rows, cols, tmp);
  else microKernel6(kc, ap, bp, c, ldc, accumulate, rows, cols, tmp);
}

// Rows 0..1 of an MR-row A panel (still MR floats per k) times one B panel, via tmp.
function microKernelRows2(
  kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: i32,
  rows: i32, cols: i32, tmp: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd4(a, b0, c00); c01 = madd4(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd4(a, b0, c10); c11 = madd4(a, b1, c11);
    ap += <usize>MR << 2;
    bp += 32;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  storeEdge(tmp, c, <usize>ldc << 2, accumulate, rows, cols);
}

// c (+)= acc for one row of a tile: two vectors at p.
@inline function storeRow(p: usize, lo: v128, hi: v128, accumulate: i32): void {
  if (accumulate) {
    v128.store(p, f32x4.add(v128.load(p), lo)); v128.store(p, f32x4.add(v128.load(p, 16), hi), 16);
  } else {
    v128.store(p, lo); v128.store(p, hi, 16);
  }
}

// An edge tile's rows × cols from tmp ([MR, NR], already holding the tile) into C.
@inline function storeEdge(tmp: usize, c: usize, rowBytes: usize, accumulate: i32, rows: i32, cols: i32): void {
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      const dst = c + <usize>r * rowBytes + (<usize>j << 2);
      const v = load<f32>(tmp + (<usize>(r * NR + j) << 2));
      store<f32>(dst, accumulate ? load<f32>(dst) + v : v);
    }
  }
}

// The 6×8 tile of the relaxed module: twelve accumulators, every update one fused madd4.
function microKernel6(
  kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: i32,
  rows: i32, cols: i32, tmp: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  let c40 = f32x4.splat(0), c41 = f32x4.splat(0);
  let c50 = f32x4.splat(0), c51 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd4(a, b0, c00); c01 = madd4(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd4(a, b0, c10); c11 = madd4(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd4(a, b0, c20); c21 = madd4(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd4(a, b0, c30); c31 = madd4(a, b1, c31);
    a = v128.load32_splat(ap, 16);
    c40 = madd4(a, b0, c40); c41 = madd4(a, b1, c41);
    a = v128.load32_splat(ap, 20);
    c50 = madd4(a, b0, c50); c51 = madd4(a, b1, c51);
    ap += 24;
    bp += 32;
  }
  const rowBytes = <usize>ldc << 2;
  if (rows == 6 && cols == NR) {
    storeRow(c, c00, c01, accumulate);
    storeRow(c + rowBytes, c10, c11, accumulate);
    storeRow(c + 2 * rowBytes, c20, c21, accumulate);
    storeRow(c + 3 * rowBytes, c30, c31, accumulate);
    storeRow(c + 4 * rowBytes, c40, c41, accumulate);
    storeRow(c + 5 * rowBytes, c50, c51, accumulate);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  v128.store(tmp, c40, 128); v128.store(tmp, c41, 144);
  v128.store(tmp, c50, 160); v128.store(tmp, c51, 176);
  storeEdge(tmp, c, rowBytes, accumulate, rows, cols);
}

// The 4×8 tile of the plain module, and rows 0..3 of the relaxed module's 6-row panels.
function microKernel4(
  kc: i32, ap: usize, bp: usize, c: usize, ldc: i32, accumulate: i32,
  rows: i32, cols: i32, tmp: usize,
): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(bp);
    const b1 = v128.load(bp, 16);
    let a = v128.load32_splat(ap);
    c00 = madd4(a, b0, c00);
    c01 = madd4(a, b1, c01);
    a = v128.load32_splat(ap, 4);
    c10 = madd4(a, b0, c10);
    c11 = madd4(a, b1, c11);
    a = v128.load32_splat(ap, 8);
    c20 = madd4(a, b0, c20);
    c21 = madd4(a, b1, c21);
    a = v128.load32_splat(ap, 12);
    c30 = madd4(a, b0, c30);
    c31 = madd4(a, b1, c31);
    ap += <usize>MR << 2;
    bp += 32;
  }
  const rowBytes = <usize>ldc << 2;
  if (rows == 4 && cols == NR) {
    storeRow(c, c00, c01, accumulate);
    storeRow(c + rowBytes, c10, c11, accumulate);
    storeRow(c + 2 * rowBytes, c20, c21, accumulate);
    storeRow(c + 3 * rowBytes, c30, c31, accumulate);
    return;
  }
  v128.store(tmp, c00); v128.store(tmp, c01, 16);
  v128.store(tmp, c10, 32); v128.store(tmp, c11, 48);
  v128.store(tmp, c20, 64); v128.store(tmp, c21, 80);
  v128.store(tmp, c30, 96); v128.store(tmp, c31, 112);
  storeEdge(tmp, c, rowBytes, accumulate, rows, cols);
}

// C rows [m0, m1) × columns [n0, n1) for a product with fewer rows than a micro-tile (a GEMV
// when sampling one stream): no packing, B read once in its stored layout, each row of op(A)
// copied to contiguous scratch first when A is transposed. Its ~80 lines are one GEMV in B's two
// layouts, each written out lane by lane as the micro-kernels above are: kept whole, beside them.
function gemmFewRows(
  K: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  c: usize, ldc: i32, accumulate: i32, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize,
): void {
  for (let m = m0; m < m1; m++) {
    let row = a + (<usize>m * lda << 2);
    if (transA) {
      for (let k = 0; k < K; k++) store<f32>(scratch + (<usize>k << 2), load<f32>(a + ((<usize>k * lda + m) << 2)));
      row = scratch;
    }
    const crow = c + (<usize>m * ldc << 2);
    if (transB) {
      // C[m, n] = row · b[n, :], four columns at a time sharing each load of row.
      let n = n0;
      for (; n + 4 <= n1; n += 4) {
        const b0 = b + (<usize>n * ldb << 2), b1 = b0 + (<usize>ldb << 2);
        const b2 = b1 + (<usize>ldb << 2), b3 = b2 + (<usize>ldb << 2);
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= K; k += 4) {
          const o = <usize>k << 2;
          const x = v128.load(row + o);
          s0 = f32x4.add(s0, f32x4.mul(x, v128.load(b0 + o)));
          s1 = f32x4.add(s1, f32x4.mul(x, v128.load(b1 + o)));
          s2 = f32x4.add(s2, f32x4.mul(x, v128.load(b2 + o)));
          s3 = f32x4.add(s3, f32x4.mul(x, v128.load(b3 + o)));
        }
        // Horizontal sums of s0..s3 into one vector: lane j = Σ lanes of sj.
        const t0 = f32x4.add(v128.shuffle<f32>(s0, s1, 0, 4, 1, 5), v128.shuffle<f32>(s0, s1, 2, 6, 3, 7));
        const t1 = f32x4.add(v128.shuffle<f32>(s2, s3, 0, 4, 1, 5), v128.shuffle<f32>(s2, s3, 2, 6, 3, 7));
        let sums = f32x4.add(v128.shuffle<f32>(t0, t1, 0, 1, 4, 5), v128.shuffle<f32>(t0, t1, 2, 3, 6, 7));
        for (; k < K; k++) {
          const o = <usize>k << 2;
          const x = f32x4.splat(load<f32>(row + o));
          const col = f32x4.replace_lane(f32x4.replace_lane(f32x4.replace_lane(
            f32x4.splat(load<f32>(b0 + o)), 1, load<f32>(b1 + o)), 2, load<f32>(b2 + o)), 3, load<f32>(b3 + o));
          sums = f32x4.add(sums, f32x4.mul(x, col));
        }
        const dst = crow + (<usize>n << 2);
        v128.store(dst, accumulate ? f32x4.add(v128.load(dst), sums) : sums);
      }
      for (; n < n1; n++) {
        const bn = b + (<usize>n * ldb << 2);
        let s4 = f32x4.splat(0);
        let k = 0;
        for (; k + 4 <= K; k += 4) s4 = f32x4.add(s4, f32x4.mul(v128.load(row + (<usize>k << 2)), v128.load(bn + (<usize>k << 2))));
        let sum = f32x4.extract_lane(s4, 0) + f32x4.extract_lane(s4, 1) + f32x4.extract_lane(s4, 2) + f32x4.extract_lane(s4, 3);
        for (; k < K; k++) sum += load<f32>(row + (<usize>k << 2)) * load<f32>(bn + (<usize>k << 2));
        const dst = crow + (<usize>n << 2);
        store<f32>(dst, accumulate ? load<f32>(dst) + sum : sum);
      }
    } else {
      // C[m, n0:n1] = Σ_k row[k] · b[k, n0:n1], sixteen columns held in registers over all k.
      let n = n0;
      for (; n + 16 <= n1; n += 16) {
        const dst = crow + (<usize>n << 2);
        let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
        let bk = b + (<usize>n << 2);
        for (let k = 0; k < K; k++) {
          const x = v128.load32_splat(row + (<usize>k << 2));
          s0 = f32x4.add(s0, f32x4.mul(x, v128.load(bk)));
          s1 = f32x4.add(s1, f32x4.mul(x, v128.load(bk, 16)));
          s2 = f32x4.add(s2, f32x4.mul(x, v128.load(bk, 32)));
          s3 = f32x4.add(s3, f32x4.mul(x, v128.load(bk, 48)));
          bk += <usize>ldb << 2;
        }
        if (accumulate) {
          s0 = f32x4.add(s0, v128.load(dst)); s1 = f32x4.add(s1, v128.load(dst, 16));
          s2 = f32x4.add(s2, v128.load(dst, 32)); s3 = f32x4.add(s3, v128.load(dst, 48));
        }
        v128.store(dst, s0); v128.store(dst, s1, 16); v128.store(dst, s2, 32); v128.store(dst, s3, 48);
      }
      for (; n < n1; n++) {
        let sum: f32 = 0;
        for (let k = 0; k < K; k++) sum += load<f32>(row + (<usize>k << 2)) * load<f32>(b + ((<usize>k * ldb + n) << 2));
        const dst = crow + (<usize>n << 2);
        store<f32>(dst, accumulate ? load<f32>(dst) + sum : sum);
      }
    }
  }
}

/**
 * C[m0:m1, n0:n1] (+)= (op(A)·op(B))[m0:m1, n0:n1], op(A): [M, K], op(B): [K, N].
 * a: [M, K] or, with transA, [K, M]; b: [K, N] or, with transB, [N, K]; c: [M, N].
 * scratch: gemmScratchBytes() bytes owned by the calling thread.
 */
export function gemm(
  M: i32, N: i32, K: i32,
  a: usize, lda: i32, transA: i32,
  b: usize, ldb: i32, transB: i32,
  c: usize, ldc: i32, accumulate: i32,
  m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize,
): void {
  if (m0 >= m1 || n0 >= n1) return;
  if (K == 0) {
    // An empty sum: out = 0, or out unchanged when accumulating.
    if (!accumulate) {
      for (let i = m0; i < m1; i++) {
        memory.fill(c + ((<usize>i * ldc + n0) << 2), 0, <usize>(n1 - n0) << 2);
      }
    }
    return;
  }
  // (A transposed row is gathered into scratch, so it must fit: K ≤ ~557k, far above any T·B.)
  if (m1 - m0 < MR && (!transA || K <= MC * KC + KC * NC)) {
    gemmFewRows(K, a, lda, transA, b, ldb, transB, c, ldc, accumulate, m0, m1, n0, n1, scratch);
    return;
  }
  const aPack = scratch;
  const bPack = aPack + (<usize>(MC * KC) << 2);
  const tmp = bPack + (<usize>(KC * NC) << 2);
  const rowBytes = <usize>ldc << 2;
  for (let jc = n0; jc < n1; jc += NC) {
    const nc = min(NC, n1 - jc);
    for (let pc = 0; pc < K; pc += KC) {
      const kc = min(KC, K - pc);
      // After the first K slice the tile already holds this product's partial sum.
      const acc = accumulate || pc > 0 ? 1 : 0;
      packB(b, ldb, transB, pc, kc, jc, nc, bPack);
      for (let ic = m0; ic < m1; ic += MC) {
        const mc = min(MC, m1 - ic);
        packA(a, lda, transA, ic, mc, pc, kc, aPack);
        for (let jr = 0; jr < nc; jr += NR) {
          const bp = bPack + (<usize>(jr * kc) << 2);
          const cols = min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            microKernel(
              kc, aPack + (<usize>(ir * kc) << 2), bp,
              c + <usize>(ic + ir) * rowBytes + (<usize>(jc + jr) << 2), ldc, acc,
              min(MR, mc - ir), cols, tmp,
            );
          }
        }
      }
    }
  }
}

// ---- op(B) packed once, shared by every thread and every call until B changes -------------
// The layout gemm() builds per KC slice, for all of K and N at once: slice pc (K rows
// pc..pc+kc) starts at float pc·Npad, Npad = N rounded up to NR; within it, panel jr (columns
// jr..jr+NR) is [kc, NR] at float jr·kc. A per-step recurrent product ([B, H]·W_hhᵀ) then packs
// no B at all, and a product split by rows packs B once instead of once per chunk.

@inline function paddedN(N: i32): i32 {
  return (N + NR - 1) / NR * NR;
}

/** Floats packBPanels needs for op(B): [K, N]. */
export function packedBFloats(K: i32, N: i32): i32 {
  return K * paddedN(N);
}

/** Packs the NR-column panels [p0, p1) of op(B)[K, N], over all K, into dst (layout above). */
export function packBPanels(K: i32, N: i32, b: usize, ldb: i32, transB: i32, p0: i32, p1: i32, dst: usize): void {
  const nPad = paddedN(N);
  const j0 = p0 * NR, j1 = min(N, p1 * NR);
  if (j0 >= j1) return;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    packB(b, ldb, transB, pc, kc, j0, j1 - j0, dst + (<usize>(pc * nPad + j0 * kc) << 2));
  }
}

/**
 * C[m0:m1, n0:n1] (+)= (op(A)·op(B))[m0:m1, n0:n1] with op(B) already packed by packBPanels
 * into bp; n0 on a panel edge (a multiple of NR). The same K slices and micro-kernel as gemm(),
 * so every element is summed in the same order, whatever rectangle computes it.
 */
export function gemmPackedB(
  M: i32, N: i32, K: i32, a: usize, lda: i32, transA: i32, bp: usize,
  c: usize, ldc: i32, accumulate: i32, m0: i32, m1: i32, n0: i32, n1: i32, scratch: usize,
): void {
  if (m0 >= m1 || n0 >= n1) return;
  if (K == 0) {
    if (!accumulate) {
      for (let i = m0; i < m1; i++) memory.fill(c + ((<usize>i * ldc + n0) << 2), 0, <usize>(n1 - n0) << 2);
    }
    return;
  }
  const nPad = paddedN(N);
  const aPack = scratch;
  const tmp = aPack + (<usize>(MC * KC + KC * NC) << 2);
  const rowBytes = <usize>ldc << 2;
  for (let pc = 0; pc < K; pc += KC) {
    const kc = min(KC, K - pc);
    const acc = accumulate || pc > 0 ? 1 : 0;
    const slice = bp + (<usize>(pc * nPad) << 2);
    for (let ic = m0; ic < m1; ic += MC) {
      const mc = min(MC, m1 - ic);
      packA(a, lda, transA, ic, mc, pc, kc, aPack);
      for (let jr = n0; jr < n1; jr += NR) {
        const panel = slice + (<usize>(jr * kc) << 2);
        const cols = min(NR, n1 - jr);
        for (let ir = 0; ir < mc; ir += MR) {
          microKernel(
            kc, aPack + (<usize>(ir * kc) << 2), panel,
            c + <usize>(ic + ir) * rowBytes + (<usize>jr << 2), ldc, acc,
            min(MR, mc - ir), cols, tmp,
          );
        }
      }
    }
  }
}
