// The size rule: what `rnn train FILE --time D` trains when no size or dropout flag is given.
//
// The budget buys characters: D × (chars/s of a size on this machine). A bigger model learns
// more per character but needs several passes over the text to be worth its cost, and the more
// passes it gets, the more it overfits without dropout. So the rule takes the largest candidate
// that sees at least MIN_PASSES passes (or, on a text larger than the one that was measured,
// MIN_CHARS characters) in the budget, and gives it dropout by the passes it will see. The rates
// are an input, measured on the machine that trains (src/engine/rates.ts, cached
// by src/engine/rates-cache.ts). The cell is the GRU unless the user names one: at an equal
// 5-minute budget at 2x256 it reached 1.507 nats/char against the LSTM's 1.612 (bench/cells.js;
// docs/cells.md). Thresholds come from measurements on tiny-shakespeare (docs/recipe.md).

import { RecurrentInit } from '../config';
import { CellName } from '../cells';
import { SizeRate, recurrentCost } from './rates';
import { endReserveMs } from './schedule';

/** The hidden sizes the rule chooses among (at the run's --layers); these are what is measured. */
export const RECIPE_HIDDEN_SIZES: readonly number[] = [128, 256, 384, 512];

/** The cell the rule trains when none is given: the best validation loss per minute measured here. */
export const RECIPE_CELL: CellName = 'gru';

/**
 * The initialisation the rule gives a cell when --init is not given. For the GRU, PyTorch's own
 * U(±1/√H): at 15 minutes on tiny-shakespeare (2x512, dropout 0.05, cosine; Intel Xeon,
 * 2026-12-03) it ended at 1.4335 against orthogonal's 1.4444, lower at every pass from the second
 * on, and level with PyTorch's own GRU run that hour (1.4315): docs/recipe.md, "Quality per minute". One
 * seed each; the LSTMs keep orthogonal (not measured).
 */
export const RECIPE_INIT: Partial<Record<CellName, RecurrentInit>> = { gru: 'pytorch' };

/**
 * A candidate must see the training text at least this many times in the budget. At 2x256 the
 * GRU and LSTM were still improving after 3.4 and 2.5 passes with no dropout (bench/cells.js),
 * and a 2x512 LSTM at 2.5 passes (the run of the first bundled model, dropout 0.25) was already
 * 0.04 below the 2x256's 1.612 at the same characters.
 */
export const MIN_PASSES = 2.5;

/**
 * The characters MIN_PASSES passes over tiny-shakespeare's training split make (1,003,855 × 2.5),
 * the text MIN_PASSES was measured on. A candidate qualifies when it sees MIN_PASSES passes or
 * this many characters, whichever is fewer: on a text larger than tiny-shakespeare, a model that
 * cannot make 2.5 passes still sees as much text as the rule's sizes were shown to need, and new
 * text overfits less than text seen again, so the passes would ask for more than was measured.
 * On tiny-shakespeare the two coincide (its plans are the measured ones), and on a smaller text
 * the passes are fewer characters and decide as before.
 */
export const MIN_CHARS = 2_509_638;

/**
 * Validation, which reads the whole validation split every --eval-every iterations, is kept to
 * about this share of a run where --eval-every is not given (evalEveryFor).
 */
export const VALIDATION_SHARE = 0.1;

/**
 * Dropout by passes: none below 2.5 (the model is still underfitting: at 2.5–3.4 passes dropout
 * 0.25 cost every gated cell 0.05–0.06 in bench/cells.js), then 0.05 more per pass, at most 0.3.
 * The cap is not settled: a 2x512 GRU at 0.3 (the run bundled on 2026-12-01) stopped improving on
 * validation after 11 passes while its training loss kept falling (docs/experiments.md). From
 * scratch, a 2x512 LSTM did better at 0.35 (best 1.4333) than at 0.5 (best 1.4454, 14 passes;
 * docs/experiments.md), so the cap stays; a GRU from scratch above 0.3 has not been measured.
 */
export function dropoutForPasses(passes: number): number {
  // The rule's own choice of size stops at MAX_PASSES and takes RULE_DROPOUT; this curve serves a
  // size the user gave (--hidden without --dropout), which trains to the end of the budget.
  const p = 0.05 * Math.round(passes - 2);
  return Math.min(0.3, Math.max(0, Math.round(p * 100) / 100));
}

/**
 * Where the rule chooses the size and the dropout and that size is its largest candidate, it trains
 * at most this many passes and stops there, annealed, even when the budget buys more: more time
 * must never give worse text, and past
 * about 5 passes its 2x512 GRU got worse with every longer budget measured on tiny-shakespeare
 * (docs/recipe.md, 2026-12-04, Intel Xeon): 5.1 passes at dropout 0.05 ended at 1.4224 (15 minutes),
 * 9.8 passes at 0.2 at 1.4351 (30 minutes), 21 passes at 0.3 at 1.4474 (65 minutes), validation
 * standing still from pass 15 while the training loss fell. Dropout up to 0.3 did not hold it, so
 * the rule stops instead; a longer budget then trains what a shorter one would.
 */
export const MAX_PASSES = 5;

/**
 * The dropout the rule gives its largest size from MIN_PASSES to MAX_PASSES: 0.05, the value both
 * measured 15-minute runs of its 2x512 GRU used (2.8 passes, 1.4454 on an AMD EPYC, 2026-12-02;
 * 5.1 passes, 1.4224 on an Intel Xeon, 2026-12-04; docs/recipe.md). None below MIN_PASSES.
 */
export const RULE_DROPOUT = 0.05;

export interface RecipeRequest {
  trainChars: number;
  budgetMs: number;
  /** The user's --cell; RECIPE_CELL when not given. The rates must be of the cell trained. */
  cell?: CellName;
  /** Validation costs a forward pass over valChars every evalEvery windows of B×T characters. */
  valChars: number;
  evalEvery: number;
  /** The validation passes the run's end makes, out of the budget (endReserveMs); 0 when not given. */
  endPasses?: number;
  batchSize: number;
  seqLen: number;
  /** E: scales a rate to a size not measured. */
  embeddingSize: number;
  /** What the user gave; the rule fills in only the rest. */
  layers?: number;
  hiddenSize?: number;
  dropout?: number;
}

export interface Recipe {
  cell: CellName;
  layers: number;
  hiddenSize: number;
  dropout: number;
  /** Estimated chars/s (validation passes, the end's included, counted) and passes over the training text for the chosen size. */
  charsPerSecond: number;
  passes: number;
  /** The passes the whole budget would buy, where the rule stops at MAX_PASSES before it (else null). */
  budgetPasses: number | null;
}

/**
 * The training rate of a size: its own measured rate, else the nearest measured size's scaled by
 * the recurrent cost (gates × H × (H + E) per layer dominates; the gates are the same cell's).
 */
export function rateOf(rates: readonly SizeRate[], layers: number, hiddenSize: number, embeddingSize: number): number {
  if (rates.length === 0) throw new Error('the size rule needs at least one measured rate');
  let nearest = rates[0];
  for (const r of rates) {
    if (Math.abs(r.hiddenSize - hiddenSize) < Math.abs(nearest.hiddenSize - hiddenSize)) nearest = r;
  }
  return nearest.charsPerSecond * (recurrentCost(nearest.layers, nearest.hiddenSize, embeddingSize) / recurrentCost(layers, hiddenSize, embeddingSize));
}

/**
 * The rule, a pure function of the corpus's size, the budget, the user's flags and `rates`
 * (each candidate's training chars/s for the cell trained, at the run's B, T, E and threads).
 * The candidates are the measured sizes.
 */
export function chooseRecipe(request: RecipeRequest, rates: readonly SizeRate[]): Recipe {
  const seconds = request.budgetMs / 1000;
  const cell = request.cell ?? RECIPE_CELL;
  // A forward pass costs about a third of a training step (forward + backward ≈ 3 forwards).
  const trainedPerEval = request.evalEvery * request.batchSize * request.seqLen;
  const trainingShare = 1 / (1 + request.valChars / (3 * Math.max(1, trainedPerEval)));
  const layers = request.layers ?? 2;
  const passesOf = (hiddenSize: number): { rate: number; passes: number } => {
    const training = rateOf(rates, layers, hiddenSize, request.embeddingSize);
    // The end's passes come out of the budget as the trainer keeps them back (endReserveMs).
    const endMs = endReserveMs(request.budgetMs, request.endPasses ?? 0, (1000 * request.valChars) / (3 * training));
    const rate = training * trainingShare * (seconds > 0 ? Math.max(0, 1 - endMs / request.budgetMs) : 1);
    return { rate, passes: (rate * seconds) / Math.max(1, request.trainChars) };
  };
  const candidates = [...new Set(rates.map((r) => r.hiddenSize))].sort((a, b) => a - b);
  let hiddenSize = request.hiddenSize ?? candidates[0];
  if (request.hiddenSize === undefined) {
    const enough = Math.min(MIN_PASSES, MIN_CHARS / Math.max(1, request.trainChars));
    for (const h of candidates) {
      if (passesOf(h).passes >= enough) hiddenSize = h;
    }
  }
  const { rate, passes } = passesOf(hiddenSize);
  if (request.hiddenSize === undefined && request.dropout === undefined && hiddenSize === candidates[candidates.length - 1]) {
    // The rule's own choice of its largest size, the one measured past MAX_PASSES: RULE_DROPOUT, and
    // a stop at MAX_PASSES (see there). A smaller size given more passes than that is one a larger
    // size could not yet take over from, and trains to the end of the budget.
    const dropout = passes >= MIN_PASSES ? RULE_DROPOUT : 0;
    const capped = passes > MAX_PASSES;
    return { cell, layers, hiddenSize, dropout, charsPerSecond: rate, passes: capped ? MAX_PASSES : passes, budgetPasses: capped ? passes : null };
  }
  const dropout = request.dropout ?? dropoutForPasses(passes);
  return { cell, layers, hiddenSize, dropout, charsPerSecond: rate, passes, budgetPasses: null };
}

/**
 * The validation interval a fresh run takes where --eval-every is not given: the default, or, for a
 * validation split so large that a pass over it every `evalEvery` iterations would take more than
 * VALIDATION_SHARE of the run, the multiple of `evalEvery` that keeps it to about that share.
 * A validation pass costs about a third of training on as many characters (chooseRecipe), so the
 * share is (V/3) / (n·B·T + V/3) ≤ s when n ≥ V·(1 − s) / (3·s·B·T). On tiny-shakespeare's split
 * (111,539 characters, B=32, T=64) that is 164, and the default 200 stands.
 */
export function evalEveryFor(valChars: number, batchSize: number, seqLen: number, evalEvery: number): number {
  const needed = (valChars * (1 - VALIDATION_SHARE)) / (3 * VALIDATION_SHARE * batchSize * seqLen);
  return Math.max(evalEvery, Math.ceil(needed / evalEvery) * evalEvery);
}

/** The iterations of B×T characters that make `passes` passes over `trainChars` (the rule's stop). */
export function itersForPasses(passes: number, trainChars: number, batchSize: number, seqLen: number): number {
  return Math.ceil((passes * trainChars) / (batchSize * seqLen));
}
