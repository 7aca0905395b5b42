// The size rule of `rnn train FILE --time D`: monotone in the budget, and the user's flags win.

import {
  MAX_PASSES, MIN_PASSES, RECIPE_CELL, RULE_DROPOUT, RecipeRequest, chooseRecipe as choose, dropoutForPasses, itersForPasses, rateOf,
} from '../../src/engine/recipe';
import { SizeRate, recurrentCost } from '../../src/engine/rates';
import { Rng } from '../../src/engine/rng';

// tiny-shakespeare's 90/10 split, at the CLI's defaults (B=32, T=64, E=64, validation every 200 iterations).
const TINY_SHAKESPEARE: RecipeRequest = {
  trainChars: 1003855, valChars: 111539, budgetMs: 0, layers: 2, evalEvery: 200, batchSize: 32, seqLen: 64, embeddingSize: 64,
};
const minutes = (m: number): RecipeRequest => ({ ...TINY_SHAKESPEARE, budgetMs: m * 60000 });

/**
 * A fixed input: the GRU rates the rule once read from a static table (`node bench/recipe.js
 * --seconds 15 --threads 2` on 2 vCPUs, AMD EPYC, wasm, 2026-12-01). Runs measure their own.
 */
const RATES: SizeRate[] = [
  { layers: 2, hiddenSize: 128, charsPerSecond: 32518 },
  { layers: 2, hiddenSize: 256, charsPerSecond: 11242 },
  { layers: 2, hiddenSize: 384, charsPerSecond: 4103 },
  { layers: 2, hiddenSize: 512, charsPerSecond: 3384 },
];
const RECIPE_CANDIDATES = RATES;
const chooseRecipe = (request: RecipeRequest, rates: readonly SizeRate[] = RATES) => choose(request, rates);

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

  it('plans by the rates it is given: twice the rate, twice the passes; a size not measured scales by its recurrent cost', () => {
    const base = chooseRecipe({ ...minutes(15), hiddenSize: 256 });
    const doubled = chooseRecipe({ ...minutes(15), hiddenSize: 256 }, RATES.map((r) => ({ ...r, charsPerSecond: 2 * r.charsPerSecond })));
    expect(doubled.passes).toBeCloseTo(base.passes * 2, 9);
    expect(rateOf(RATES, 2, 256, 64)).toBe(11242);
    expect(rateOf(RATES, 2, 300, 64)).toBeCloseTo(11242 * (recurrentCost(2, 256, 64) / recurrentCost(2, 300, 64)), 6);
    expect(rateOf(RATES, 3, 512, 64)).toBeCloseTo(3384 * (2 / 3), 6);
    // The measured sizes are the candidates: with one size only, that size.
    expect(chooseRecipe(minutes(600), [RATES[1]]).hiddenSize).toBe(256);
  });

  it('never shrinks the model, whatever the rates, as the budget grows; for one size, dropout never shrinks', () => {
    const rng = new Rng(28);
    for (let trial = 0; trial < 200; trial++) {
      const rates = [128, 256, 384, 512, 768].map((hiddenSize) => ({ layers: 2, hiddenSize, charsPerSecond: 100 + rng.uniform() * 50000 }));
      const trainChars = Math.round(1e4 + rng.uniform() * 5e7);
      let last = chooseRecipe({ ...minutes(1), trainChars }, rates);
      for (const m of [2, 5, 15, 45, 90, 240]) {
        const next = chooseRecipe({ ...minutes(m), trainChars }, rates);
        expect(next.hiddenSize).toBeGreaterThanOrEqual(last.hiddenSize);
        if (next.hiddenSize === last.hiddenSize) {
          expect(next.passes).toBeGreaterThanOrEqual(last.passes);
          expect(next.dropout).toBeGreaterThanOrEqual(last.dropout);
        }
        if (next.hiddenSize === 768) expect(next.passes).toBeLessThanOrEqual(MAX_PASSES);
        last = next;
      }
    }
  });

  it('stops its own choice of its largest size at MAX_PASSES: past it, every longer budget trains the same run', () => {
    const rng = new Rng(29);
    for (let trial = 0; trial < 200; trial++) {
      const rates = [128, 256, 384, 512].map((hiddenSize) => ({ layers: 2, hiddenSize, charsPerSecond: 100 + rng.uniform() * 50000 }));
      const trainChars = Math.round(1e4 + rng.uniform() * 5e7);
      let capped: ReturnType<typeof chooseRecipe> | null = null;
      for (const m of [1, 2, 5, 15, 45, 90, 240, 1000]) {
        const r = chooseRecipe({ ...minutes(m), trainChars }, rates);
        if (capped) expect({ ...r, budgetPasses: 0 }).toEqual({ ...capped, budgetPasses: 0 });
        if (r.budgetPasses === null) {
          expect(r.hiddenSize === 512 && r.passes > MAX_PASSES).toBe(false);
          continue;
        }
        expect(r.hiddenSize).toBe(512);
        expect(r.passes).toBe(MAX_PASSES);
        expect(r.budgetPasses).toBeGreaterThan(MAX_PASSES);
        expect(r.dropout).toBe(RULE_DROPOUT);
        capped ??= r;
      }
    }
  });

  it('stops only where it chose both size and dropout: a size or a dropout given trains to the end of the budget', () => {
    const long = minutes(600);
    expect(chooseRecipe(long).budgetPasses).toBeGreaterThan(MAX_PASSES);
    for (const given of [{ hiddenSize: 512 }, { dropout: 0.3 }, { hiddenSize: 256, dropout: 0.1 }]) {
      const r = chooseRecipe({ ...long, ...given });
      expect(r.budgetPasses).toBeNull();
      expect(r.passes).toBeGreaterThan(MAX_PASSES);
    }
    expect(chooseRecipe({ ...long, dropout: 0.3 }).dropout).toBe(0.3);
  });

  it('gives its largest size RULE_DROPOUT from MIN_PASSES on, none below; a smaller one its passes\' dropout', () => {
    for (const m of [0.5, 1, 2, 5, 10, 15, 30, 60]) {
      const r = chooseRecipe(minutes(m));
      if (r.hiddenSize === 512) expect(r.dropout).toBe(r.passes >= MIN_PASSES ? RULE_DROPOUT : 0);
      else expect(r.dropout).toBe(dropoutForPasses(r.passes));
    }
  });

  it('turns the stop into the iterations of B×T characters that make the passes', () => {
    expect(itersForPasses(5, 1003855, 32, 64)).toBe(Math.ceil((5 * 1003855) / 2048));
    expect(itersForPasses(5, 2048, 32, 64)).toBe(5);
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
