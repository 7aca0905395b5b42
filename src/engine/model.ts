// The char-RNN: embedding(V,E) → L stacked recurrent layers (H) → linear(H,V) → softmax, by hand.
//
// Letters: B batch (streams), T steps per window, E embedding, H hidden, V vocabulary, L layers,
// G gate blocks of the cell (4 LSTMs, 3 GRU, 1 vanilla RNN; src/engine/cells/).
// Rows are time-major: row t·B + b is step t of stream b. Parameter names and layouts are
// PyTorch's state_dict for nn.Embedding / nn.LSTM|nn.GRU|nn.RNN / nn.Linear, so checkpoints
// load in PyTorch:
//   embedding.weight [V, E]; {module}.weight_ih_l{k} [G·H, In]; {module}.weight_hh_l{k} [G·H, H];
//   {module}.bias_ih_l{k} [G·H]; {module}.bias_hh_l{k} [G·H]; decoder.weight [V, H]; decoder.bias [V]
// and, for the peephole LSTM only, lstm.weight_peep_l{k} [3H] (w_ci, w_cf, w_co), which PyTorch's
// nn.LSTM does not have (load_state_dict(strict=False) skips it).
//
// Each window: the input projections of all T steps in one matmul; per step the recurrent
// matmul and one fused cell kernel; weight gradients one matmul per window. Dropout (between
// layers and before the decoder, training only) and zoneout (on h, and c for the LSTMs) are
// elementwise kernels around that; their masks come from the host (Workspace.drawMasks).

import { ModelConfig, RecurrentInit, cellZoneout, zonesOut } from '../config';
import { Backend, CellKernels, IndexTensor, QuantTensor, Tensor } from '../kernels/backend';
import { CellSpec, cellSpec } from './cells';
import { glorotUniform, identity, normal, orthogonal } from './init';
import { Rng } from './rng';

export interface Param {
  name: string;
  /** PyTorch's shape: vectors are 1-D. */
  shape: number[];
  value: Tensor;
  grad: Tensor;
}

interface LayerParams {
  weightIh: Param; // [G·H, In]
  weightHh: Param; // [G·H, H]
  biasIh: Param;   // [1, G·H]
  biasHh: Param;   // [1, G·H]
  peep: Param | null; // [1, 3H], peephole LSTM only
}

/** How a workspace runs: evaluation (no dropout, zoneout's expectation) or training with masks. */
export interface WorkspaceMode {
  training: boolean;
  /** Dropout probability between layers and before the decoder (training only). */
  dropout: number;
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

const EVALUATION: WorkspaceMode = { training: false, dropout: 0 };

/** How forward multiplies by its weights: float32, or int8 with per-row scales (Backend.quantize). */
export type Quantization = 'none' | 'int8';
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'int8'];

/** int8 copies of every weight forward multiplies by; the embedding stays float (it is a lookup). */
interface QuantWeights {
  ih: QuantTensor[]; // per layer, [G·H, In]
  hh: QuantTensor[]; // per layer, [G·H, H]
  decoder: QuantTensor; // [V, H]
}

/** Per-step row views of a [(T or T+1)·B, cols] tensor. */
function stepViews(be: Backend, t: Tensor, steps: number, B: number): Tensor[] {
  return Array.from({ length: steps }, (_, s) => be.rowsOf(t, s * B, B));
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
  /** Zoneout probabilities of h and (the LSTMs) c (0: none): what a training mask keeps with. */
  private readonly zoneout: number;
  private readonly zoneoutCell: number;

  constructor(
    readonly backend: Backend, config: ModelConfig, readonly spec: CellSpec,
    readonly batchSize: number, readonly steps: number, readonly mode: WorkspaceMode = EVALUATION,
  ) {
    const B = batchSize, T = steps, H = config.hiddenSize, V = config.vocabSize, G = spec.gates;
    const be = backend;
    const dropout = mode.training && mode.dropout > 0;
    this.zoneout = config.zoneout;
    this.zoneoutCell = spec.carriesCell ? cellZoneout(config) : 0;
    // Either probability above 0 puts the blend on both states (a p of 0 takes h̃ or c̃ as it is).
    const zoneout = zonesOut(config);
    this.tokens = be.allocIndices(T * B);
    this.targets = be.allocIndices(T * B);
    this.embedded = be.alloc(T * B, config.embeddingSize);
    const table = mode.inputTable ?? usesInputTable(V, T * B);
    this.inputTable = table ? be.alloc(V, G * H) : null;
    this.dInputTable = table ? be.alloc(V, G * H) : null;
    this.logits = be.alloc(T * B, V);
    this.dLogits = be.alloc(T * B, V);
    this.loss = be.alloc(1, 1);
    this.dEmbedded = be.alloc(T * B, config.embeddingSize);
    this.dGates = be.alloc(T * B, G * H);
    this.dGatesAt = stepViews(be, this.dGates, T, B);
    this.dRec = spec.separateRecurrent ? be.alloc(T * B, G * H) : null;
    if (this.dRec) this.dRecAt = stepViews(be, this.dRec, T, B);
    this.dPeep = spec.peepholes ? be.alloc(T * B, 3 * H) : null;
    if (this.dPeep) this.dPeepAt = stepViews(be, this.dPeep, T, B);
    this.dhRec = be.alloc(B, H);
    this.dc = spec.carriesCell ? be.alloc(B, H) : null;
    this.dDropped = dropout ? be.alloc(T * B, H) : null;
    this.zoneScratch = zoneout
      ? { dhTotal: be.alloc(B, H), dhCand: be.alloc(B, H), dhKeep: be.alloc(B, H), dcCand: be.alloc(B, H), dcKeep: be.alloc(B, H) }
      : null;
    for (let l = 0; l < config.layers; l++) {
      const gates = be.alloc(T * B, G * H);
      const hidden = be.alloc((T + 1) * B, H);
      const dHidden = be.alloc(T * B, H);
      this.gates.push(gates);
      this.hidden.push(hidden);
      this.dHidden.push(dHidden);
      this.gatesAt.push(stepViews(be, gates, T, B));
      this.hiddenAt.push(stepViews(be, hidden, T + 1, B));
      this.dHiddenAt.push(stepViews(be, dHidden, T, B));
      this.layerOutput.push(be.rowsOf(hidden, B, T * B));
      this.layerPrev.push(be.rowsOf(hidden, 0, T * B));
      if (spec.separateRecurrent) {
        const rec = be.alloc(T * B, G * H);
        this.rec.push(rec);
        this.recAt.push(stepViews(be, rec, T, B));
      }
      if (spec.carriesCell) {
        const cell = be.alloc((T + 1) * B, H);
        this.cell.push(cell);
        this.cellAt.push(stepViews(be, cell, T + 1, B));
      }
      if (dropout) {
        this.dropMask.push(be.alloc(T * B, H));
        this.dropped.push(be.alloc(T * B, H));
      }
      if (zoneout) {
        const hCand = be.alloc(T * B, H), maskH = be.alloc(T * B, H);
        this.hCand.push(hCand);
        this.zoneMaskH.push(maskH);
        this.hCandAt.push(stepViews(be, hCand, T, B));
        this.zoneMaskHAt.push(stepViews(be, maskH, T, B));
        // At evaluation every unit keeps p of its old value: the expectation of the training mask.
        if (!mode.training) be.fill(maskH, config.zoneout);
        if (spec.carriesCell) {
          const cCand = be.alloc(T * B, H), maskC = be.alloc(T * B, H);
          this.cCand.push(cCand);
          this.zoneMaskC.push(maskC);
          this.cCandAt.push(stepViews(be, cCand, T, B));
          this.zoneMaskCAt.push(stepViews(be, maskC, T, B));
          if (!mode.training) be.fill(maskC, this.zoneoutCell);
        }
      }
    }
  }

  /**
   * Draws this window's dropout and zoneout masks from rng (training only), on the host, and
   * uploads them. Order: per layer, dropout then zoneout h then zoneout c; element by element.
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
      this.hCand, this.cCand, this.zoneMaskH, this.zoneMaskC];
    for (const list of lists) list.forEach((t) => be.dispose(t));
    be.dispose(this.tokens);
    be.dispose(this.targets);
  }
}

export class Model {
  readonly spec: CellSpec;
  readonly kernels: CellKernels;
  readonly embedding: Param;   // [V, E]
  readonly layers: LayerParams[] = [];
  readonly decoderWeight: Param; // [V, H]
  readonly decoderBias: Param;   // [1, V]
  /** Every parameter, in state_dict order. */
  readonly params: Param[] = [];
  /** Set by quantize('int8'): forward then multiplies by these instead of the float weights. */
  private quant: QuantWeights | null = null;

  constructor(readonly backend: Backend, readonly config: Readonly<ModelConfig>) {
    const { vocabSize: V, embeddingSize: E, hiddenSize: H } = config;
    this.spec = cellSpec(config.cell);
    this.kernels = backend.cell(config.cell);
    const G = this.spec.gates, m = this.spec.module;
    this.embedding = this.param('embedding.weight', [V, E], V, E);
    for (let l = 0; l < config.layers; l++) {
      const inputSize = l === 0 ? E : H;
      this.layers.push({
        weightIh: this.param(`${m}.weight_ih_l${l}`, [G * H, inputSize], G * H, inputSize),
        weightHh: this.param(`${m}.weight_hh_l${l}`, [G * H, H], G * H, H),
        biasIh: this.param(`${m}.bias_ih_l${l}`, [G * H], 1, G * H),
        biasHh: this.param(`${m}.bias_hh_l${l}`, [G * H], 1, G * H),
        peep: this.spec.peepholes ? this.param(`${m}.weight_peep_l${l}`, [3 * H], 1, 3 * H) : null,
      });
    }
    this.decoderWeight = this.param('decoder.weight', [V, H], V, H);
    this.decoderBias = this.param('decoder.bias', [V], 1, V);
  }

  private param(name: string, shape: number[], rows: number, cols: number): Param {
    const p = { name, shape, value: this.backend.alloc(rows, cols), grad: this.backend.alloc(rows, cols) };
    this.params.push(p);
    return p;
  }

  get parameterCount(): number {
    return this.params.reduce((n, p) => n + p.value.size, 0);
  }

  /**
   * Fresh weights: embedding N(0, 1) as nn.Embedding; input and decoder weights Glorot-uniform;
   * recurrent weights per gate block orthogonal (default), Glorot-uniform, or the identity
   * (IRNN, vanilla RNNs only); biases from the cell (the LSTMs' forget gate starts at 1);
   * peepholes 0, so a peephole LSTM starts as a plain one. 'pytorch' is nn.LSTM/nn.GRU/nn.RNN's
   * and nn.Linear's own default instead: every recurrent weight and bias, and the decoder's
   * weight and bias, U(−1/√H, 1/√H) (the embedding stays N(0, 1), as nn.Embedding's).
   */
  initialize(rng: Rng, recurrentInit: RecurrentInit = 'orthogonal'): void {
    const { vocabSize: V, embeddingSize: E, hiddenSize: H } = this.config;
    const G = this.spec.gates;
    if (recurrentInit === 'identity' && !this.spec.allowsIdentityInit) {
      throw new Error(`--init identity is for the vanilla RNNs (rnn-tanh, rnn-relu), not the ${this.spec.name} cell`);
    }
    const be = this.backend;
    be.upload(this.embedding.value, normal(rng, V * E, 1));
    if (recurrentInit === 'pytorch') {
      const k = 1 / Math.sqrt(H);
      const uniform = (n: number): Float64Array => Float64Array.from({ length: n }, () => (rng.uniform() * 2 - 1) * k);
      for (const p of this.params) {
        if (p === this.embedding) continue;
        // Peepholes (no PyTorch counterpart) start at 0, as with every other scheme.
        be.upload(p.value, p.name.includes('weight_peep') ? new Float64Array(p.value.size) : uniform(p.value.size));
      }
      return;
    }
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      const inputSize = l === 0 ? E : H;
      be.upload(layer.weightIh.value, glorotUniform(rng, G * H, inputSize));
      const recurrent = new Float64Array(G * H * H);
      for (let gate = 0; gate < G; gate++) {
        const block = recurrentInit === 'identity' ? identity(H)
          : recurrentInit === 'glorot' ? glorotUniform(rng, H, H) : orthogonal(rng, H);
        recurrent.set(block, gate * H * H);
      }
      be.upload(layer.weightHh.value, recurrent);
      const { ih, hh } = this.spec.initialBiases(H);
      be.upload(layer.biasIh.value, ih);
      be.upload(layer.biasHh.value, hh);
      if (layer.peep) be.upload(layer.peep.value, new Float64Array(3 * H));
    }
    be.upload(this.decoderWeight.value, glorotUniform(rng, V, H));
    be.upload(this.decoderBias.value, new Float64Array(V));
  }

  /**
   * Quantised mode, for sampling and evaluation: 'int8' makes int8 copies (per-row scales) of
   * W_ih, W_hh and the decoder as they are now, and forward multiplies by those; 'none' goes
   * back to the float weights. Weights written afterwards are not seen until quantize runs again;
   * backward refuses a quantised model (training keeps float weights).
   */
  async quantize(mode: Quantization): Promise<void> {
    this.disposeQuant();
    if (mode === 'none') return;
    const be = this.backend;
    const ih: QuantTensor[] = [], hh: QuantTensor[] = [];
    for (const layer of this.layers) {
      ih.push(await be.quantize(layer.weightIh.value));
      hh.push(await be.quantize(layer.weightHh.value));
    }
    this.quant = { ih, hh, decoder: await be.quantize(this.decoderWeight.value) };
  }

  get quantization(): Quantization {
    return this.quant ? 'int8' : 'none';
  }

  private disposeQuant(): void {
    if (!this.quant) return;
    for (const q of [...this.quant.ih, ...this.quant.hh, this.quant.decoder]) this.backend.dispose(q);
    this.quant = null;
  }

  /** out (+)= x · Wᵀ: the float weight, or its int8 copy in quantised mode. */
  private project(x: Tensor, weight: Param, quant: QuantTensor | undefined, out: Tensor, accumulate = false): void {
    if (quant) this.backend.matmulQuant(x, quant, out, { accumulate });
    else this.backend.matmul(x, weight.value, out, { transposeB: true, accumulate });
  }

  /** Buffers for B streams of T steps; training with dropout allocates its masks. */
  workspace(batchSize: number, steps: number, mode: WorkspaceMode = EVALUATION): Workspace {
    return new Workspace(this.backend, this.config, this.spec, batchSize, steps, mode);
  }

  /** What layer l reads: the embedding, or the layer below's output (dropped out in training). */
  private layerInput(ws: Workspace, l: number): Tensor {
    if (l === 0) return ws.embedded;
    return ws.dropped.length ? ws.dropped[l - 1] : ws.layerOutput[l - 1];
  }

  /**
   * Forward over one window. Reads ws.tokens (and ws.targets when withLoss), the carried state
   * in ws.hiddenAt[l][0] (and ws.cellAt[l][0]); leaves logits in ws.logits and, when withLoss,
   * the summed cross-entropy in ws.loss and dL/dlogits (of the mean loss) in ws.dLogits.
   * A training workspace's masks must have been drawn (ws.drawMasks).
   */
  forward(ws: Workspace, withLoss: boolean, withGrad: boolean): void {
    const be = this.backend;
    const spec = this.spec;
    const B = ws.batchSize, T = ws.steps;
    const zoneout = ws.hCand.length > 0;
    const table = this.inputTableOf(ws);
    if (!table) be.embeddingForward(this.embedding.value, ws.tokens, ws.embedded);
    for (let l = 0; l < this.layers.length; l++) {
      const p = this.layers[l];
      const q = this.quant;
      if (l === 0 && table) {
        // table = Emb · W_ihᵀ: [V, E] × [E, G·H]; then each step's row is its token's row.
        be.matmul(this.embedding.value, p.weightIh.value, table, { transposeB: true });
        be.embeddingForward(table, ws.tokens, ws.gates[0]);
      } else {
        // All T steps' input projections in one matmul: [T·B, In] × [In, G·H].
        this.project(this.layerInput(ws, l), p.weightIh, q?.ih[l], ws.gates[l]);
      }
      be.addRowVector(ws.gates[l], p.biasIh.value);
      if (!spec.separateRecurrent) be.addRowVector(ws.gates[l], p.biasHh.value);
      const gatesAt = ws.gatesAt[l], hAt = ws.hiddenAt[l], cAt = ws.cellAt[l];
      for (let t = 0; t < T; t++) {
        if (spec.separateRecurrent) {
          // rec_t = h_{t-1} · W_hhᵀ + b_hh: [B, H] × [H, G·H]
          this.project(hAt[t], p.weightHh, q?.hh[l], ws.recAt[l][t]);
          be.addRowVector(ws.recAt[l][t], p.biasHh.value);
        } else {
          // gates_t += h_{t-1} · W_hhᵀ: [B, H] × [H, G·H]
          this.project(hAt[t], p.weightHh, q?.hh[l], gatesAt[t], true);
        }
        this.kernels.forward({
          gates: gatesAt[t], hPrev: hAt[t], h: zoneout ? ws.hCandAt[l][t] : hAt[t + 1],
          cPrev: cAt?.[t], c: cAt ? (zoneout ? ws.cCandAt[l][t] : cAt[t + 1]) : undefined,
          rec: ws.recAt[l]?.[t], peep: p.peep?.value,
        });
        if (zoneout) {
          be.zoneoutForward(hAt[t], ws.hCandAt[l][t], ws.zoneMaskHAt[l][t], hAt[t + 1]);
          if (cAt) be.zoneoutForward(cAt[t], ws.cCandAt[l][t], ws.zoneMaskCAt[l][t], cAt[t + 1]);
        }
      }
      if (ws.dropped.length) be.mul(ws.layerOutput[l], ws.dropMask[l], ws.dropped[l]);
    }
    // logits = h · W_decᵀ + b: [T·B, H] × [H, V]
    this.project(this.layerInput(ws, this.layers.length), this.decoderWeight, this.quant?.decoder, ws.logits);
    be.addRowVector(ws.logits, this.decoderBias.value);
    if (withLoss) {
      be.softmaxCrossEntropy(ws.logits, ws.targets, ws.loss, withGrad ? ws.dLogits : null, 1 / (T * B));
    }
  }

  /** The workspace's input table when forward uses it: float weights only (int8 projects as before). */
  private inputTableOf(ws: Workspace): Tensor | null {
    return this.quant ? null : ws.inputTable;
  }

  /**
   * dL/d(layer output) from a matmul of the layer above: straight into dHidden[l], or, under
   * dropout, into dDropped and then through the mask.
   */
  private gradientIntoLayer(ws: Workspace, l: number, dOut: Tensor, weight: Tensor): void {
    const be = this.backend;
    if (!ws.dDropped) {
      be.matmul(dOut, weight, ws.dHidden[l]);
      return;
    }
    be.matmul(dOut, weight, ws.dDropped);
    be.mul(ws.dDropped, ws.dropMask[l], ws.dHidden[l]);
  }

  /** Backward of forward(ws, true, true): writes every param.grad (overwriting). */
  backward(ws: Workspace): void {
    if (this.quant) throw new Error('backward: the model is in int8 mode (sampling and evaluation only); quantize(\'none\') first');
    const be = this.backend;
    const spec = this.spec;
    const T = ws.steps;
    const top = this.layers.length - 1;
    const z = ws.zoneScratch;
    const dTable = ws.dInputTable;
    // Decoder: dW = dLogitsᵀ · h [V, H]; db = Σ rows; dh_top = dLogits · W [T·B, H].
    be.matmul(ws.dLogits, this.layerInput(ws, top + 1), this.decoderWeight.grad, { transposeA: true });
    be.sumRows(ws.dLogits, this.decoderBias.grad, false);
    this.gradientIntoLayer(ws, top, ws.dLogits, this.decoderWeight.value);
    for (let l = top; l >= 0; l--) {
      const p = this.layers[l];
      const gatesAt = ws.gatesAt[l], hAt = ws.hiddenAt[l], cAt = ws.cellAt[l], dhAt = ws.dHiddenAt[l];
      // What multiplies W_hh on the way back: the gates' gradient, or the GRU's rec gradient.
      const dRecurrentAt = spec.separateRecurrent ? ws.dRecAt : ws.dGatesAt;
      be.fill(ws.dhRec, 0);
      if (ws.dc) be.fill(ws.dc, 0);
      for (let t = T - 1; t >= 0; t--) {
        const step = {
          gates: gatesAt[t], hPrev: hAt[t], h: z ? ws.hCandAt[l][t] : hAt[t + 1],
          cPrev: cAt?.[t], c: cAt ? (z ? ws.cCandAt[l][t] : cAt[t + 1]) : undefined,
          rec: ws.recAt[l]?.[t], peep: p.peep?.value,
          dGates: ws.dGatesAt[t], dRec: ws.dRecAt[t], dPeep: ws.dPeepAt[t],
        };
        if (!z) {
          this.kernels.backward({ ...step, dh: dhAt[t], dhRec: ws.dhRec, dc: ws.dc ?? undefined });
          // dh_{t-1} through the recurrence: [B, G·H] × [G·H, H]; the GRU adds to its z ⊙ dh.
          if (t > 0) be.matmul(dRecurrentAt[t], p.weightHh.value, ws.dhRec, { accumulate: spec.separateRecurrent });
          continue;
        }
        // Zoneout: h_t = h̃_t + m ⊙ (h_{t-1} − h̃_t), so dL/dh_t splits into dh̃ = (1−m)·dh and
        // m·dh straight to h_{t-1}; the same for c.
        be.add(dhAt[t], ws.dhRec, z.dhTotal);
        be.zoneoutBackward(z.dhTotal, ws.zoneMaskHAt[l][t], z.dhCand, z.dhKeep);
        be.fill(ws.dhRec, 0);
        if (ws.dc) be.zoneoutBackward(ws.dc, ws.zoneMaskCAt[l][t], z.dcCand, z.dcKeep);
        this.kernels.backward({ ...step, dh: z.dhCand, dhRec: ws.dhRec, dc: ws.dc ? z.dcCand : undefined });
        if (ws.dc) be.add(z.dcCand, z.dcKeep, ws.dc);
        if (t > 0) {
          be.matmul(dRecurrentAt[t], p.weightHh.value, ws.dhRec, { accumulate: true });
          be.add(ws.dhRec, z.dhKeep, ws.dhRec);
        }
      }
      const dRecurrent = ws.dRec ?? ws.dGates;
      // Weight gradients over the whole window at once: [G·H, T·B] × [T·B, ·].
      be.matmul(dRecurrent, ws.layerPrev[l], p.weightHh.grad, { transposeA: true });
      if (l === 0 && dTable) {
        // dTable[v] = Σ of dGates over the steps whose token is v; dW_ih = dTableᵀ · Emb
        // [G·H, V] × [V, E]; dEmb = dTable · W_ih [V, G·H] × [G·H, E].
        be.fill(dTable, 0);
        be.embeddingBackward(ws.dGates, ws.tokens, dTable);
        be.matmul(dTable, this.embedding.value, p.weightIh.grad, { transposeA: true });
        be.matmul(dTable, p.weightIh.value, this.embedding.grad);
      } else {
        be.matmul(ws.dGates, this.layerInput(ws, l), p.weightIh.grad, { transposeA: true });
      }
      be.sumRows(ws.dGates, p.biasIh.grad, false);
      be.sumRows(dRecurrent, p.biasHh.grad, false);
      if (p.peep && ws.dPeep) be.sumRows(ws.dPeep, p.peep.grad, false);
      // Gradient into the layer below (or the embedding): [T·B, G·H] × [G·H, In].
      if (l > 0) this.gradientIntoLayer(ws, l - 1, ws.dGates, p.weightIh.value);
      else if (!dTable) be.matmul(ws.dGates, p.weightIh.value, ws.dEmbedded);
    }
    if (dTable) return;
    be.fill(this.embedding.grad, 0);
    be.embeddingBackward(ws.dEmbedded, ws.tokens, this.embedding.grad);
  }

  dispose(): void {
    this.disposeQuant();
    for (const p of this.params) {
      this.backend.dispose(p.value);
      this.backend.dispose(p.grad);
    }
  }
}
