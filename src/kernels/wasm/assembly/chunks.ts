// Chunked entry points for the thread pool: the same kernels over one of `chunks` slices.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// The pool hands chunks out dynamically (whichever thread is free takes the next one), so each
// entry point maps (chunks, chunk) to its slice here, from the job's shared arguments. The last
// two arguments are the chunk index and the calling thread's GEMM scratch. The cell kernels
// (cells/) take the same two arguments and cut their rows themselves.

import { gemm, gemmPackedB, packBPanels, MR, NR } from './gemm';
import { gemmQ8 } from './quant';
import { addRowVector, sumRows } from './pointwise';
import { mul } from './elementwise';
import { adamStep } from './adam';

// [lo, hi) of chunk `chunk` when `units` are cut into `chunks` near-equal slices.
@inline function sliceStart(units: i32, chunks: i32, chunk: i32): i32 {
  return <i32>((<i64>units * chunk) / chunks);
}

/** gemm on one slice of C: rows (byRows) or columns, cut on micro-tile edges. */
export function gemmChunk(
  M: i32, N: i32, K: i32, a: usize, lda: i32, transA: i32, b: usize, ldb: i32, transB: i32,
  c: usize, ldc: i32, accumulate: i32, byRows: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const unit = byRows ? MR : NR;
  const extent = byRows ? M : N;
  const units = (extent + unit - 1) / unit;
  const lo = min(extent, sliceStart(units, chunks, chunk) * unit);
  const hi = min(extent, sliceStart(units, chunks, chunk + 1) * unit);
  if (byRows) gemm(M, N, K, a, lda, transA, b, ldb, transB, c, ldc, accumulate, lo, hi, 0, N, scratch);
  else gemm(M, N, K, a, lda, transA, b, ldb, transB, c, ldc, accumulate, 0, M, lo, hi, scratch);
}

/** packBPanels on one slice of op(B)'s NR-column panels. */
export function packBChunk(
  K: i32, N: i32, b: usize, ldb: i32, transB: i32, dst: usize, chunks: i32, chunk: i32, scratch: usize,
): void {
  const panels = (N + NR - 1) / NR;
  packBPanels(K, N, b, ldb, transB, sliceStart(panels, chunks, chunk), sliceStart(panels, chunks, chunk + 1), dst);
}

/**
 * gemmPackedB on one rectangle of C: its rows cut into rowChunks slices on micro-tile edges, its
 * columns into chunks / rowChunks slices on panel edges. Chunk i is row slice i % rowChunks of
 * column slice i / rowChunks, so chunks claimed one after another share their B panels.
 */
export function gemmPackedBChunk(
  M: i32, N: i32, K: i32, a: usize, lda: i32, transA: i32, bp: usize,
  c: usize, ldc: i32, accumulate: i32, rowChunks: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const colChunks = chunks / rowChunks;
  const rowChunk = chunk % rowChunks, colChunk = chunk / rowChunks;
  const tiles = (M + MR - 1) / MR;
  const m0 = min(M, sliceStart(tiles, rowChunks, rowChunk) * MR);
  const m1 = min(M, sliceStart(tiles, rowChunks, rowChunk + 1) * MR);
  const panels = (N + NR - 1) / NR;
  const n0 = min(N, sliceStart(panels, colChunks, colChunk) * NR);
  const n1 = min(N, sliceStart(panels, colChunks, colChunk + 1) * NR);
  gemmPackedB(M, N, K, a, lda, transA, bp, c, ldc, accumulate, m0, m1, n0, n1, scratch);
}

/** gemmQ8 on one slice of C's columns, cut on 4-column edges (its dot4). */
export function gemmQ8Chunk(
  M: i32, N: i32, K: i32, a: usize, lda: i32, q: usize, scales: usize,
  c: usize, ldc: i32, accumulate: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const units = (N + 3) / 4;
  const lo = min(N, sliceStart(units, chunks, chunk) * 4);
  const hi = min(N, sliceStart(units, chunks, chunk + 1) * 4);
  gemmQ8(M, N, K, a, lda, q, scales, c, ldc, accumulate, lo, hi, scratch);
}

// ---- memory-bound kernels, cut so that every element is computed as on one thread -------

/** addRowVector on one slice of out's rows. */
export function addRowVectorChunk(out: usize, bias: usize, rows: i32, cols: i32, chunks: i32, chunk: i32, scratch: usize): void {
  const r0 = sliceStart(rows, chunks, chunk), r1 = sliceStart(rows, chunks, chunk + 1);
  addRowVector(out + (<usize>r0 * cols << 2), bias, r1 - r0, cols);
}

/** sumRows on one slice of the columns, cut on 4-float edges: each column sums its rows in order. */
export function sumRowsChunk(
  a: usize, out: usize, rows: i32, cols: i32, accumulate: i32, chunks: i32, chunk: i32, scratch: usize,
): void {
  const quads = (cols + 3) / 4;
  const c0 = min(cols, sliceStart(quads, chunks, chunk) * 4), c1 = min(cols, sliceStart(quads, chunks, chunk + 1) * 4);
  if (c0 >= c1) return;
  const width = c1 - c0;
  const o = <usize>c0 << 2;
  if (!accumulate) memory.fill(out + o, 0, <usize>width << 2);
  // One row at a time over the slice: sumRows with a row stride of cols.
  for (let r = 0; r < rows; r++) sumRows(a + (<usize>r * cols << 2) + o, out + o, 1, width, 1);
}

/** mul on one slice of the n elements, cut on 4-float edges. */
export function mulChunk(a: usize, b: usize, out: usize, n: i32, chunks: i32, chunk: i32, scratch: usize): void {
  const quads = (n + 3) / 4;
  const i0 = min(n, sliceStart(quads, chunks, chunk) * 4), i1 = min(n, sliceStart(quads, chunks, chunk + 1) * 4);
  const o = <usize>i0 << 2;
  mul(a + o, b + o, out + o, i1 - i0);
}

/** adamStep on one slice of the n parameters; the float hyperparameters come as their bits. */
export function adamStepChunk(
  p: usize, g: usize, m: usize, v: usize, n: i32,
  lr: i32, beta1: i32, beta2: i32, eps: i32, bc1: i32, bc2: i32, scale: i32, decay: i32,
  chunks: i32, chunk: i32, scratch: usize,
): void {
  const quads = (n + 3) / 4;
  const i0 = min(n, sliceStart(quads, chunks, chunk) * 4), i1 = min(n, sliceStart(quads, chunks, chunk + 1) * 4);
  const o = <usize>i0 << 2;
  adamStep(p + o, g + o, m + o, v + o, i1 - i0,
    reinterpret<f32>(lr), reinterpret<f32>(beta1), reinterpret<f32>(beta2), reinterpret<f32>(eps),
    reinterpret<f32>(bc1), reinterpret<f32>(bc2), reinterpret<f32>(scale), reinterpret<f32>(decay));
}
