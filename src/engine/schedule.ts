// The learning rate over a run: linear warm-up, then constant, cosine or step decay.
//
// Progress is the fraction of the run done: of --max-iters, or of the --time budget when time
// bounds the run (whichever is further along when both do), so a time-bounded run ends
// annealed whatever the machine's speed. Cosine (SGDR, Loshchilov & Hutter 2017, without
// restarts; nanoGPT's decay) goes from --lr to --min-lr; step halves the rate at 50% and again
// at 75% of the run (torch-rnn's lr_decay_factor 0.5), never below --min-lr.

import { LrSchedule } from '../config';

export interface ScheduleConfig {
  lrSchedule: LrSchedule;
  learningRate: number;
  minLr: number;
  warmupIters: number;
  maxIters: number;
  timeBudgetMs: number;
}

/**
 * How far along the run is, in [0, 1]: iterations and training time, whichever bounds it more.
 * The time is measured against the budget less `reserveMs`, what the run's end keeps back for its
 * validation (endReserveMs): training stops there, annealed.
 */
export function runProgress(config: ScheduleConfig, iteration: number, elapsedMs: number, reserveMs = 0): number {
  let progress = 0;
  if (config.maxIters > 0) progress = Math.max(progress, iteration / config.maxIters);
  if (config.timeBudgetMs > 0) progress = Math.max(progress, elapsedMs / Math.max(1, config.timeBudgetMs - reserveMs));
  return Math.min(1, Math.max(0, progress));
}

/**
 * The most of a --time budget its end may keep back. Past it the end's validation runs over the
 * budget: training a quarter of the budget less is as far as the budget is worth giving up to it.
 */
export const END_SHARE = 0.25;

/**
 * What a --time run keeps back from training for its end, so that the whole run, the end's
 * validation passes included, fits the budget: `passes` passes of `passMs` each, at most END_SHARE
 * of the budget. 0 without a budget or a known pass time.
 */
export function endReserveMs(budgetMs: number, passes: number, passMs: number): number {
  if (!(budgetMs > 0) || !(passes > 0) || !(passMs > 0)) return 0;
  return Math.min(passes * passMs, END_SHARE * budgetMs);
}

/**
 * The validation passes a run's end makes: the split's (with the tail's mean), and with an
 * averaged tail the raw weights' beside it; none without a validation split.
 */
export function endPasses(validates: boolean, averageTail: number): number {
  return validates ? (averageTail > 0 ? 2 : 1) : 0;
}

/** The rate for the next step, given the iterations done and the run's progress. */
export function learningRateAt(config: ScheduleConfig, iteration: number, progress: number): number {
  const { learningRate: lr, minLr } = config;
  // Warm-up: step k (1-based) of the first N runs at lr·k/N.
  if (config.warmupIters > 0 && iteration < config.warmupIters) return (lr * (iteration + 1)) / config.warmupIters;
  switch (config.lrSchedule) {
    case 'constant':
      return lr;
    case 'cosine':
      return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
    case 'step':
      return Math.max(minLr, lr * (progress >= 0.75 ? 0.25 : progress >= 0.5 ? 0.5 : 1));
  }
}
