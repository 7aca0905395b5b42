// The char-RNN: embedding(V,E) → L stacked recurrent layers (H) → linear(H,V) → softmax, by hand.
//
// Letters: B batch (streams), T steps per window, E embedding, H hidden, V vocabulary, L layers,
// G gate blocks of the cell (4 LSTMs, 3 GRU, 1 vanilla RNN; src/cells.ts).
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

import { CellSpec, ParameterShape, cellSpec, modelParameters } from '../cells';
import { ModelConfig, RecurrentInit } from '../config';
import { Backend, CellKernels, QuantTensor, Tensor } from '../kernels/backend';
import { glorotUniform, identity, normal, orthogonal } from './init';
import { Rng } from './rng';
import { EVALUATION, Workspace, WorkspaceMode } from './workspace';

export { Workspace, usesInputTable, workspaceLayout } from './workspace';
export type { WorkspaceMode } from './workspace';

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

/** How forward multiplies by its weights: float32, or int8 with per-row scales (Backend.quantize). */
export type Quantization = 'none' | 'int8';
export const QUANTIZATIONS: readonly Quantization[] = ['none', 'int8'];

/** int8 copies of every weight forward multiplies by; the embedding stays float (it is a lookup). */
interface QuantWeights {
  ih: QuantTensor[]; // per layer, [G·H, In]
  hh: QuantTensor[]; // per layer, [G·H, H]
  decoder: QuantTensor; // [V, H]
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
    this.spec = cellSpec(config.cell);
    this.kernels = backend.cell(config.cell);
    // The spec's layout, in state_dict order: embedding, each layer's (ih, hh, biases, peepholes), decoder.
    const { embedding, layers, decoderWeight, decoderBias } = modelParameters(this.spec, config);
    this.embedding = this.param(embedding);
    for (const [weightIh, weightHh, biasIh, biasHh, peep] of layers) {
      this.layers.push({
        weightIh: this.param(weightIh), weightHh: this.param(weightHh),
        biasIh: this.param(biasIh), biasHh: this.param(biasHh), peep: peep ? this.param(peep) : null,
      });
    }
    this.decoderWeight = this.param(decoderWeight);
    this.decoderBias = this.param(decoderBias);
  }

  /** A parameter and its gradient, allocated as [rows, cols]: a 1-D shape [n] is [1, n]. */
  private param({ name, shape }: ParameterShape): Param {
    const rows = shape.length === 2 ? shape[0] : 1, cols = shape[shape.length - 1];
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
  private project(x: Tensor, weight: Tensor, quant: QuantTensor | undefined, out: Tensor, accumulate = false): void {
    if (quant) this.backend.matmulQuant(x, quant, out, { accumulate });
    else this.backend.matmul(x, weight, out, { transposeB: true, accumulate });
  }

  /**
   * The W_hh layer l multiplies by in this workspace: the weights, or in training with weight drop
   * the window's masked copy (filled by forward from the weights as they are now).
   */
  private recurrentWeight(ws: Workspace, l: number): Tensor {
    return ws.droppedWeightHh.length ? ws.droppedWeightHh[l] : this.layers[l].weightHh.value;
  }

  /** Buffers for B streams of T steps; training with dropout or weight drop allocates its masks. */
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
        this.project(this.layerInput(ws, l), p.weightIh.value, q?.ih[l], ws.gates[l]);
      }
      be.addRowVector(ws.gates[l], p.biasIh.value);
      if (!spec.separateRecurrent) be.addRowVector(ws.gates[l], p.biasHh.value);
      // Weight drop: W̃_hh = W_hh ⊙ mask, made once per window from the weights Adam last wrote.
      if (ws.droppedWeightHh.length) be.mul(p.weightHh.value, ws.weightDropMask[l], ws.droppedWeightHh[l]);
      const weightHh = this.recurrentWeight(ws, l);
      const gatesAt = ws.gatesAt[l], hAt = ws.hiddenAt[l], cAt = ws.cellAt[l];
      for (let t = 0; t < T; t++) {
        if (spec.separateRecurrent) {
          // rec_t = h_{t-1} · W_hhᵀ + b_hh: [B, H] × [H, G·H]
          this.project(hAt[t], weightHh, q?.hh[l], ws.recAt[l][t]);
          be.addRowVector(ws.recAt[l][t], p.biasHh.value);
        } else {
          // gates_t += h_{t-1} · W_hhᵀ: [B, H] × [H, G·H]
          this.project(hAt[t], weightHh, q?.hh[l], gatesAt[t], true);
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
    this.project(this.layerInput(ws, this.layers.length), this.decoderWeight.value, this.quant?.decoder, ws.logits);
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
      // The W_hh forward multiplied by: under weight drop the masked copy, so dh_{t-1} flows through it.
      const weightHh = this.recurrentWeight(ws, l);
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
          if (t > 0) be.matmul(dRecurrentAt[t], weightHh, ws.dhRec, { accumulate: spec.separateRecurrent });
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
          be.matmul(dRecurrentAt[t], weightHh, ws.dhRec, { accumulate: true });
          be.add(ws.dhRec, z.dhKeep, ws.dhRec);
        }
      }
      const dRecurrent = ws.dRec ?? ws.dGates;
      // Weight gradients over the whole window at once: [G·H, T·B] × [T·B, ·].
      be.matmul(dRecurrent, ws.layerPrev[l], p.weightHh.grad, { transposeA: true });
      // W̃ = W ⊙ mask, so dL/dW = dL/dW̃ ⊙ mask (the mask holds 0 or 1/(1-p)).
      if (ws.droppedWeightHh.length) be.mul(p.weightHh.grad, ws.weightDropMask[l], p.weightHh.grad);
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
