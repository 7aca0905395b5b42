// Generates text one character at a time: temperature, top-k and top-p (nucleus) sampling, or greedy.

import { Model } from '../engine/model';
import { Rng } from '../engine/rng';
import { Vocab } from '../data/vocab';
import { Rows } from './rows';

export interface SampleOptions {
  /** Divides the logits; must be > 0. Lower is more conservative. */
  temperature: number;
  /** Keep only the k most likely characters; 0 keeps all. */
  topK: number;
  /** Keep the smallest set of characters whose probability reaches p; 1 keeps all. */
  topP: number;
}

/**
 * Draws one id from logits: softmax(logits / temperature), restricted to the top-k and then
 * the top-p nucleus, renormalised. Pure, so it is tested directly. `scratch` (length ≥ V) holds
 * the probabilities, so a caller drawing once per character allocates nothing; without top-k or
 * top-p nothing else is allocated either.
 */
export function drawFromLogits(logits: ArrayLike<number>, opts: SampleOptions, rng: Rng, scratch?: Float64Array): number {
  const V = logits.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) max = Math.max(max, logits[v]);
  const probs = scratch && scratch.length >= V ? scratch : new Float64Array(V);
  let sum = 0;
  for (let v = 0; v < V; v++) {
    probs[v] = Math.exp((logits[v] - max) / opts.temperature);
    sum += probs[v];
  }
  for (let v = 0; v < V; v++) probs[v] /= sum;
  if ((opts.topK > 0 && opts.topK < V) || opts.topP < 1) return drawFromNucleus(probs, V, opts, rng);
  // Every character is a candidate, in id order: the same sums, in the same order, as the nucleus path.
  let total = 0;
  for (let v = 0; v < V; v++) total += probs[v];
  let r = rng.uniform() * total;
  for (let v = 0; v < V; v++) {
    r -= probs[v];
    if (r < 0) return v;
  }
  return V - 1;
}

/** The draw restricted to the top-k, then the top-p nucleus, of probs[0..V). */
function drawFromNucleus(probs: Float64Array, V: number, opts: SampleOptions, rng: Rng): number {
  const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => probs[b] - probs[a] || a - b);
  let keep = opts.topK > 0 ? Math.min(opts.topK, V) : V;
  if (opts.topP < 1) {
    let mass = 0;
    for (let i = 0; i < keep; i++) {
      mass += probs[order[i]];
      if (mass >= opts.topP) { keep = i + 1; break; }
    }
  }
  let total = 0;
  for (let i = 0; i < keep; i++) total += probs[order[i]];
  let r = rng.uniform() * total;
  for (let i = 0; i < keep; i++) {
    r -= probs[order[i]];
    if (r < 0) return order[i];
  }
  return order[keep - 1];
}

/** The likeliest id (the lowest on a tie): greedy decoding, temperature-free. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  for (let v = 1; v < logits.length; v++) if (logits[v] > logits[best]) best = v;
  return best;
}

/** log softmax(logits)[id] at temperature 1, in float64: what the model thinks of the choice. */
export function logProbOf(logits: ArrayLike<number>, id: number): number {
  let max = -Infinity;
  for (let v = 0; v < logits.length; v++) max = Math.max(max, logits[v]);
  let sum = 0;
  for (let v = 0; v < logits.length; v++) sum += Math.exp(logits[v] - max);
  return logits[id] - max - Math.log(sum);
}

/** How the next character is chosen: drawn (temperature, top-k, top-p), or the argmax. */
export interface Decoding extends SampleOptions {
  greedy?: boolean;
}

/**
 * Runs the model at T=1 on R rows at once (R = rngs.length, one independent sample per row,
 * each drawing from its own Rng), carrying each row's state from character to character.
 * One row is what plain `rnn sample` runs; `--num N` runs N in one batch.
 */
export class Sampler {
  readonly rows: Rows;
  private readonly rngs: Rng[];
  /** The character each row feeds next; null until a prime or the first draw sets it. */
  private last: Int32Array | null = null;
  /** drawFromLogits' probabilities, reused from character to character. */
  private readonly probs: Float64Array;
  /** Per row: Σ log p (temperature 1) of the characters drawn so far. */
  readonly logProb: Float64Array;

  constructor(readonly model: Model, readonly vocab: Vocab, rng: Rng | Rng[]) {
    this.rngs = Array.isArray(rng) ? rng : [rng];
    this.rows = new Rows(model, this.rngs.length);
    this.probs = new Float64Array(model.config.vocabSize);
    this.logProb = new Float64Array(this.rngs.length);
  }

  /** Feeds text through every row without sampling; the next draw continues it. */
  async prime(text: string): Promise<void> {
    for (const ch of text) {
      if (this.last !== null) this.rows.feed(this.last);
      this.last ??= new Int32Array(this.rngs.length);
      this.last.fill(this.vocab.id(ch));
    }
  }

  /**
   * The next character of every row, as ids. Without a prime the model is fed a line break
   * first, when the vocabulary has one, so the text starts as at the beginning of a line (a
   * speaker's name, a verse); otherwise a random vocabulary entry (each row from its own Rng).
   */
  async step(opts: Decoding): Promise<Int32Array> {
    const R = this.rngs.length, V = this.model.config.vocabSize;
    if (this.last === null) {
      const start = this.vocab.has('\n') ? this.vocab.id('\n') : -1;
      this.last = Int32Array.from(this.rngs, (rng) => (start >= 0 ? start : Math.floor(rng.uniform() * this.vocab.size)));
    }
    this.rows.feed(this.last);
    const logits = await this.rows.logits(); // [R, V]
    for (let r = 0; r < R; r++) {
      const row = logits.subarray(r * V, (r + 1) * V);
      const id = opts.greedy ? argmax(row) : drawFromLogits(row, opts, this.rngs[r], this.probs);
      this.logProb[r] += logProbOf(row, id);
      this.last[r] = id;
    }
    return this.last;
  }

  /** The next character of row 0 (the one-sample case). */
  async next(opts: Decoding): Promise<string> {
    return this.vocab.chars[(await this.step(opts))[0]];
  }

  dispose(): void {
    this.rows.dispose();
  }
}
