// Generates text one character at a time: temperature, top-k and top-p (nucleus) sampling.

import { Model, Workspace } from '../engine/model';
import { Rng } from '../engine/rng';
import { Vocab } from '../data/vocab';

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

/** Runs the model at B=1, T=1, carrying its state from character to character. */
export class Sampler {
  private readonly ws: Workspace;
  private readonly input = new Int32Array(1);
  /** drawFromLogits' probabilities, reused from character to character. */
  private readonly probs: Float64Array;
  private last: number | null = null;

  constructor(readonly model: Model, readonly vocab: Vocab, readonly rng: Rng) {
    this.ws = model.workspace(1, 1);
    this.ws.resetState();
    this.probs = new Float64Array(model.config.vocabSize);
  }

  /** Feeds text through the model without sampling; the next draw continues it. */
  async prime(text: string): Promise<void> {
    for (const ch of text) {
      if (this.last !== null) this.feed(this.last);
      this.last = this.vocab.id(ch);
    }
  }

  private feed(id: number): void {
    this.input[0] = id;
    this.model.backend.uploadIndices(this.ws.tokens, this.input);
    this.model.forward(this.ws, false, false);
    this.ws.carryState();
  }

  /**
   * The next character. Without a prime the model is fed a line break first, when the
   * vocabulary has one, so the text starts as at the beginning of a line (a speaker's name, a
   * verse); otherwise a random vocabulary entry.
   */
  async next(opts: SampleOptions): Promise<string> {
    if (this.last === null) {
      this.last = this.vocab.has('\n') ? this.vocab.id('\n') : Math.floor(this.rng.uniform() * this.vocab.size);
    }
    this.feed(this.last);
    const logits = await this.model.backend.download(this.ws.logits);
    this.last = drawFromLogits(logits, opts, this.rng, this.probs);
    return this.vocab.chars[this.last];
  }

  dispose(): void {
    this.ws.dispose();
  }
}
