// The size rule of `rnn train FILE --time D`: monotone in the budget, and the user's flags win.

import { MIN_PASSES, RECIPE_CANDIDATES, RECIPE_CELL, chooseRecipe, dropoutForPasses, RecipeRequest } from '../../src/engine/recipe';

// tiny-shakespeare's 90/10 split, at the CLI's defaults (B=32, T=64, validation every 200 iterations).
const TINY_SHAKESPEARE: RecipeRequest = {
  trainChars: 1003855, valChars: 111539, budgetMs: 0, threads: 2, layers: 2, evalEvery: 200, batchSize: 32, seqLen: 64,
};
const minutes = (m: number): RecipeRequest => ({ ...TINY_SHAKESPEARE, budgetMs: m * 60000 });

describe('chooseRecipe', () => {
  it('never shrinks the model or its dropout as the budget grows', () => {
    let last = chooseRecipe(minutes(0.5));
    for (const m of [1, 2, 5, 10, 15, 30, 60, 120, 600]) {
      const next = chooseRecipe(minutes(m));
      expect(next.hiddenSize).toBeGreaterThanOrEqual(last.hiddenSize);
      if (next.hiddenSize === last.hiddenSize) expect(next.dropout).toBeGreaterThanOrEqual(last.dropout);
      last = next;
    }
    expect(last.hiddenSize).toBe(RECIPE_CANDIDATES[RECIPE_CANDIDATES.length - 1].hiddenSize);
  });

  it('takes the largest candidate that sees at least MIN_PASSES passes', () => {
    for (const m of [1, 5, 15, 60]) {
      const r = chooseRecipe(minutes(m));
      const bigger = RECIPE_CANDIDATES.filter((c) => c.hiddenSize > r.hiddenSize);
      for (const c of bigger) expect(chooseRecipe({ ...minutes(m), hiddenSize: c.hiddenSize }).passes).toBeLessThan(MIN_PASSES);
      if (r.hiddenSize > RECIPE_CANDIDATES[0].hiddenSize) expect(r.passes).toBeGreaterThanOrEqual(MIN_PASSES);
    }
  });

  it('gives a short budget the smallest model and no dropout', () => {
    const r = chooseRecipe(minutes(0.5));
    expect([r.hiddenSize, r.dropout]).toEqual([128, 0]);
  });

  it('keeps what the user gave', () => {
    const r = chooseRecipe({ ...minutes(60), hiddenSize: 64, dropout: 0 });
    expect([r.hiddenSize, r.dropout]).toEqual([64, 0]);
    const sized = chooseRecipe({ ...minutes(60), hiddenSize: 2048 });
    expect(sized.hiddenSize).toBe(2048);
    expect(sized.dropout).toBe(dropoutForPasses(sized.passes)); // few passes for a huge model: little dropout
    expect(sized.dropout).toBeLessThan(chooseRecipe({ ...minutes(60), hiddenSize: 128 }).dropout);
  });

  it('trains its own cell unless one is given', () => {
    expect(chooseRecipe(minutes(15)).cell).toBe(RECIPE_CELL);
    expect(chooseRecipe({ ...minutes(15), cell: 'lstm' }).cell).toBe('lstm');
  });

  it('uses each measured cell\'s rate, scales the others by gates, and counts one thread as half the rate', () => {
    const lstm = chooseRecipe({ ...minutes(15), hiddenSize: 256, cell: 'lstm' });
    const gru = chooseRecipe({ ...minutes(15), hiddenSize: 256, cell: 'gru' });
    expect(gru.passes / lstm.passes).toBeCloseTo(RECIPE_CANDIDATES[1].charsPerSecond.gru / RECIPE_CANDIDATES[1].charsPerSecond.lstm, 6);
    expect(chooseRecipe({ ...minutes(15), hiddenSize: 256, cell: 'rnn-tanh' }).passes).toBeCloseTo(lstm.passes * 4, 6);
    expect(chooseRecipe({ ...minutes(15), hiddenSize: 256, cell: 'lstm', threads: 1 }).passes).toBeCloseTo(lstm.passes / 2, 6);
  });

  it('counts validation passes against the budget', () => {
    const often = chooseRecipe({ ...minutes(15), hiddenSize: 256, evalEvery: 10 });
    expect(often.passes).toBeLessThan(chooseRecipe({ ...minutes(15), hiddenSize: 256 }).passes);
  });

  it('maps passes to dropout in steps of 0.05 from 0 up to 0.3', () => {
    expect(dropoutForPasses(0.5)).toBe(0);
    expect(dropoutForPasses(2)).toBe(0);
    expect(dropoutForPasses(100)).toBe(0.3);
    for (let p = 0; p < 20; p += 0.25) {
      const d = dropoutForPasses(p);
      expect(Math.round(d * 20)).toBeCloseTo(d * 20, 9);
      expect(dropoutForPasses(p + 0.25)).toBeGreaterThanOrEqual(d);
    }
  });
});
