// Batched rows (--num), greedy and beam search, and stop strings, on a tiny random model.

import { Model } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Vocab } from '../../src/data/vocab';
import { Sampler, argmax, logProbOf } from '../../src/sample/sampler';
import { beamSearch } from '../../src/sample/beam';
import { Rows } from '../../src/sample/rows';
import { StopMatcher } from '../../src/sample/stop';

function tinyModel(text: string, seed = 5): { model: Model; vocab: Vocab } {
  const vocab = Vocab.fromText(text);
  const model = new Model(new ReferenceBackend(), { vocabSize: vocab.size, embeddingSize: 3, hiddenSize: 5, layers: 2, cell: 'lstm', zoneout: 0 });
  model.initialize(new Rng(seed));
  return { model, vocab };
}

async function draw(sampler: Sampler, steps: number, greedy = false): Promise<string[]> {
  const texts = new Array<string>(sampler.rows.count).fill('');
  for (let i = 0; i < steps; i++) {
    const ids = await sampler.step({ temperature: 1.3, topK: 0, topP: 1, greedy });
    ids.forEach((id, r) => { texts[r] += sampler.vocab.chars[id]; });
  }
  return texts;
}

/** Σ log p of ids after a one-character prime, one row, recomputed from scratch. */
async function sequenceLogProb(model: Model, vocab: Vocab, prime: string, ids: number[]): Promise<number> {
  const rows = new Rows(model, 1);
  let total = 0;
  for (let i = 0; i < ids.length; i++) {
    rows.feed([i === 0 ? vocab.id(prime) : ids[i - 1]]);
    total += logProbOf(await rows.logits(), ids[i]);
  }
  rows.dispose();
  return total;
}

describe('batched sampling', () => {
  const { model, vocab } = tinyModel('abcab ca\nbca');

  it('row i of a batch seeded seed+i is the one-row sample with seed+i', async () => {
    const batch = new Sampler(model, vocab, [7, 8, 9].map((s) => new Rng(s)));
    await batch.prime('ab');
    const together = await draw(batch, 40);
    for (let i = 0; i < 3; i++) {
      const alone = new Sampler(model, vocab, new Rng(7 + i));
      await alone.prime('ab');
      expect((await draw(alone, 40))[0]).toBe(together[i]);
    }
    expect(new Set(together).size).toBe(3); // and the rows differ
  });

  it('greedy takes the argmax; ties go to the lower id', async () => {
    expect(argmax([0.1, 0.5, 0.5, -1])).toBe(1);
    const a = new Sampler(model, vocab, [new Rng(1), new Rng(2)]);
    const [x, y] = await draw(a, 20, true);
    expect(x).toBe(y); // no randomness after the first (line-break) input
  });
});

describe('beam search', () => {
  const { model, vocab } = tinyModel('abc'); // V = 3

  it('with K = V^(L-1) beams is exhaustive: it finds the likeliest of all V^L texts', async () => {
    const L = 3, V = vocab.size;
    let best = -Infinity, bestIds: number[] = [];
    for (let code = 0; code < V ** L; code++) {
      const ids = [Math.floor(code / 9) % 3, Math.floor(code / 3) % 3, code % 3];
      const lp = await sequenceLogProb(model, vocab, 'a', ids);
      if (lp > best) { best = lp; bestIds = ids; }
    }
    const result = await beamSearch(model, vocab, 'a', { width: V ** (L - 1), length: L, stops: [], startId: 0 });
    expect(result.ids).toEqual(bestIds);
    expect(result.logProb).toBeCloseTo(best, 10);
  });

  it('reports the log-probability of the text it returns', async () => {
    const result = await beamSearch(model, vocab, 'a', { width: 2, length: 12, stops: [], startId: 0 });
    expect(result.ids.length).toBe(12);
    expect(result.logProb).toBeCloseTo(await sequenceLogProb(model, vocab, 'a', result.ids), 10);
  });

  it('with one beam is greedy', async () => {
    const result = await beamSearch(model, vocab, 'a', { width: 1, length: 15, stops: [], startId: 0 });
    const greedy = new Sampler(model, vocab, new Rng(0));
    await greedy.prime('a');
    const ids: number[] = [];
    for (let i = 0; i < 15; i++) ids.push((await greedy.step({ temperature: 1, topK: 0, topP: 1, greedy: true }))[0]);
    expect(result.ids).toEqual(ids);
    expect(result.logProb).toBeCloseTo(greedy.logProb[0], 10);
  });

  it('ends a beam at a stop string and keeps it when nothing live can beat it', async () => {
    const free = await beamSearch(model, vocab, 'a', { width: 3, length: 10, stops: [], startId: 0 });
    const stop = vocab.chars[free.ids[1]];
    const stopped = await beamSearch(model, vocab, 'a', { width: 3, length: 10, stops: [stop], startId: 0 });
    expect(stopped.stop).toBe(stop);
    const text = stopped.ids.map((id) => vocab.chars[id]).join('');
    expect(text.endsWith(stop)).toBe(true);
    expect(text.slice(0, -1)).not.toContain(stop);
    expect(stopped.logProb).toBeGreaterThanOrEqual(free.logProb);
  });
});

describe('StopMatcher', () => {
  it('matches an occurrence that ends at a generated character, across the prime', () => {
    const m = new StopMatcher(['\n\n', 'END'], 'ROMEO:\n');
    expect(m.push('\n')).toBe('\n\n');
    const n = new StopMatcher(['\n\n'], 'a\n\nb'); // inside the prime: not a stop
    expect(n.push('c')).toBeNull();
    const e = new StopMatcher(['END']);
    expect(['E', 'N'].map((ch) => e.push(ch))).toEqual([null, null]);
    expect(e.push('D')).toBe('END');
  });
});
