// Dynamic evaluation (Krause, Kahembwe, Murray & Renals 2018, "Dynamic Evaluation of Neural
// Sequence Models", arXiv 1709.07432): the model keeps learning from the text it reads.
//
// The text is one stream cut into segments of T characters. For each segment, in this order:
//   1. forward from the carried state; the segment's loss is counted (its characters are scored
//      with weights that have never seen them);
//   2. backward over the segment (the trainer's backward: gradients of the segment's mean loss);
//   3. one update of every parameter θ, with θ₀ the trained weights:
//        SGD (their eq. 5):   θ ← θ − η·∇ + λ·(θ₀ − θ)
//        RMS (their eq. 8):   θ ← θ − η·∇ / (√MS + ε) + λ·r ⊙ (θ₀ − θ),   r = min(√MS / mean √MS, 1/λ)
//      where MS is the mean squared gradient of each weight over windows of the training split;
//   4. the state is carried into the next segment (detached, as in training).
// So no character's loss is ever counted after an update that used it. Dropout is off and
// zoneout takes its expectation, as in static evaluation (an evaluation workspace).
//
// The update is elementwise with per-element tensors, so both rules are one code path:
//   θ ← keep ⊙ θ + pull + scale ⊙ ∇,   keep = 1 − λr, pull = λr ⊙ θ₀, scale = −η/(√MS + ε)
// (SGD: r = 1, √MS + ε = 1), four of the backend's elementwise kernels per parameter and no new
// kernel. Letters: T steps per segment, H hidden, V vocabulary.

import { Batcher, TokenIds, Window } from '../data/batcher';
import { Backend, Tensor } from '../kernels/backend';
import { Model, Workspace } from './model';

export type DynamicRule = 'sgd' | 'rms';
export const DYNAMIC_RULES: readonly DynamicRule[] = ['sgd', 'rms'];

export interface DynamicSettings {
  /** η: the step on the segment's gradient (of its mean loss, nats/char). */
  learningRate: number;
  /** λ: the pull back towards the trained weights at every update; 0 lets the weights drift. */
  decay: number;
  /** T: characters per segment (one update per segment). */
  seqLen: number;
  rule: DynamicRule;
}

/** The RMS rule's ε, added to √MS (their code's default). */
export const RMS_EPSILON = 1e-5;

/** A pass's summed loss (nats) and the characters it scored. */
export interface DynamicSum {
  lossNats: number;
  predictions: number;
}

/**
 * Per parameter: the trained weights θ₀ and the update's per-element tensors (see the top of
 * this file). Owns its tensors; reset() puts θ₀ back into the model.
 */
export class DynamicUpdate {
  private readonly initial: Tensor[] = [];
  private readonly keep: Tensor[] = [];
  private readonly pull: Tensor[] = [];
  private readonly scale: Tensor[] = [];

  /**
   * rms: per parameter (model.params order), √(mean squared gradient) of each element, for the
   * RMS rule (gradientRms); null for SGD.
   */
  constructor(readonly model: Model, readonly settings: Readonly<DynamicSettings>, rms: Float64Array[] | null = null) {
    const be = model.backend;
    const { learningRate: lr, decay } = settings;
    if (settings.rule === 'rms' && !rms) throw new Error('the RMS rule needs the gradient statistics of the training split');
    let meanRms = 1;
    if (rms) {
      let sum = 0, count = 0;
      for (const r of rms) for (let i = 0; i < r.length; i++, count++) sum += r[i];
      meanRms = count > 0 && sum > 0 ? sum / count : 1;
    }
    model.params.forEach((p, i) => {
      const { rows, cols, size } = p.value;
      const initial = be.alloc(rows, cols);
      be.copy(p.value, initial);
      this.initial.push(initial);
      const scale = be.alloc(rows, cols), keep = be.alloc(rows, cols);
      if (rms) {
        const r = rms[i];
        const scaleHost = new Float64Array(size), keepHost = new Float64Array(size);
        for (let k = 0; k < size; k++) {
          scaleHost[k] = -lr / (r[k] + RMS_EPSILON);
          // Their clip at 1/λ: a decay rate above 1 would overshoot θ₀.
          keepHost[k] = 1 - (decay > 0 ? Math.min(decay * (r[k] / meanRms), 1) : 0);
        }
        be.upload(scale, scaleHost);
        be.upload(keep, keepHost);
      } else {
        be.fill(scale, -lr);
        be.fill(keep, 1 - decay);
      }
      this.scale.push(scale);
      this.keep.push(keep);
      // pull = (1 − keep) ⊙ θ₀, made on the backend: θ₀ − keep ⊙ θ₀.
      const pull = be.alloc(rows, cols);
      be.mul(keep, initial, pull);
      const minusOne = be.alloc(rows, cols);
      be.fill(minusOne, -1);
      be.mul(pull, minusOne, pull);
      be.add(initial, pull, pull);
      be.dispose(minusOne);
      this.pull.push(pull);
    });
  }

  /** θ ← keep ⊙ θ + pull + scale ⊙ ∇ for every parameter; the gradients are consumed. */
  apply(): void {
    const be = this.model.backend;
    const decays = this.settings.decay > 0;
    this.model.params.forEach((p, i) => {
      be.mul(p.grad, this.scale[i], p.grad);
      if (decays) {
        be.mul(p.value, this.keep[i], p.value);
        be.add(p.value, this.pull[i], p.value);
      }
      be.add(p.value, p.grad, p.value);
    });
  }

  /** Puts the trained weights back. */
  reset(): void {
    this.model.params.forEach((p, i) => this.model.backend.copy(this.initial[i], p.value));
  }

  dispose(): void {
    const be = this.model.backend;
    for (const list of [this.initial, this.keep, this.pull, this.scale]) list.forEach((t) => be.dispose(t));
  }
}

/**
 * Reads tokens as one stream in segments of settings.seqLen: score, then (with `update`) one
 * step on that segment's gradient, the state carried. Without `update` it is the static
 * evaluation of the same stream and segments. The state starts at zero unless `keepState`.
 *
 * `counted` (as the Evaluator's): counted[i] = 0 leaves the prediction of tokens[i + 1] out of
 * the sum, though it still feeds the state and the gradient. Returns the summed loss.
 */
export class StreamReader {
  private full: Workspace | null = null;
  private tail: Workspace | null = null;
  private last: Workspace | null = null;

  constructor(readonly model: Model, readonly seqLen: number) {}

  async read(tokens: TokenIds, update: DynamicUpdate | null, counted: Uint8Array | null = null,
    keepState = false, onSegment?: (done: number, total: number) => void): Promise<DynamicSum> {
    const sum: DynamicSum = { lossNats: 0, predictions: 0 };
    const predictions = tokens.length - 1;
    if (predictions < 1) return sum;
    const steps = Math.min(this.seqLen, predictions);
    const batcher = new Batcher(tokens, 1, steps);
    if (!this.full || this.full.steps !== steps) {
      const fresh = this.model.workspace(1, steps);
      if (keepState && this.last) fresh.copyStateFrom(this.last);
      this.disposeWorkspaces();
      this.full = this.last = fresh;
    }
    if (!keepState) this.full.resetState();
    else if (this.last && this.last !== this.full) this.full.copyStateFrom(this.last);
    const windows = batcher.windowsPerEpoch;
    const rest = batcher.remainderSteps;
    const total = windows + (rest > 0 ? 1 : 0);
    let window: Window | undefined;
    for (let w = 0; w < windows; w++) {
      window = batcher.window(w, steps, window);
      await this.segment(this.full, window.inputs, window.targets, w * steps, update, counted, sum);
      this.full.carryState();
      onSegment?.(w + 1, total);
    }
    this.last = this.full;
    if (rest > 0) {
      if (this.tail && this.tail.steps !== rest) {
        this.tail.dispose();
        this.tail = null;
      }
      this.tail ??= this.model.workspace(1, rest);
      this.tail.copyStateFrom(this.full);
      const tailWindow = batcher.window(windows, rest);
      await this.segment(this.tail, tailWindow.inputs, tailWindow.targets, windows * steps, update, counted, sum);
      this.tail.carryState();
      this.last = this.tail;
      onSegment?.(total, total);
    }
    return sum;
  }

  /** The carried state after the last read: h (and c) of every layer, [1, H] each. */
  stateTensors(): { h: Tensor[]; c: Tensor[] } {
    if (!this.last) throw new Error('StreamReader: nothing has been read yet');
    return this.last.stateTensors();
  }

  /** One segment: forward and count its loss; then, only then, backward and update. */
  private async segment(ws: Workspace, inputs: Int32Array, targets: Int32Array, start: number,
    update: DynamicUpdate | null, counted: Uint8Array | null, sum: DynamicSum): Promise<void> {
    const be = this.model.backend;
    be.uploadIndices(ws.tokens, inputs);
    be.uploadIndices(ws.targets, targets);
    this.model.forward(ws, true, update !== null);
    let skipped = 0;
    if (counted) for (let t = 0; t < ws.steps; t++) if (!counted[start + t]) skipped++;
    // Counted here, before backward and the update run: the loss is read back first.
    if (skipped === 0) {
      sum.lossNats += (await be.download(ws.loss))[0];
      sum.predictions += ws.steps;
    } else {
      await scoreCounted(be, ws, targets, this.model.config.vocabSize, (t) => counted![start + t] === 1, sum);
    }
    if (!update) return;
    this.model.backward(ws);
    update.apply();
  }

  private disposeWorkspaces(): void {
    this.full?.dispose();
    this.tail?.dispose();
    this.full = this.tail = this.last = null;
  }

  dispose(): void {
    this.disposeWorkspaces();
  }
}

/** Adds −log softmax(logits)[target] of the counted rows, in float64 (the backend only sums). */
async function scoreCounted(be: Backend, ws: Workspace, targets: Int32Array, V: number,
  isCounted: (t: number) => boolean, sum: DynamicSum): Promise<void> {
  const logits = await be.download(ws.logits);
  for (let t = 0; t < ws.steps; t++) {
    if (!isCounted(t)) continue;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[t * V + v]);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[t * V + v] - max);
    sum.lossNats += Math.log(z) + max - logits[t * V + targets[t]];
    sum.predictions += 1;
  }
}

/**
 * √(mean squared gradient) of every weight over windows of a text (the training split), for
 * the RMS rule: B streams of T, from a zero state, state carried, no update; at most
 * `maxWindows` windows. Per parameter in model.params order.
 */
export async function gradientRms(model: Model, tokens: TokenIds, batchSize: number, seqLen: number,
  maxWindows: number): Promise<Float64Array[]> {
  const be = model.backend;
  const steps = Math.min(seqLen, tokens.length - 1);
  const streams = Math.max(1, Batcher.fitBatchSize(tokens.length, batchSize, steps));
  const batcher = new Batcher(tokens, streams, steps);
  const ws = model.workspace(streams, steps);
  const sums = model.params.map((p) => new Float64Array(p.value.size));
  const windows = Math.min(maxWindows, batcher.windowsPerEpoch);
  try {
    ws.resetState();
    for (let w = 0; w < windows; w++) {
      const window = batcher.window(w, steps);
      be.uploadIndices(ws.tokens, window.inputs);
      be.uploadIndices(ws.targets, window.targets);
      model.forward(ws, true, true);
      model.backward(ws);
      for (let i = 0; i < model.params.length; i++) {
        const g = await be.download(model.params[i].grad);
        const s = sums[i];
        for (let k = 0; k < s.length; k++) s[k] += g[k] * g[k];
      }
      ws.carryState();
    }
  } finally {
    ws.dispose();
  }
  for (const s of sums) for (let k = 0; k < s.length; k++) s[k] = Math.sqrt(s[k] / Math.max(1, windows));
  return sums;
}

/** What `rnn eval --dynamic` reports of the dynamic reading. */
export interface DynamicResult {
  lossNats: number;
  bitsPerChar: number;
  perplexity: number;
  predicted: number;
  rule: DynamicRule;
  learningRate: number;
  decay: number;
  seqLen: number;
  /** Wall-clock time of the dynamic reading alone. */
  seconds: number;
}

/**
 * Dynamic evaluation of tokens as one stream from a zero state; the model's trained weights are
 * put back afterwards. `counted` as in StreamReader.read.
 */
export async function dynamicEvaluation(model: Model, tokens: TokenIds, counted: Uint8Array | null,
  settings: Readonly<DynamicSettings>, rms: Float64Array[] | null = null): Promise<DynamicResult> {
  const started = Date.now();
  const update = new DynamicUpdate(model, settings, rms);
  const reader = new StreamReader(model, settings.seqLen);
  try {
    const { lossNats, predictions } = await reader.read(tokens, update, counted);
    const nats = lossNats / predictions;
    return {
      lossNats: nats, bitsPerChar: nats / Math.LN2, perplexity: Math.exp(nats), predicted: predictions,
      rule: settings.rule, learningRate: settings.learningRate, decay: settings.decay, seqLen: settings.seqLen,
      seconds: (Date.now() - started) / 1000,
    };
  } finally {
    update.reset();
    update.dispose();
    reader.dispose();
  }
}
