// How the wasm backend runs a cell: the names of its two assembly kernels and their tensor arguments.
//
// Every cell kernel in ../assembly/cells/ is called kernel(...pointers, B, H, chunks, chunk, scratch)
// and runs rows [B·chunk/chunks, B·(chunk+1)/chunks) of the batch, so the backend runs any of them
// on one thread (chunks = 1) or cut by rows across the pool the same way, from this description.

import { CellName, CellStep, CellStepGrad, Tensor } from '../../backend';

/** One kernel of a cell. */
export interface WasmCellKernel<S extends CellStep> {
  /** The module's export (also in the workers' table). */
  kernel: string;
  /** Its tensor arguments, in the kernel's order (cellDims has checked that they are present). */
  args(step: S): Tensor[];
  /** The arguments it writes: a packed copy of any of them is stale afterwards. */
  writes(step: S): Tensor[];
}

export interface WasmCell {
  name: CellName;
  forward: WasmCellKernel<CellStep>;
  backward: WasmCellKernel<CellStepGrad>;
}
