// The size rule of `rnn train FILE --time D`: monotone in the budget, and the user's flags win.

import {
  MAX_PASSES, MIN_CHARS, MIN_PASSES, RECIPE_CELL, RULE_DROPOUT, RecipeRequest, VALIDATION_SHARE, chooseRecipe as choose, dropoutForPasses,
  evalEveryFor, itersForPasses, rateOf,
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

  it('on a text larger than tiny-shakespeare, takes the largest candidate that sees MIN_CHARS characters, however few passes', () => {
    const large = (m: number): RecipeRequest => ({ ...minutes(m), trainChars: 29852857, valChars: 3316984, evalEvery: 5000 });
    const sizes: number[] = [];
    for (const m of [2, 5, 15, 45, 90]) {
      const r = chooseRecipe(large(m));
      sizes.push(r.hiddenSize);
      const seen = (c: { passes: number }): number => c.passes * 29852857;
      if (r.hiddenSize > RECIPE_CANDIDATES[0].hiddenSize) expect(seen(r)).toBeGreaterThanOrEqual(MIN_CHARS);
      for (const c of RECIPE_CANDIDATES.filter((x) => x.hiddenSize > r.hiddenSize)) {
        expect(seen(chooseRecipe({ ...large(m), hiddenSize: c.hiddenSize }))).toBeLessThan(MIN_CHARS);
      }
      expect(r.passes).toBeLessThan(MIN_PASSES);
      expect(r.dropout).toBe(0); // new text every step: nothing seen twice to overfit
    }
    expect(sizes).toEqual([128, 256, 512, 512, 512]);
  });

  it('on tiny-shakespeare and smaller texts, chooses by passes alone, as it was measured', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 300; i++) {
      const trainChars = Math.round(20000 + rng.uniform() * (1003855 - 20000));
      const request: RecipeRequest = { ...minutes(0.5 + rng.uniform() * 120), trainChars, valChars: Math.round(trainChars / 9) };
      const r = chooseRecipe(request);
      const byPasses = RECIPE_CANDIDATES.map((c) => c.hiddenSize)
        .filter((h) => chooseRecipe({ ...request, hiddenSize: h }).passes >= MIN_PASSES);
      expect(r.hiddenSize).toBe(byPasses.length ? byPasses[byPasses.length - 1] : RECIPE_CANDIDATES[0].hiddenSize);
    }
    expect(MIN_CHARS / 1003855).toBeGreaterThanOrEqual(MIN_PASSES); // on tiny-shakespeare itself the passes decide
  });

  it('never shrinks the model as the budget grows, on texts of any size', () => {
    const rng = new Rng(12);
    for (let i = 0; i < 100; i++) {
      const trainChars = Math.round(Math.exp(Math.log(1e4) + rng.uniform() * Math.log(1e4))); // 10 K to 100 M
      let last = 0;
      for (const m of [0.5, 1, 2, 5, 10, 15, 30, 45, 60, 90, 180]) {
        const r = chooseRecipe({ ...minutes(m), trainChars, valChars: Math.round(trainChars / 9) });
        expect(r.hiddenSize).toBeGreaterThanOrEqual(last);
        last = r.hiddenSize;
      }
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

describe('evalEveryFor', () => {
  it('keeps the default where validation is already a small share (tiny-shakespeare: 164 would do)', () => {
    expect(evalEveryFor(111539, 32, 64, 200)).toBe(200);
    expect(evalEveryFor(0, 32, 64, 200)).toBe(200);
  });

  it('otherwise takes the least multiple of the default that keeps validation to VALIDATION_SHARE of the run', () => {
    const share = (v: number, n: number, b: number, t: number): number => v / 3 / (n * b * t + v / 3);
    const rng = new Rng(13);
    for (let i = 0; i < 200; i++) {
      const v = Math.round(1e5 + rng.uniform() * 2e7), b = 1 + Math.floor(rng.uniform() * 64), t = 8 + Math.floor(rng.uniform() * 120);
      const n = evalEveryFor(v, b, t, 200);
      expect(n % 200).toBe(0);
      expect(share(v, n, b, t)).toBeLessThanOrEqual(VALIDATION_SHARE + 1e-12);
      if (n > 200) expect(share(v, n - 200, b, t)).toBeGreaterThan(VALIDATION_SHARE);
    }
  });
});
