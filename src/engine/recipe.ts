// The size rule: what `rnn train FILE --time D` trains when no size or dropout flag is given.
//
// The budget buys characters: D × (chars/s of a size on this kind of machine). A bigger model
// learns more per character but needs several passes over the text to be worth its cost, and
// the more passes it gets, the more it overfits without dropout. So the rule takes the largest
// candidate that sees at least MIN_PASSES passes in the budget, and gives it dropout by the
// passes it will see. The cell is the GRU unless the user names one: at an equal 5-minute budget
// at 2x256 it reached 1.507 nats/char against the LSTM's 1.612 (bench/cells.js;
// docs/cells.md). Thresholds and rates come from measurements on tiny-shakespeare (docs/recipe.md;
// the rates from `node bench/recipe.js`).

import { RecurrentInit } from '../config';
import { CellName, cellSpec } from '../cells';

export interface RecipeCandidate {
  layers: number;
  hiddenSize: number;
  /**
   * Training-step chars/s (E=64, B=32, T=64, wasm, 2 threads), validation not included, of the
   * cells measured; any other cell is estimated from the LSTM's by its gate count.
   */
  charsPerSecond: { lstm: number; gru: number };
}

/**
 * Measured by `node bench/recipe.js --seconds 15 --threads 2` (bench/train-worker.js at each
 * size) on 2 vCPUs (AMD EPYC), wasm backend, otherwise idle machine, 2026-12-01.
 */
export const RECIPE_CANDIDATES: readonly RecipeCandidate[] = [
  { layers: 2, hiddenSize: 128, charsPerSecond: { lstm: 29663, gru: 32518 } },
  { layers: 2, hiddenSize: 256, charsPerSecond: { lstm: 7993, gru: 11242 } },
  { layers: 2, hiddenSize: 384, charsPerSecond: { lstm: 3779, gru: 4103 } },
  { layers: 2, hiddenSize: 512, charsPerSecond: { lstm: 2335, gru: 3384 } },
];

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
 * Dropout by passes: none below 2.5 (the model is still underfitting: at 2.5–3.4 passes dropout
 * 0.25 cost every gated cell 0.05–0.06 in bench/cells.js), then 0.05 more per pass, at most 0.3.
 * The cap is not settled: a 2x512 GRU at 0.3 (the run bundled on 2026-12-01) stopped improving on
 * validation after 11 passes while its training loss kept falling (docs/experiments.md). From
 * scratch, a 2x512 LSTM did better at 0.35 (best 1.4333) than at 0.5 (best 1.4454, 14 passes;
 * docs/experiments.md), so the cap stays; a GRU from scratch above 0.3 has not been measured.
 */
export function dropoutForPasses(passes: number): number {
  const p = 0.05 * Math.round(passes - 2);
  return Math.min(0.3, Math.max(0, Math.round(p * 100) / 100));
}

export interface RecipeRequest {
  trainChars: number;
  budgetMs: number;
  /** The user's --cell; RECIPE_CELL when not given. */
  cell?: CellName;
  /** Threads the wasm backend will run (the rates are for 2; 1 halves them, more are not counted). */
  threads: number;
  /** Validation costs a forward pass over valChars every evalEvery windows of B×T characters. */
  valChars: number;
  evalEvery: number;
  batchSize: number;
  seqLen: number;
  /** What the user gave; the rule fills in only the rest. */
  layers?: number;
  hiddenSize?: number;
  dropout?: number;
  /** The machine's measured rates; RECIPE_CANDIDATES when not given. */
  candidates?: readonly RecipeCandidate[];
}

export interface Recipe {
  cell: CellName;
  layers: number;
  hiddenSize: number;
  dropout: number;
  /** Estimated chars/s (validation passes counted) and passes over the training text for the chosen size. */
  charsPerSecond: number;
  passes: number;
}

/**
 * The estimated rate of an arbitrary size: the nearest measured candidate's, scaled by the
 * recurrent cost (gates × H × (H + E) per layer dominates); a cell not measured scales the
 * LSTM's by its gate count.
 */
function estimatedRate(
  layers: number, hiddenSize: number, cell: CellName, threads: number, candidates: readonly RecipeCandidate[] = RECIPE_CANDIDATES,
): number {
  let nearest = candidates[0];
  for (const c of candidates) {
    if (Math.abs(c.hiddenSize - hiddenSize) < Math.abs(nearest.hiddenSize - hiddenSize)) nearest = c;
  }
  const cost = (l: number, h: number): number => l * h * (h + 64);
  const measured = cell === 'lstm' || cell === 'gru' ? nearest.charsPerSecond[cell] : (nearest.charsPerSecond.lstm * cellSpec('lstm').gates) / cellSpec(cell).gates;
  const rate = measured * (cost(nearest.layers, nearest.hiddenSize) / cost(layers, hiddenSize));
  return rate * (Math.min(2, Math.max(1, threads)) / 2);
}

export function chooseRecipe(request: RecipeRequest): Recipe {
  const seconds = request.budgetMs / 1000;
  const cell = request.cell ?? RECIPE_CELL;
  // A forward pass costs about a third of a training step (forward + backward ≈ 3 forwards).
  const trainedPerEval = request.evalEvery * request.batchSize * request.seqLen;
  const trainingShare = 1 / (1 + request.valChars / (3 * Math.max(1, trainedPerEval)));
  const passesOf = (layers: number, hiddenSize: number): { rate: number; passes: number } => {
    const rate = estimatedRate(layers, hiddenSize, cell, request.threads, request.candidates) * trainingShare;
    return { rate, passes: (rate * seconds) / Math.max(1, request.trainChars) };
  };
  const layers = request.layers ?? 2;
  const candidates = request.candidates ?? RECIPE_CANDIDATES;
  let hiddenSize = request.hiddenSize ?? candidates[0].hiddenSize;
  if (request.hiddenSize === undefined) {
    for (const c of candidates) {
      if (passesOf(layers, c.hiddenSize).passes >= MIN_PASSES) hiddenSize = c.hiddenSize;
    }
  }
  const { rate, passes } = passesOf(layers, hiddenSize);
  const dropout = request.dropout ?? dropoutForPasses(passes);
  return { cell, layers, hiddenSize, dropout, charsPerSecond: rate, passes };
}
