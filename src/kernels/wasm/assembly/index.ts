// The kernel module's exports: every function the wasm backend calls, all on raw pointers.
// @ts-nocheck — AssemblyScript (compiled by asc in `npm run build:wasm`), not TypeScript for tsc.

export { gemm, gemmScratchBytes, gemmPackedB, packBPanels, packedBFloats, microTileRows } from './gemm';
export {
  fill, copy, addRowVector, sumRows, clampInPlace, sumSquares, embeddingForward, embeddingBackward,
} from './pointwise';
// The recurrent cells, one file each; each kernel also runs chunked on the workers.
export * from './cells/lstm';
export * from './cells/peephole';
export * from './cells/gru';
export * from './cells/rnn';
export { mul, add, zoneoutForward, zoneoutBackward } from './elementwise';
export { softmaxCrossEntropy } from './loss';
export { adamStep } from './adam';
export { gemmQ8, quantizeQ8, quantRowBytes } from './quant';

/** First byte past the module's static data (Math.log's tables); the JS allocator starts above. */
export function heapBase(): usize {
  return __heap_base;
}
export {
  gemmChunk, packBChunk, gemmPackedBChunk, gemmQ8Chunk, addRowVectorChunk, sumRowsChunk, mulChunk, adamStepChunk,
} from './chunks';
