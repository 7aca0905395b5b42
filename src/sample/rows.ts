// R rows of the model stepped together, one character each per step: batched samples and beams.
//
// Every row is an independent stream with its own carried state, so a step is one [R, ·] GEMM
// per weight matrix instead of R GEMVs. Beam search moves state between rows (reorder) with
// backend.copy on row views: no kernel beyond those the trainer already uses.

import { Model, Workspace } from '../engine/model';
import { FloatArray, Tensor } from '../kernels/backend';

export class Rows {
  readonly ws: Workspace;
  private readonly ids: Int32Array;
  /** Carried state tensors [R, H] (h of every layer, then c), and one view per row of each. */
  private readonly state: Tensor[];
  private readonly stateRows: Tensor[][];
  /** Scratch of the same shapes: a reorder gathers into it, then copies back. */
  private readonly scratch: Tensor[];
  private readonly scratchRows: Tensor[][];

  constructor(readonly model: Model, readonly count: number) {
    const be = model.backend;
    this.ws = model.workspace(count, 1);
    this.ws.resetState();
    this.ids = new Int32Array(count);
    const { h, c } = this.ws.stateTensors();
    this.state = [...h, ...c];
    this.stateRows = this.state.map((t) => range(count).map((r) => be.rowsOf(t, r, 1)));
    this.scratch = this.state.map((t) => be.alloc(t.rows, t.cols));
    this.scratchRows = this.scratch.map((t) => range(count).map((r) => be.rowsOf(t, r, 1)));
  }

  /** Steps every row by one character: ids[r] is row r's input. */
  feed(ids: ArrayLike<number>): void {
    for (let r = 0; r < this.count; r++) this.ids[r] = ids[r];
    this.model.backend.uploadIndices(this.ws.tokens, this.ids);
    this.model.forward(this.ws, false, false);
    this.ws.carryState();
  }

  /** The logits after the last feed: [R, V], row-major. */
  logits(): Promise<FloatArray> {
    return this.model.backend.download(this.ws.logits);
  }

  /** Row r takes the state row parents[r] had (a beam's survivors and their copies). */
  reorder(parents: ArrayLike<number>): void {
    const be = this.model.backend;
    let identity = true;
    for (let r = 0; r < this.count; r++) identity &&= parents[r] === r;
    if (identity) return;
    for (let s = 0; s < this.state.length; s++) {
      for (let r = 0; r < this.count; r++) be.copy(this.stateRows[s][parents[r]], this.scratchRows[s][r]);
      be.copy(this.scratch[s], this.state[s]);
    }
  }

  dispose(): void {
    for (const t of this.scratch) this.model.backend.dispose(t);
    this.ws.dispose();
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
