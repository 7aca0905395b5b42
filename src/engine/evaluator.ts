// Measures a model on a whole token sequence: the validation split during training, `rnn eval`'s
// text, `rnn average`'s mean. B streams, windows of T, each stream from a zero state.

import { Batcher, TokenIds, Window } from '../data/batcher';
import { Model, Workspace } from './model';

/** A pass's summed cross-entropy and the number of characters it predicted. */
export interface EvalSum {
  lossNats: number;
  predictions: number;
}

/**
 * Sums cross-entropy over the whole of a token sequence with B streams, windows of T.
 *
 * `counted`, when given, has one entry per token: counted[i] = 0 leaves the prediction of
 * tokens[i + 1] from tokens[i] out of the sum (`rnn eval` uses it where unknown characters
 * were dropped, so no pair that was not adjacent in the text is scored). The state still
 * runs through every token.
 */
export class Evaluator {
  private full: Workspace | null = null;
  private tail: Workspace | null = null;
  private readonly batcher: Batcher | null;

  constructor(
    readonly model: Model, tokens: TokenIds, batchSize: number, readonly seqLen: number,
    private readonly counted: Uint8Array | null = null,
  ) {
    // Fewer streams (and shorter windows) when the split is small: every character counts.
    const steps = Math.min(seqLen, tokens.length - 1);
    const streams = steps >= 1 ? Math.max(1, Batcher.fitBatchSize(tokens.length, batchSize, steps)) : 0;
    this.batcher = streams > 0 ? new Batcher(tokens, streams, steps) : null;
  }

  /** Characters predicted in one pass (before `counted` leaves any out). */
  get predictions(): number {
    if (!this.batcher) return 0;
    return this.batcher.batchSize * (this.batcher.streamLength - 1);
  }

  /** Streams the sequence is cut into (B); each starts from a zero state. */
  get streams(): number {
    return this.batcher?.batchSize ?? 0;
  }

  /** Mean loss in nats/char over the whole sequence, from a zero state. */
  async meanLoss(): Promise<number> {
    const { lossNats, predictions } = await this.evaluate();
    return predictions > 0 ? lossNats / predictions : NaN;
  }

  /** One pass over the sequence from a zero state: summed loss (nats) and characters predicted. */
  async evaluate(): Promise<EvalSum> {
    const b = this.batcher;
    if (!b) return { lossNats: 0, predictions: 0 };
    this.full ??= this.model.workspace(b.batchSize, b.seqLen);
    this.full.resetState();
    const sum: EvalSum = { lossNats: 0, predictions: 0 };
    let window: Window | undefined;
    for (let w = 0; w < b.windowsPerEpoch; w++) {
      window = b.window(w, b.seqLen, window);
      await this.score(this.full, window, w * b.seqLen, sum);
      this.full.carryState();
    }
    const rest = b.remainderSteps;
    if (rest > 0) {
      this.tail ??= this.model.workspace(b.batchSize, rest);
      this.tail.copyStateFrom(this.full);
      await this.score(this.tail, b.window(b.windowsPerEpoch, rest), b.windowsPerEpoch * b.seqLen, sum);
    }
    return sum;
  }

  /** Runs one window (stream positions from `start`) and adds its loss to sum. */
  private async score(ws: Workspace, window: Window, start: number, sum: EvalSum): Promise<void> {
    const be = this.model.backend;
    const b = this.batcher!;
    const B = b.batchSize;
    be.uploadIndices(ws.tokens, window.inputs);
    be.uploadIndices(ws.targets, window.targets);
    this.model.forward(ws, true, false);
    // rows: t·B + s ↔ token position s·S + start + t (the batcher's layout)
    const rows = window.steps * B;
    let skipped = 0;
    if (this.counted) {
      for (let t = 0; t < window.steps; t++) {
        for (let s = 0; s < B; s++) if (!this.counted[s * b.streamLength + start + t]) skipped++;
      }
    }
    if (skipped === 0) {
      sum.lossNats += (await be.download(ws.loss))[0];
      sum.predictions += rows;
      return;
    }
    // Some pairs are left out: the backend only sums, so score the counted rows here, in
    // float64, as -log softmax(logits)[target].
    const logits = await be.download(ws.logits);
    const V = this.model.config.vocabSize;
    for (let t = 0; t < window.steps; t++) {
      for (let s = 0; s < B; s++) {
        if (!this.counted![s * b.streamLength + start + t]) continue;
        const row = t * B + s;
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, logits[row * V + v]);
        let z = 0;
        for (let v = 0; v < V; v++) z += Math.exp(logits[row * V + v] - max);
        sum.lossNats += Math.log(z) + max - logits[row * V + window.targets[row]];
        sum.predictions += 1;
      }
    }
  }

  dispose(): void {
    this.full?.dispose();
    this.tail?.dispose();
  }
}
