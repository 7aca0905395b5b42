// A --time budget holds the whole run: the run's end keeps back what its validation passes take
// (endReserveMs), training stops there annealed, and the schedule measures its progress against
// the budget less that reserve. The trainer reads the clock through Date.now, faked here: a step
// costs STEP_MS, a validation pass what each case says.

import { END_SHARE, endReserveMs, learningRateAt, runProgress } from '../../src/engine/schedule';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { Adam } from '../../src/engine/optimizer';
import { Trainer, TrainProgress } from '../../src/engine/trainer';
import { TrainConfig, defaultTrainConfig, validateConfig } from '../../src/config';

describe('the end reserve and the run progress', () => {
  it('keeps back the passes, at most END_SHARE of the budget, nothing without a budget or a pass time', () => {
    expect(endReserveMs(10_000, 2, 400)).toBe(800);
    expect(endReserveMs(10_000, 1, 400)).toBe(400);
    expect(endReserveMs(10_000, 2, 4_000)).toBe(END_SHARE * 10_000);
    expect(endReserveMs(0, 2, 400)).toBe(0);
    expect(endReserveMs(10_000, 0, 400)).toBe(0);
    expect(endReserveMs(10_000, 2, NaN)).toBe(0);
  });

  it('measures time against the budget less the reserve, and iterations as before', () => {
    const config = { ...defaultTrainConfig(), maxIters: 0, timeBudgetMs: 10_000 };
    expect(runProgress(config, 5, 4_600)).toBeCloseTo(0.46, 12);
    expect(runProgress(config, 5, 4_600, 800)).toBeCloseTo(0.5, 12);
    expect(runProgress(config, 5, 9_200, 800)).toBe(1);
    expect(runProgress({ ...config, timeBudgetMs: 0, maxIters: 40 }, 10, 9_999, 800)).toBe(0.25);
    expect(runProgress({ ...config, maxIters: 40 }, 30, 1_000, 800)).toBe(0.75); // iterations further along
  });
});

const STEP_MS = 50;
const BUDGET_MS = 10_000;

describe('a --time run on a fake clock', () => {
  const backend = new ReferenceBackend();
  afterAll(() => backend.destroy());
  const rng = new Rng(3);
  const V = 6;
  const train = Int32Array.from({ length: 400 }, () => Math.floor(rng.uniform() * V));
  const val = Int32Array.from({ length: 60 }, () => Math.floor(rng.uniform() * V));
  let now = 0;
  beforeEach(() => {
    now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
  });
  afterEach(() => jest.restoreAllMocks());

  /** Trains to the budget; a validation pass costs `passMs` (or what passMs(trainer) says). */
  async function timed(over: Partial<TrainConfig>, passMs: number | ((t: Trainer) => number)) {
    const config = validateConfig({
      ...defaultTrainConfig(), maxIters: 0, timeBudgetMs: BUDGET_MS, evalEvery: 20, batchSize: 2, seqLen: 5,
      model: { ...defaultTrainConfig().model, cell: 'gru', hiddenSize: 5, embeddingSize: 3, layers: 2 }, ...over,
    });
    const m = new Model(backend, { ...config.model, vocabSize: V });
    m.initialize(new Rng(1));
    const progress: TrainProgress = { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] };
    const trainer = new Trainer(m, new Adam(backend, m.params, config.learningRate), config, train, val, progress);
    const evaluator = trainer.evaluator!;
    const meanLoss = evaluator.meanLoss.bind(evaluator);
    const cost = typeof passMs === 'number' ? passMs : passMs(trainer);
    let passes = 0;
    evaluator.meanLoss = async () => {
      now += cost;
      passes += 1;
      return meanLoss();
    };
    const start = now;
    const rates: number[] = [];
    let trainedUntil = 0;
    const reason = await trainer.run({
      onStep: (s) => {
        now += STEP_MS;
        rates.push(s.learningRate);
        trainedUntil = now - start;
      },
      save: async () => undefined,
      stopRequested: () => false,
    });
    return { reason, total: now - start, trainedUntil, passes, rates, config, progress };
  }

  it('ends, its end\'s two passes included, within a step of the budget, annealed', async () => {
    const { reason, total, rates, config, progress } = await timed({ averageTail: 0.3 }, 400);
    expect(reason).toBe('time');
    expect(progress.endChoice).toBeDefined(); // the mean and the raw weights both measured
    // Without the reserve the end's passes (800 ms) would start at the budget.
    expect(total).toBeLessThanOrEqual(BUDGET_MS + STEP_MS);
    expect(total).toBeGreaterThanOrEqual(BUDGET_MS - 400 - STEP_MS);
    // The last step ran at the bottom of the cosine: its progress was measured against the budget
    // less the reserve (against the whole budget it would have stood near 0.92).
    const last = rates[rates.length - 1];
    expect(last - config.minLr).toBeLessThan(1e-3 * (config.learningRate - config.minLr));
    expect(learningRateAt(config, 1_000, 0.92) - config.minLr).toBeGreaterThan(1e-2 * (config.learningRate - config.minLr));
  });

  it('keeps back one pass without an averaged tail', async () => {
    const { total, progress } = await timed({ averageTail: 0 }, 400);
    expect(progress.endChoice).toBeUndefined();
    expect(total).toBeLessThanOrEqual(BUDGET_MS + STEP_MS);
    expect(total).toBeGreaterThanOrEqual(BUDGET_MS - 400 - STEP_MS);
  });

  it('before any validation, reckons a pass a third of training\'s time on as many characters', async () => {
    // No validation while it trains (evalEvery past the run): the end's passes cost what the estimate says.
    const estimate = (t: Trainer): number => (t.evaluator!.predictions * STEP_MS) / (3 * t.config.batchSize * t.config.seqLen);
    const { total, trainedUntil, passes } = await timed({ averageTail: 0.3, evalEvery: 100_000 }, estimate);
    expect(passes).toBe(2);
    expect(total).toBeLessThanOrEqual(BUDGET_MS + STEP_MS);
    expect(total).toBeGreaterThan(BUDGET_MS - STEP_MS);
    expect(trainedUntil).toBeLessThan(BUDGET_MS - 100);
  });

  it('gives the end at most END_SHARE of the budget', async () => {
    // Passes of 3 s, two at the end: 6 s of a 10-second budget. Kept back whole, the reserve would
    // end training at the first validation (4 s in: 20 steps, one pass); capped at 2.5 s, training
    // goes on while a step can start before 7.5 s.
    const { trainedUntil } = await timed({ averageTail: 0.3 }, 3_000);
    expect(trainedUntil).toBeGreaterThan(4_000 + STEP_MS);
    expect(trainedUntil - STEP_MS).toBeLessThan((1 - END_SHARE) * BUDGET_MS);
  });
});
