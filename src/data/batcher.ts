// Cuts a token sequence into B contiguous streams and walks them in windows of T steps.
//
// Stream b is tokens[b·S, (b+1)·S) with S = ⌊N / B⌋. Window w covers stream positions
// [w·T, w·T + T) as inputs and the same shifted by one as targets, so consecutive windows
// continue each stream exactly where the previous one stopped: the hidden state carried
// across windows (stateful truncated BPTT) is the state of the same text position.
// Layout is time-major: row t·B + b holds step t of stream b, matching the engine's [T·B, ·].

/**
 * A corpus's token ids: 2 bytes each while the vocabulary fits 16 bits (a 200 MB corpus is
 * 400 MB of ids, not 800), else 4. Windows are always Int32Array: what backends upload.
 */
export type TokenIds = Uint16Array | Int32Array;

export interface Window {
  inputs: Int32Array;  // [T·B]
  targets: Int32Array; // [T·B]
  /** Steps in this window (T, or fewer for the last window of an evaluation pass). */
  steps: number;
}

export class Batcher {
  readonly streamLength: number;
  /** Full windows per pass over the streams. */
  readonly windowsPerEpoch: number;

  constructor(readonly tokens: TokenIds, readonly batchSize: number, readonly seqLen: number) {
    this.streamLength = Math.floor(tokens.length / batchSize);
    this.windowsPerEpoch = Math.floor((this.streamLength - 1) / seqLen);
    if (this.windowsPerEpoch < 1) {
      throw new Error(`${tokens.length} tokens cannot make ${batchSize} streams of ${seqLen + 1}`);
    }
  }

  /** The largest B ≤ wanted for which N tokens give every stream at least T+1 of them. */
  static fitBatchSize(tokenCount: number, wanted: number, seqLen: number): number {
    return Math.max(0, Math.min(wanted, Math.floor(tokenCount / (seqLen + 1))));
  }

  /** Window `index` (0 ≤ index < windowsPerEpoch), `steps` long (default T). */
  window(index: number, steps = this.seqLen, out?: Window): Window {
    const B = this.batchSize;
    const w = out ?? { inputs: new Int32Array(steps * B), targets: new Int32Array(steps * B), steps };
    const start = index * this.seqLen;
    for (let t = 0; t < steps; t++) {
      for (let b = 0; b < B; b++) {
        const at = b * this.streamLength + start + t;
        w.inputs[t * B + b] = this.tokens[at];
        w.targets[t * B + b] = this.tokens[at + 1];
      }
    }
    return w;
  }

  /** Steps left over after the full windows of a pass: (S - 1) mod T. */
  get remainderSteps(): number {
    return (this.streamLength - 1) % this.seqLen;
  }
}
