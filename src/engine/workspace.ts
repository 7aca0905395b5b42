// A model's buffers for one (B, T) shape: the activations of a window and the gradients
// flowing back, laid out by workspaceLayout so the memory estimate sums what is allocated.
//
// Letters: B batch (streams), T steps per window, E embedding, H hidden, V vocabulary, L layers,
// G gate blocks of the cell (src/cells.ts). Rows are time-major: row t·B + b is step t of stream b.

import { CellSpec } from '../cells';
import { ModelConfig, TrainConfig, cellZoneout, weightDropOf, zonesOut } from '../config';
import { Backend, IndexTensor, Tensor } from '../kernels/backend';
import { Rng } from './rng';

/** How a workspace runs: evaluation (no dropout, zoneout's expectation) or training with masks. */
export interface WorkspaceMode {
  training: boolean;
  /** Dropout probability between layers and before the decoder (training only). */
  dropout: number;
  /**
   * DropConnect probability of the recurrent weights W_hh (training only; absent: 0): forward and
   * backward multiply by a masked copy of each layer's W_hh (Merity, Keskar & Socher 2018).
   */
  weightDrop?: number;
  /** Layer 0's input projection through a [V, G·H] table (see usesInputTable); default: that rule. */
  inputTable?: boolean;
}

/**
 * Whether layer 0 projects its input through a table: the embedding feeds only layer 0, with no
 * dropout between, so embedding(x)·W_ihᵀ is row x of the table Emb·W_ihᵀ [V, G·H]. Building it
 * costs V rows of the product instead of T·B, and its backward (a scatter-add of the gates'
 * gradient by token, then two [V, ·] products) replaces two [T·B, ·] ones: a gain when the
 * vocabulary is small beside the window (65 characters against B·T = 2048 in the default run,
 * where it saves 1.2 of 30.6 GFLOP a step at 2x512).
 */
export function usesInputTable(vocabSize: number, rows: number): boolean {
  return vocabSize * 4 <= rows;
}

export const EVALUATION: WorkspaceMode = { training: false, dropout: 0 };

/** A run's training workspace mode: its dropout, and the weight drop of W_hh where there is one. */
export function trainingMode(config: Pick<TrainConfig, 'dropout' | 'weightDrop'>): WorkspaceMode {
  const weightDrop = weightDropOf(config);
  return { training: true, dropout: config.dropout, ...(weightDrop > 0 ? { weightDrop } : {}) };
}

/** Per-step row views of a [(T or T+1)·B, cols] tensor. */
function stepViews(be: Backend, t: Tensor, steps: number, B: number): Tensor[] {
  return Array.from({ length: steps }, (_, s) => be.rowsOf(t, s * B, B));
}

/** A buffer's shape: [rows, cols] float32 values. */
export interface BufferShape {
  rows: number;
  cols: number;
}

/**
 * Every buffer a Workspace allocates for B streams of T steps, by field (null: not allocated in
 * this mode). The Workspace allocates from it and the memory estimate (src/cli/memory.ts) sums
 * it, so the estimate is the engine's allocation, dropout, zoneout and weight-drop buffers included.
 */
export interface WorkspaceLayout {
  /** tokens and targets: T·B int32 ids each. */
  ids: number;
  embedded: BufferShape;             // [T·B, E]
  inputTable: BufferShape | null;    // [V, G·H] (usesInputTable)
  dInputTable: BufferShape | null;   // [V, G·H]
  logits: BufferShape;               // [T·B, V]
  dLogits: BufferShape;              // [T·B, V]
  loss: BufferShape;                 // [1, 1]
  dEmbedded: BufferShape;            // [T·B, E]
  dGates: BufferShape;               // [T·B, G·H]
  dRec: BufferShape | null;          // [T·B, G·H], separate recurrent projection (GRU)
  dPeep: BufferShape | null;         // [T·B, 3H], peepholes
  dhRec: BufferShape;                // [B, H]
  dc: BufferShape | null;            // [B, H], cells that carry c
  dDropped: BufferShape | null;      // [T·B, H], training with dropout
  /** Each of zoneout backward's five [B, H] scratch buffers (dhTotal, dhCand, dhKeep, dcCand, dcKeep). */
  zoneScratch: BufferShape | null;
  /** L */
  layers: number;
  /** What every layer holds, the same for each. */
  layer: {
    gates: BufferShape;              // [T·B, G·H]
    hidden: BufferShape;             // [(T+1)·B, H]
    dHidden: BufferShape;            // [T·B, H]
    rec: BufferShape | null;         // [T·B, G·H], GRU
    cell: BufferShape | null;        // [(T+1)·B, H], LSTMs
    dropMask: BufferShape | null;    // [T·B, H], training with dropout
    dropped: BufferShape | null;     // [T·B, H]
    hCand: BufferShape | null;       // [T·B, H], zoneout
    zoneMaskH: BufferShape | null;   // [T·B, H]
    cCand: BufferShape | null;       // [T·B, H], zoneout of an LSTM's c
    zoneMaskC: BufferShape | null;   // [T·B, H]
    weightDropMask: BufferShape | null; // [G·H, H], training with weight drop
    droppedWeightHh: BufferShape | null; // [G·H, H], W_hh ⊙ mask, what the window multiplies by
  };
}

/** The buffers of a workspace for B streams × T steps of this model in this mode. */
export function workspaceLayout(
  config: ModelConfig, spec: CellSpec, batchSize: number, steps: number, mode: WorkspaceMode = EVALUATION,
): WorkspaceLayout {
  const B = batchSize, T = steps, H = config.hiddenSize, E = config.embeddingSize, V = config.vocabSize;
  const G = spec.gates;
  const shape = (rows: number, cols: number): BufferShape => ({ rows, cols });
  const when = (yes: boolean, s: BufferShape): BufferShape | null => (yes ? s : null);
  const dropout = mode.training && mode.dropout > 0;
  const weightDrop = mode.training && (mode.weightDrop ?? 0) > 0;
  // Either probability above 0 puts the blend on both states (a p of 0 takes h̃ or c̃ as it is).
  const zoneout = zonesOut(config);
  const table = mode.inputTable ?? usesInputTable(V, T * B);
  const rowsByH = shape(T * B, H);
  return {
    ids: T * B,
    embedded: shape(T * B, E),
    inputTable: when(table, shape(V, G * H)),
    dInputTable: when(table, shape(V, G * H)),
    logits: shape(T * B, V),
    dLogits: shape(T * B, V),
    loss: shape(1, 1),
    dEmbedded: shape(T * B, E),
    dGates: shape(T * B, G * H),
    dRec: when(spec.separateRecurrent, shape(T * B, G * H)),
    dPeep: when(spec.peepholes, shape(T * B, 3 * H)),
    dhRec: shape(B, H),
    dc: when(spec.carriesCell, shape(B, H)),
    dDropped: when(dropout, rowsByH),
    zoneScratch: when(zoneout, shape(B, H)),
    layers: config.layers,
    layer: {
      gates: shape(T * B, G * H),
      hidden: shape((T + 1) * B, H),
      dHidden: rowsByH,
      rec: when(spec.separateRecurrent, shape(T * B, G * H)),
      cell: when(spec.carriesCell, shape((T + 1) * B, H)),
      dropMask: when(dropout, rowsByH),
      dropped: when(dropout, rowsByH),
      hCand: when(zoneout, rowsByH),
      zoneMaskH: when(zoneout, rowsByH),
      cCand: when(zoneout && spec.carriesCell, rowsByH),
      zoneMaskC: when(zoneout && spec.carriesCell, rowsByH),
      weightDropMask: when(weightDrop, shape(G * H, H)),
      droppedWeightHh: when(weightDrop, shape(G * H, H)),
    },
  };
}

/** Bytes a workspace of this layout allocates: float32 buffers and int32 ids, 4 bytes each. */
export function workspaceBytes(layout: WorkspaceLayout): number {
  const floats = (s: BufferShape | null): number => (s ? s.rows * s.cols : 0);
  const { ids, zoneScratch, layers, layer, ...singles } = layout;
  let total = 2 * ids + 5 * floats(zoneScratch);
  for (const s of Object.values(singles)) total += floats(s);
  for (const s of Object.values(layer)) total += layers * floats(s);
  return 4 * total;
}

/** Buffers for one (B, T) shape: activations of a window and the gradients flowing back. */
export class Workspace {
  readonly tokens: IndexTensor;   // [T·B]
  readonly targets: IndexTensor;  // [T·B]
  readonly embedded: Tensor;      // [T·B, E] (unused with the input table)
  /** Layer 0's input table Emb·W_ihᵀ and its gradient, [V, G·H] each, or null (usesInputTable). */
  readonly inputTable: Tensor | null;
  readonly dInputTable: Tensor | null;
  /** Per layer: gate pre-activations in, what the cell's backward needs out: [T·B, G·H]. */
  readonly gates: Tensor[] = [];
  /** Per layer, GRU only: W_hh·h_{t-1} + b_hh per step, [T·B, 3H]. */
  readonly rec: Tensor[] = [];
  /** Per layer: h for steps -1..T-1, [(T+1)·B, H]; rows 0..B-1 hold the carried state. */
  readonly hidden: Tensor[] = [];
  /** Per layer, LSTMs only: c for steps -1..T-1, [(T+1)·B, H]. */
  readonly cell: Tensor[] = [];
  readonly logits: Tensor;        // [T·B, V]
  readonly dLogits: Tensor;       // [T·B, V]
  readonly loss: Tensor;          // [1, 1]
  /** Gradient w.r.t. each layer's output h_0..h_{T-1}: [T·B, H]. */
  readonly dHidden: Tensor[] = [];
  readonly dEmbedded: Tensor;     // [T·B, E]
  readonly dGates: Tensor;        // [T·B, G·H], reused layer by layer
  readonly dRec: Tensor | null;   // [T·B, 3H], GRU
  readonly dPeep: Tensor | null;  // [T·B, 3H], peephole LSTM
  readonly dhRec: Tensor;         // [B, H]: dL/dh_{t-1} through the recurrence
  readonly dc: Tensor | null;     // [B, H]: dL/dc through the recurrence (LSTMs)

  // Dropout (training with p > 0): per layer, the mask (0 or 1/(1-p)) on its output, and the
  // masked output that the next layer (or the decoder) reads. [T·B, H] each.
  readonly dropMask: Tensor[] = [];
  readonly dropped: Tensor[] = [];
  readonly dDropped: Tensor | null; // [T·B, H]

  // Zoneout (p > 0): the cell writes its candidate h̃ (c̃) here, then h_t = h̃ + m ⊙ (h_{t-1} − h̃).
  // m is 0/1 per unit in training, p at evaluation. [T·B, H] each, per layer.
  readonly hCand: Tensor[] = [];
  readonly cCand: Tensor[] = [];
  readonly zoneMaskH: Tensor[] = [];
  readonly zoneMaskC: Tensor[] = [];
  /** [B, H] scratch of the zoneout backward: dL/dh_t in total, to h̃, straight to h_{t-1}; same for c. */
  readonly zoneScratch: { dhTotal: Tensor; dhCand: Tensor; dhKeep: Tensor; dcCand: Tensor; dcKeep: Tensor } | null;

  // Weight drop (training with p > 0): per layer, the window's mask (0 or 1/(1-p)) on W_hh, and
  // W_hh ⊙ mask, which forward makes from the current weights and both passes multiply by. [G·H, H] each.
  readonly weightDropMask: Tensor[] = [];
  readonly droppedWeightHh: Tensor[] = [];

  // Row views, made once: per layer, per step.
  readonly gatesAt: Tensor[][] = [];
  readonly recAt: Tensor[][] = [];
  readonly dGatesAt: Tensor[];
  readonly dRecAt: Tensor[] = [];
  readonly dPeepAt: Tensor[] = [];
  readonly hiddenAt: Tensor[][] = []; // index t+1 is step t; index 0 the carried state
  readonly cellAt: Tensor[][] = [];
  readonly dHiddenAt: Tensor[][] = [];
  readonly hCandAt: Tensor[][] = [];
  readonly cCandAt: Tensor[][] = [];
  readonly zoneMaskHAt: Tensor[][] = [];
  readonly zoneMaskCAt: Tensor[][] = [];
  readonly layerOutput: Tensor[] = []; // rows of hidden for steps 0..T-1: [T·B, H]
  readonly layerPrev: Tensor[] = [];   // rows of hidden for steps -1..T-2: [T·B, H]

  /** drawMasks' host buffer, [T·B·H], made on first use. */
  private maskHost: Float32Array | null = null;
  /** drawMasks' host buffer for the weight-drop masks, [G·H·H], made on first use. */
  private weightMaskHost: Float32Array | null = null;
  /** Zoneout probabilities of h and (the LSTMs) c (0: none): what a training mask keeps with. */
  private readonly zoneout: number;
  private readonly zoneoutCell: number;

  constructor(
    readonly backend: Backend, config: ModelConfig, readonly spec: CellSpec,
    readonly batchSize: number, readonly steps: number, readonly mode: WorkspaceMode = EVALUATION,
  ) {
    const B = batchSize, T = steps;
    const be = backend;
    const layout = workspaceLayout(config, spec, B, T, mode);
    const alloc = (s: BufferShape): Tensor => be.alloc(s.rows, s.cols);
    const allocIf = (s: BufferShape | null): Tensor | null => (s ? alloc(s) : null);
    this.zoneout = config.zoneout;
    this.zoneoutCell = spec.carriesCell ? cellZoneout(config) : 0;
    // In the layout's order, which is the order these were allocated in before it existed.
    this.tokens = be.allocIndices(layout.ids);
    this.targets = be.allocIndices(layout.ids);
    this.embedded = alloc(layout.embedded);
    this.inputTable = allocIf(layout.inputTable);
    this.dInputTable = allocIf(layout.dInputTable);
    this.logits = alloc(layout.logits);
    this.dLogits = alloc(layout.dLogits);
    this.loss = alloc(layout.loss);
    this.dEmbedded = alloc(layout.dEmbedded);
    this.dGates = alloc(layout.dGates);
    this.dGatesAt = stepViews(be, this.dGates, T, B);
    this.dRec = allocIf(layout.dRec);
    if (this.dRec) this.dRecAt = stepViews(be, this.dRec, T, B);
    this.dPeep = allocIf(layout.dPeep);
    if (this.dPeep) this.dPeepAt = stepViews(be, this.dPeep, T, B);
    this.dhRec = alloc(layout.dhRec);
    this.dc = allocIf(layout.dc);
    this.dDropped = allocIf(layout.dDropped);
    const z = layout.zoneScratch;
    this.zoneScratch = z
      ? { dhTotal: alloc(z), dhCand: alloc(z), dhKeep: alloc(z), dcCand: alloc(z), dcKeep: alloc(z) }
      : null;
    for (let l = 0; l < layout.layers; l++) this.allocLayer(layout.layer);
  }

  /** One layer's buffers and their step views; an evaluation's zoneout masks hold p. */
  private allocLayer(per: WorkspaceLayout['layer']): void {
    const be = this.backend, B = this.batchSize, T = this.steps;
    const alloc = (s: BufferShape): Tensor => be.alloc(s.rows, s.cols);
    const gates = alloc(per.gates);
    const hidden = alloc(per.hidden);
    const dHidden = alloc(per.dHidden);
    this.gates.push(gates);
    this.hidden.push(hidden);
    this.dHidden.push(dHidden);
    this.gatesAt.push(stepViews(be, gates, T, B));
    this.hiddenAt.push(stepViews(be, hidden, T + 1, B));
    this.dHiddenAt.push(stepViews(be, dHidden, T, B));
    this.layerOutput.push(be.rowsOf(hidden, B, T * B));
    this.layerPrev.push(be.rowsOf(hidden, 0, T * B));
    if (per.rec) {
      const rec = alloc(per.rec);
      this.rec.push(rec);
      this.recAt.push(stepViews(be, rec, T, B));
    }
    if (per.cell) {
      const cell = alloc(per.cell);
      this.cell.push(cell);
      this.cellAt.push(stepViews(be, cell, T + 1, B));
    }
    if (per.dropMask && per.dropped) {
      this.dropMask.push(alloc(per.dropMask));
      this.dropped.push(alloc(per.dropped));
    }
    if (per.hCand && per.zoneMaskH) {
      const hCand = alloc(per.hCand), maskH = alloc(per.zoneMaskH);
      this.hCand.push(hCand);
      this.zoneMaskH.push(maskH);
      this.hCandAt.push(stepViews(be, hCand, T, B));
      this.zoneMaskHAt.push(stepViews(be, maskH, T, B));
      // At evaluation every unit keeps p of its old value: the expectation of the training mask.
      if (!this.mode.training) be.fill(maskH, this.zoneout);
    }
    if (per.cCand && per.zoneMaskC) {
      const cCand = alloc(per.cCand), maskC = alloc(per.zoneMaskC);
      this.cCand.push(cCand);
      this.zoneMaskC.push(maskC);
      this.cCandAt.push(stepViews(be, cCand, T, B));
      this.zoneMaskCAt.push(stepViews(be, maskC, T, B));
      if (!this.mode.training) be.fill(maskC, this.zoneoutCell);
    }
    if (per.weightDropMask && per.droppedWeightHh) {
      this.weightDropMask.push(alloc(per.weightDropMask));
      this.droppedWeightHh.push(alloc(per.droppedWeightHh));
    }
  }

  /**
   * Draws this window's dropout, zoneout and weight-drop masks from rng (training only), on the
   * host, and uploads them. Order: per layer, dropout then zoneout h then zoneout c; then per
   * layer the weight-drop mask of W_hh (after the others, so adding weight drop to a run leaves
   * its dropout and zoneout draws as they were); element by element.
   */
  drawMasks(rng: Rng): void {
    if (!this.mode.training) return;
    const { dropout } = this.mode, zoneout = this.zoneout, zoneoutCell = this.zoneoutCell;
    const be = this.backend;
    const n = this.steps * this.batchSize * this.hidden[0].cols;
    const host = (this.maskHost ??= new Float32Array(n));
    const bernoulli = (keepValue: number, dropValue: number, p: number): Float32Array => {
      rng.fillBernoulli(host, p, dropValue, keepValue);
      return host;
    };
    for (let l = 0; l < this.hidden.length; l++) {
      // Inverted dropout: kept units are scaled by 1/(1-p), so evaluation needs no rescaling.
      if (this.dropMask.length) be.upload(this.dropMask[l], bernoulli(1 / (1 - dropout), 0, dropout));
      // Zoneout: 1 keeps the unit's previous value (probability p), 0 takes the cell's new one.
      if (this.zoneMaskH.length) be.upload(this.zoneMaskH[l], bernoulli(0, 1, zoneout));
      if (this.zoneMaskC.length) be.upload(this.zoneMaskC[l], bernoulli(0, 1, zoneoutCell));
    }
    if (!this.weightDropMask.length) return;
    // One mask per layer for the whole window: the same dropped weights for all B streams and T steps.
    const p = this.mode.weightDrop ?? 0;
    const weights = (this.weightMaskHost ??= new Float32Array(this.weightDropMask[0].size));
    for (const mask of this.weightDropMask) {
      rng.fillBernoulli(weights, p, 0, 1 / (1 - p));
      be.upload(mask, weights);
    }
  }

  /** Zeroes the carried hidden (and cell) state: the start of an epoch or of a sample. */
  resetState(): void {
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.fill(this.hiddenAt[l][0], 0);
      if (this.cellAt.length) this.backend.fill(this.cellAt[l][0], 0);
    }
  }

  /** Carries the state after step T-1 into the slot for step -1 of the next window. */
  carryState(): void {
    const T = this.steps;
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.copy(this.hiddenAt[l][T], this.hiddenAt[l][0]);
      if (this.cellAt.length) this.backend.copy(this.cellAt[l][T], this.cellAt[l][0]);
    }
  }

  /** Copies the carried state (h, and c, of every layer) from another workspace of the same B. */
  copyStateFrom(other: Workspace): void {
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.copy(other.hiddenAt[l][0], this.hiddenAt[l][0]);
      if (this.cellAt.length) this.backend.copy(other.cellAt[l][0], this.cellAt[l][0]);
    }
  }

  /** The carried state tensors, [B, H] each: h of every layer, and c of every layer for the LSTMs. */
  stateTensors(): { h: Tensor[]; c: Tensor[] } {
    return { h: this.hiddenAt.map((views) => views[0]), c: this.cellAt.map((views) => views[0]) };
  }

  dispose(): void {
    const be = this.backend;
    const singles = [this.embedded, this.inputTable, this.dInputTable, this.logits, this.dLogits, this.loss, this.dEmbedded, this.dGates, this.dhRec,
      this.dc, this.dRec, this.dPeep, this.dDropped, ...Object.values(this.zoneScratch ?? {})];
    for (const t of singles) if (t) be.dispose(t);
    const lists = [this.gates, this.rec, this.hidden, this.cell, this.dHidden, this.dropMask, this.dropped,
      this.hCand, this.cCand, this.zoneMaskH, this.zoneMaskC, this.weightDropMask, this.droppedWeightHh];
    for (const list of lists) list.forEach((t) => be.dispose(t));
    be.dispose(this.tokens);
    be.dispose(this.targets);
  }
}

