// The char-LSTM: embedding(V,E) → L stacked LSTM layers (H) → linear(H,V) → softmax, by hand.
//
// Letters: B batch (streams), T steps per window, E embedding, H hidden, V vocabulary, L layers.
// Rows are time-major: row t·B + b is step t of stream b. Parameter names and layouts are
// PyTorch's state_dict for nn.Embedding / nn.LSTM / nn.Linear, so checkpoints load in PyTorch:
//   embedding.weight [V, E]; lstm.weight_ih_l{k} [4H, In]; lstm.weight_hh_l{k} [4H, H];
//   lstm.bias_ih_l{k} [4H]; lstm.bias_hh_l{k} [4H]; decoder.weight [V, H]; decoder.bias [V].
// Gate order inside every 4H block is i, f, g, o.

import { ModelConfig } from '../config';
import { Backend, IndexTensor, Tensor } from '../kernels/backend';
import { glorotUniform, normal, orthogonal } from './init';
import { Rng } from './rng';

export interface Param {
  name: string;
  /** PyTorch's shape: vectors are 1-D. */
  shape: number[];
  value: Tensor;
  grad: Tensor;
}

interface LayerParams {
  weightIh: Param; // [4H, In]
  weightHh: Param; // [4H, H]
  biasIh: Param;   // [1, 4H]
  biasHh: Param;   // [1, 4H]
}

/** Buffers for one (B, T) shape: activations of a window and the gradients flowing back. */
export class Workspace {
  readonly tokens: IndexTensor;   // [T·B]
  readonly targets: IndexTensor;  // [T·B]
  readonly embedded: Tensor;      // [T·B, E]
  /** Per layer: gate activations [T·B, 4H]. */
  readonly gates: Tensor[] = [];
  /** Per layer: h for steps -1..T-1, [(T+1)·B, H]; rows 0..B-1 hold the carried state. */
  readonly hidden: Tensor[] = [];
  /** Per layer: c for steps -1..T-1, [(T+1)·B, H]. */
  readonly cell: Tensor[] = [];
  readonly logits: Tensor;        // [T·B, V]
  readonly dLogits: Tensor;       // [T·B, V]
  readonly loss: Tensor;          // [1, 1]
  /** Gradient w.r.t. each layer's output h_0..h_{T-1}: [T·B, H]. */
  readonly dHidden: Tensor[] = [];
  readonly dEmbedded: Tensor;     // [T·B, E]
  readonly dGates: Tensor;        // [T·B, 4H], reused layer by layer
  readonly dhRec: Tensor;         // [B, H]: dL/dh_{t-1} through the recurrence
  readonly dc: Tensor;            // [B, H]: dL/dc through the recurrence
  // Row views, made once: per layer, per step.
  readonly gatesAt: Tensor[][] = [];
  readonly dGatesAt: Tensor[] = [];
  readonly hiddenAt: Tensor[][] = []; // index t+1 is step t; index 0 the carried state
  readonly cellAt: Tensor[][] = [];
  readonly dHiddenAt: Tensor[][] = [];
  readonly layerOutput: Tensor[] = []; // rows of hidden for steps 0..T-1: [T·B, H]
  readonly layerPrev: Tensor[] = [];   // rows of hidden for steps -1..T-2: [T·B, H]

  constructor(readonly backend: Backend, config: ModelConfig, readonly batchSize: number, readonly steps: number) {
    const B = batchSize, T = steps, H = config.hiddenSize, V = config.vocabSize;
    const be = backend;
    this.tokens = be.allocIndices(T * B);
    this.targets = be.allocIndices(T * B);
    this.embedded = be.alloc(T * B, config.embeddingSize);
    this.logits = be.alloc(T * B, V);
    this.dLogits = be.alloc(T * B, V);
    this.loss = be.alloc(1, 1);
    this.dEmbedded = be.alloc(T * B, config.embeddingSize);
    this.dGates = be.alloc(T * B, 4 * H);
    this.dhRec = be.alloc(B, H);
    this.dc = be.alloc(B, H);
    for (let t = 0; t < T; t++) this.dGatesAt.push(be.rowsOf(this.dGates, t * B, B));
    for (let l = 0; l < config.layers; l++) {
      const gates = be.alloc(T * B, 4 * H);
      const hidden = be.alloc((T + 1) * B, H);
      const cell = be.alloc((T + 1) * B, H);
      const dHidden = be.alloc(T * B, H);
      this.gates.push(gates);
      this.hidden.push(hidden);
      this.cell.push(cell);
      this.dHidden.push(dHidden);
      this.gatesAt.push(range(T).map((t) => be.rowsOf(gates, t * B, B)));
      this.hiddenAt.push(range(T + 1).map((t) => be.rowsOf(hidden, t * B, B)));
      this.cellAt.push(range(T + 1).map((t) => be.rowsOf(cell, t * B, B)));
      this.dHiddenAt.push(range(T).map((t) => be.rowsOf(dHidden, t * B, B)));
      this.layerOutput.push(be.rowsOf(hidden, B, T * B));
      this.layerPrev.push(be.rowsOf(hidden, 0, T * B));
    }
  }

  /** Zeroes the carried hidden and cell state (start of an epoch or of a sample). */
  resetState(): void {
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.fill(this.hiddenAt[l][0], 0);
      this.backend.fill(this.cellAt[l][0], 0);
    }
  }

  /** Carries the state after step T-1 into the slot for step -1 of the next window. */
  carryState(): void {
    const T = this.steps;
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.copy(this.hiddenAt[l][T], this.hiddenAt[l][0]);
      this.backend.copy(this.cellAt[l][T], this.cellAt[l][0]);
    }
  }

  /** Copies the carried state (h, c of every layer) from another workspace of the same B. */
  copyStateFrom(other: Workspace): void {
    for (let l = 0; l < this.hidden.length; l++) {
      this.backend.copy(other.hiddenAt[l][0], this.hiddenAt[l][0]);
      this.backend.copy(other.cellAt[l][0], this.cellAt[l][0]);
    }
  }

  /** The carried state tensors, [B, H] each: h of every layer, then c of every layer. */
  stateTensors(): { h: Tensor[]; c: Tensor[] } {
    return { h: this.hiddenAt.map((views) => views[0]), c: this.cellAt.map((views) => views[0]) };
  }

  dispose(): void {
    const be = this.backend;
    for (const t of [this.embedded, this.logits, this.dLogits, this.loss, this.dEmbedded, this.dGates, this.dhRec, this.dc]) be.dispose(t);
    for (const list of [this.gates, this.hidden, this.cell, this.dHidden]) list.forEach((t) => be.dispose(t));
    be.dispose(this.tokens);
    be.dispose(this.targets);
  }
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export class LstmModel {
  readonly embedding: Param;   // [V, E]
  readonly layers: LayerParams[] = [];
  readonly decoderWeight: Param; // [V, H]
  readonly decoderBias: Param;   // [1, V]
  /** Every parameter, in state_dict order. */
  readonly params: Param[] = [];

  constructor(readonly backend: Backend, readonly config: Readonly<ModelConfig>) {
    const { vocabSize: V, embeddingSize: E, hiddenSize: H } = config;
    this.embedding = this.param('embedding.weight', [V, E], V, E);
    for (let l = 0; l < config.layers; l++) {
      const inputSize = l === 0 ? E : H;
      this.layers.push({
        weightIh: this.param(`lstm.weight_ih_l${l}`, [4 * H, inputSize], 4 * H, inputSize),
        weightHh: this.param(`lstm.weight_hh_l${l}`, [4 * H, H], 4 * H, H),
        biasIh: this.param(`lstm.bias_ih_l${l}`, [4 * H], 1, 4 * H),
        biasHh: this.param(`lstm.bias_hh_l${l}`, [4 * H], 1, 4 * H),
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
   * Fresh weights: embedding N(0, 1) as nn.Embedding; input and decoder weights
   * Glorot-uniform; recurrent weights orthogonal per gate block; biases 0 except the forget
   * gate's, 1 (Jozefowicz et al. 2015), carried in bias_ih so the sum of the two biases is 1.
   */
  initialize(rng: Rng): void {
    const { vocabSize: V, embeddingSize: E, hiddenSize: H } = this.config;
    const be = this.backend;
    be.upload(this.embedding.value, normal(rng, V * E, 1));
    for (let l = 0; l < this.layers.length; l++) {
      const layer = this.layers[l];
      const inputSize = l === 0 ? E : H;
      be.upload(layer.weightIh.value, glorotUniform(rng, 4 * H, inputSize));
      const recurrent = new Float64Array(4 * H * H);
      for (let gate = 0; gate < 4; gate++) recurrent.set(orthogonal(rng, H), gate * H * H);
      be.upload(layer.weightHh.value, recurrent);
      const bias = new Float64Array(4 * H);
      bias.fill(1, H, 2 * H);
      be.upload(layer.biasIh.value, bias);
      be.upload(layer.biasHh.value, new Float64Array(4 * H));
    }
    be.upload(this.decoderWeight.value, glorotUniform(rng, V, H));
    be.upload(this.decoderBias.value, new Float64Array(V));
  }

  workspace(batchSize: number, steps: number): Workspace {
    return new Workspace(this.backend, this.config, batchSize, steps);
  }

  /**
   * Forward over one window. Reads ws.tokens (and ws.targets when withLoss), the carried state
   * in ws.hiddenAt[l][0] / ws.cellAt[l][0]; leaves logits in ws.logits and, when withLoss,
   * the summed cross-entropy in ws.loss and dL/dlogits (of the mean loss) in ws.dLogits.
   */
  forward(ws: Workspace, withLoss: boolean, withGrad: boolean): void {
    const be = this.backend;
    const B = ws.batchSize, T = ws.steps;
    be.embeddingForward(this.embedding.value, ws.tokens, ws.embedded);
    let input = ws.embedded; // [T·B, In]
    for (let l = 0; l < this.layers.length; l++) {
      const p = this.layers[l];
      // All T steps' input projections in one matmul: [T·B, In] × [In, 4H].
      be.matmul(input, p.weightIh.value, ws.gates[l], { transposeB: true });
      be.addRowVector(ws.gates[l], p.biasIh.value);
      be.addRowVector(ws.gates[l], p.biasHh.value);
      const gatesAt = ws.gatesAt[l], hAt = ws.hiddenAt[l], cAt = ws.cellAt[l];
      for (let t = 0; t < T; t++) {
        // gates_t += h_{t-1} · W_hhᵀ: [B, H] × [H, 4H]
        be.matmul(hAt[t], p.weightHh.value, gatesAt[t], { transposeB: true, accumulate: true });
        be.lstmCellForward(gatesAt[t], cAt[t], cAt[t + 1], hAt[t + 1]);
      }
      input = ws.layerOutput[l];
    }
    // logits = h · W_decᵀ + b: [T·B, H] × [H, V]
    be.matmul(input, this.decoderWeight.value, ws.logits, { transposeB: true });
    be.addRowVector(ws.logits, this.decoderBias.value);
    if (withLoss) {
      be.softmaxCrossEntropy(ws.logits, ws.targets, ws.loss, withGrad ? ws.dLogits : null, 1 / (T * B));
    }
  }

  /** Backward of forward(ws, true, true): writes every param.grad (overwriting). */
  backward(ws: Workspace): void {
    const be = this.backend;
    const T = ws.steps;
    const top = this.layers.length - 1;
    // Decoder: dW = dLogitsᵀ · h [V, H]; db = Σ rows; dh_top = dLogits · W [T·B, H].
    be.matmul(ws.dLogits, ws.layerOutput[top], this.decoderWeight.grad, { transposeA: true });
    be.sumRows(ws.dLogits, this.decoderBias.grad, false);
    be.matmul(ws.dLogits, this.decoderWeight.value, ws.dHidden[top]);
    for (let l = top; l >= 0; l--) {
      const p = this.layers[l];
      const gatesAt = ws.gatesAt[l], cAt = ws.cellAt[l], dhAt = ws.dHiddenAt[l];
      be.fill(ws.dhRec, 0);
      be.fill(ws.dc, 0);
      for (let t = T - 1; t >= 0; t--) {
        be.lstmCellBackward(gatesAt[t], cAt[t], cAt[t + 1], dhAt[t], ws.dhRec, ws.dc, ws.dGatesAt[t]);
        // dh_{t-1} through the recurrence: [B, 4H] × [4H, H]
        if (t > 0) be.matmul(ws.dGatesAt[t], p.weightHh.value, ws.dhRec);
      }
      const input = l === 0 ? ws.embedded : ws.layerOutput[l - 1];
      // Weight gradients over the whole window at once: [4H, T·B] × [T·B, ·].
      be.matmul(ws.dGates, ws.layerPrev[l], p.weightHh.grad, { transposeA: true });
      be.matmul(ws.dGates, input, p.weightIh.grad, { transposeA: true });
      be.sumRows(ws.dGates, p.biasIh.grad, false);
      be.sumRows(ws.dGates, p.biasHh.grad, false);
      // Gradient into the layer below (or the embedding): [T·B, 4H] × [4H, In].
      be.matmul(ws.dGates, p.weightIh.value, l === 0 ? ws.dEmbedded : ws.dHidden[l - 1]);
    }
    be.fill(this.embedding.grad, 0);
    be.embeddingBackward(ws.dEmbedded, ws.tokens, this.embedding.grad);
  }

  dispose(): void {
    for (const p of this.params) {
      this.backend.dispose(p.value);
      this.backend.dispose(p.grad);
    }
  }
}
