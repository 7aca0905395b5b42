// Chunked entry points for the thread pool: the same kernels over one of `chunks` slices.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// The pool hands chunks out dynamically (whichever thread is free takes the next one), so each
// entry point maps (chunks, chunk) to its slice here, from the job's shared arguments. The last
// two arguments are the chunk index and the calling thread's GEMM scratch. The cell kernels
// (cells/) take the same two arguments and cut their rows themselves.

import { gemm, gemmPackedB, packBPanels, MR, NR } from './gemm';
import { gemmQ8 } from './quant';

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
