// Beam search over characters: the K likeliest continuations, stepped as K rows of one batch.
//
// Score = Σ log p(char) at temperature 1 (every live beam has the same length, so no length
// normalisation). Each step expands the live beams by every character, keeps the K best
// (ties: the lower beam, then the lower id), and moves the survivors' states into rows 0..K-1.
// A beam whose text then ends with a stop string is finished: it leaves the rows and waits
// in a list; the search ends when no live beam can beat the best finished one (scores only
// fall as a beam grows), or after `length` characters.

import { Model } from '../engine/model';
import { Vocab } from '../data/vocab';
import { Rows } from './rows';
import { StopMatcher } from './stop';

export interface BeamOptions {
  /** K ≥ 1 beams (rows). */
  width: number;
  /** The most characters generated. */
  length: number;
  stops: readonly string[];
  /** The first input when there is no prime and the vocabulary has no line break. */
  startId: number;
}

export interface BeamResult {
  /** The generated ids, after the prime. */
  ids: number[];
  /** Σ log p of those ids under the model, nats. */
  logProb: number;
  /** The stop string the text ended with, or null. */
  stop: string | null;
}

interface Candidate {
  score: number;
  beam: number;
  id: number;
}

export async function beamSearch(model: Model, vocab: Vocab, prime: string, opts: BeamOptions): Promise<BeamResult> {
  const K = opts.width, V = model.config.vocabSize;
  const rows = new Rows(model, K);
  try {
    // Every row runs the prime; row 0 is the only live beam until the first expansion.
    const chars = [...prime];
    for (let i = 0; i + 1 < chars.length; i++) rows.feed(new Int32Array(K).fill(vocab.id(chars[i])));
    const first = chars.length > 0 ? vocab.id(chars[chars.length - 1]) : vocab.has('\n') ? vocab.id('\n') : opts.startId;
    let inputs = new Int32Array(K).fill(first);
    let scores = [0];
    let matchers = [new StopMatcher(opts.stops, prime)];
    // Per step: for each surviving beam, its parent beam and the id it appended.
    const parents: Int32Array[] = [];
    const tokens: Int32Array[] = [];
    let finished: (BeamResult & { score: number }) | null = null;
    const trace = (step: number, beam: number, id: number): number[] => {
      const ids = [id];
      for (let s = step - 1, b = beam; s >= 0; s--) {
        ids.push(tokens[s][b]);
        b = parents[s][b];
      }
      return ids.reverse();
    };

    for (let step = 0; step < opts.length && scores.length > 0; step++) {
      rows.feed(inputs);
      const logits = await rows.logits(); // [K, V]
      const candidates: Candidate[] = [];
      for (let b = 0; b < scores.length; b++) {
        const row = logits.subarray(b * V, (b + 1) * V);
        let max = -Infinity;
        for (let v = 0; v < V; v++) max = Math.max(max, row[v]);
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(row[v] - max);
        const logZ = max + Math.log(sum);
        for (let v = 0; v < V; v++) candidates.push({ score: scores[b] + row[v] - logZ, beam: b, id: v });
      }
      candidates.sort((a, b) => b.score - a.score || a.beam - b.beam || a.id - b.id);
      const stepParents = new Int32Array(K), stepTokens = new Int32Array(K);
      const nextScores: number[] = [], nextMatchers: StopMatcher[] = [];
      for (const c of candidates) {
        if (nextScores.length === K) break;
        if (finished && c.score <= finished.score) break; // nothing below can win
        const matcher = matchers[c.beam].clone();
        const stop = matcher.push(vocab.chars[c.id]);
        if (stop !== null) {
          finished = { ids: trace(step, c.beam, c.id), logProb: c.score, score: c.score, stop };
          continue;
        }
        stepParents[nextScores.length] = c.beam;
        stepTokens[nextScores.length] = c.id;
        nextScores.push(c.score);
        nextMatchers.push(matcher);
      }
      parents.push(stepParents);
      tokens.push(stepTokens);
      rows.reorder(stepParents);
      inputs = stepTokens;
      scores = nextScores;
      matchers = nextMatchers;
    }
    if (scores.length > 0 && (!finished || scores[0] > finished.score)) {
      const last = tokens.length - 1;
      return { ids: last < 0 ? [] : trace(last, parents[last][0], tokens[last][0]), logProb: scores[0], stop: null };
    }
    return finished ? { ids: finished.ids, logProb: finished.logProb, stop: finished.stop } : { ids: [], logProb: 0, stop: null };
  } finally {
    rows.dispose();
  }
}
