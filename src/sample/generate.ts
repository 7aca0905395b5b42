// Whole texts from a model: R rows sampled together until --length or a stop string, and a short seeded sample.

import { Model } from '../engine/model';
import { Rng } from '../engine/rng';
import { Vocab } from '../data/vocab';
import { Decoding, Sampler } from './sampler';
import { StopMatcher } from './stop';

export interface GenerateRequest {
  /** One row per seed, each drawing from its own Rng. */
  seeds: number[];
  /** Fed through every row first; each text starts with it. */
  prime: string;
  /** Characters each row generates at most. */
  length: number;
  /** A row ends after the first occurrence of any of these. */
  stops: string[];
  decoding: Decoding;
  /** Reads the prime into the sampler in place of Sampler.prime (rnn sample --adapt). */
  primeWith?: (sampler: Sampler) => Promise<void>;
}

/** Per row: its text (the prime included), characters generated, the stop string it ended at, Σ log p. */
export interface GeneratedRows {
  texts: string[];
  generated: Int32Array;
  stopped: Array<string | null>;
  logProbs: Float64Array;
}

/**
 * Samples every row together, one character of each per step, until each has its length or hit
 * a stop string. Row 0's characters go to emit as they are made (streaming), when given.
 */
export async function generateRows(
  model: Model, vocab: Vocab, request: GenerateRequest, emit: ((ch: string) => Promise<void>) | null = null,
): Promise<GeneratedRows> {
  const { seeds, prime, length } = request;
  const sampler = new Sampler(model, vocab, seeds.map((s) => new Rng(s)));
  try {
    await (request.primeWith ? request.primeWith(sampler) : sampler.prime(prime));
    const N = seeds.length;
    const texts = seeds.map(() => prime);
    const generated = new Int32Array(N);
    const stopped: Array<string | null> = seeds.map(() => null);
    const matchers = seeds.map(() => new StopMatcher(request.stops, prime));
    const logProbs = new Float64Array(N);
    let live = N;
    for (let i = 0; i < length && live > 0; i++) {
      const ids = await sampler.step(request.decoding);
      for (let r = 0; r < N; r++) {
        if (stopped[r] !== null || generated[r] === length) continue;
        const ch = vocab.chars[ids[r]];
        generated[r] += 1;
        texts[r] += ch;
        if (r === 0 && emit) await emit(ch);
        stopped[r] = matchers[r].push(ch);
        if (stopped[r] !== null) live -= 1;
        logProbs[r] = sampler.logProb[r]; // a stopped row's later draws do not count
      }
    }
    return { texts, generated, stopped, logProbs };
  } finally {
    sampler.dispose();
  }
}

/**
 * `length` characters from a fresh start, seeded, on a one-row workspace of its own: the model's
 * training state (its workspace, its data order) is untouched. For `rnn train --sample-every`.
 */
export async function sampleText(model: Model, vocab: Vocab, seed: number, length: number, temperature: number): Promise<string> {
  const sampler = new Sampler(model, vocab, new Rng(seed));
  let text = '';
  try {
    for (let i = 0; i < length; i++) text += await sampler.next({ temperature, topK: 0, topP: 1 });
  } finally {
    sampler.dispose();
  }
  return text;
}
