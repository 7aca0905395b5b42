// What a gpu.js cell is: its forward and backward step as lists of kernels over the step's tensors.
//
// A cell file (lstm.ts, gru.ts, …) writes each step as passes: one kernel source per output
// tensor, a thread per element of it, reading the step's tensors by name. The backend runs
// every pass of a step on the tensors as they came in, and only then writes the outputs
// (GpujsBackend.runCell), so an output may also be an input (the gates become activations;
// dc, dhRec are read and rewritten). The sources are the same strings in every gpu.js mode
// (cpu, headlessgl, webgpu); see ../sources.ts for the subset of JavaScript they are written
// in, the functions they may call (rowOf, sigmoid, tanhStable) and how sub-kernels work.
//
// Letters: B batch, H hidden; a thread's (b, j) is row b, unit j.

import { CellStepGrad } from '../../backend';

/** The tensors of a step a pass may read or write, by their CellStep/CellStepGrad names. */
export type StepTensor = keyof CellStepGrad;

export interface CellPass {
  /** The kernel's name, unique within its cell (the cache key adds the cell and B, H). */
  name: string;
  source: string;
  /** The tensor the kernel's result becomes; the kernel has a thread per element of it. */
  out: StepTensor;
  /** The tensors the kernel reads, in its argument order, each as (storage, element offset). */
  inputs: StepTensor[];
  /**
   * Further outputs of out's size from the same threads: tensor → its sub-kernel's source. A kernel
   * map in GL and cpu modes; in webgpu the source runs once per output (constant OUTPUT 0 for out,
   * 1, 2, … for these in order), each sub-kernel a function that returns its argument.
   */
  subOutputs?: Partial<Record<StepTensor, string>>;
  /** Constants beside H. */
  constants?: Record<string, number>;
}

/** A cell's step on gpu.js: the passes of its forward and of its backward. */
export interface GpujsCell {
  /** Functions its kernels call, beside the shared ones of ../sources.ts; names unique across cells. */
  helpers?: string[];
  forward: CellPass[];
  backward: CellPass[];
}

/** Every sub-kernel source of these cells, once each (webgpu registers them as plain functions). */
export function subKernelSources(cells: GpujsCell[]): string[] {
  const sources = new Set<string>();
  for (const cell of cells) {
    for (const pass of [...cell.forward, ...cell.backward]) {
      for (const source of Object.values(pass.subOutputs ?? {})) if (source) sources.add(source);
    }
  }
  return [...sources];
}
