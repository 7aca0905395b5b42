// What the cell kernels share: four-lane loads and stores with a one-lane tail, and row slices.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.
//
// A cell runs four hidden units at a time; a row's remainder units go one at a time through the
// same vector code in lane 0 (the other lanes hold zeros and are never stored). Lanes are
// independent IEEE operations, so a unit's value does not depend on which path computed it, nor
// on how rows are cut between threads: results are bit-identical for any thread count.

/** Four floats at p, or the one at p in lane 0. `lanes` is a constant at every inlined call. */
@inline export function load4(p: usize, lanes: i32): v128 {
  return lanes == 4 ? v128.load(p) : v128.load32_zero(p);
}

/** Stores four lanes at p, or lane 0 only. */
@inline export function store4(p: usize, v: v128, lanes: i32): void {
  if (lanes == 4) v128.store(p, v);
  else v128.store32_lane(p, v, 0);
}

/**
 * First row of slice `chunk` when B rows are cut into `chunks` near-equal slices. Every cell
 * kernel takes (…, B, H, chunks, chunk, scratch) and runs rows [rowStart(chunk), rowStart(chunk + 1)):
 * the thread pool calls it once per chunk, one thread calls it with chunks = 1, chunk = 0.
 */
@inline export function rowStart(B: i32, chunks: i32, chunk: i32): i32 {
  return <i32>((<i64>B * chunk) / chunks);
}
