// The training loop: stateful truncated BPTT over B streams, evaluation, checkpoints, stopping.
//
// Reads top to bottom: for each window, forward → backward → clip → Adam; carry (h, c) into
// the next window (detached: gradients never cross windows); in the run's tail, fold the
// weights into a running mean every few steps (--average-tail); every evalEvery iterations
// measure the whole validation split (with the mean, once it has a point) and save. Nothing
// here prints: progress goes out through the callbacks, and the CLI decides what to show.

import { TrainConfig, weightDropOf, zonesOut } from '../config';
import { Batcher, TokenIds, Window } from '../data/batcher';
import { EndChoice, WeightAverage, inAverageTail, joinsAverage } from './tail-average';
import { Evaluator } from './evaluator';
import { Model, Workspace } from './model';
import { trainingMode } from './workspace';
import { Adam, ClipConfig } from './optimizer';
import { Rng } from './rng';
import { endPasses, endReserveMs, learningRateAt, runProgress } from './schedule';

// The Evaluator serves rnn eval and rnn average too; its callers have imported it from here.
export { Evaluator } from './evaluator';
export type { EndChoice } from './tail-average';
export type { EvalSum } from './evaluator';

export interface HistoryPoint {
  iteration: number;
  /** Mean training loss (nats/char) over the iterations since the previous point. */
  trainLoss: number;
  /** Validation loss (nats/char) at this iteration, when it was measured. */
  valLoss?: number;
}

/** Where training stands: enough, with the tensors, to continue step for step. */
export interface TrainProgress {
  iteration: number;
  epoch: number;
  /** Next window within the epoch. */
  window: number;
  bestValLoss: number | null;
  lastValLoss: number | null;
  lastTrainLoss: number | null;
  /**
   * Training time of the whole run so far, across every resume: a --time budget and the
   * learning-rate schedule's position count it, so a resumed run continues where it stood.
   */
  elapsedMs: number;
  history: HistoryPoint[];
  /** Points in the tail's running mean of the weights (--average-tail); absent or 0: none yet. */
  averaged?: number;
  /**
   * Set by a run's end when the tail's mean had points: both validation losses, and the weights
   * the run ends on, whichever is lower. 'raw': the checkpoint's weights are the optimizer's own,
   * the mean kept apart for --resume. Gone at the next step.
   */
  endChoice?: EndChoice;
}

export interface StepInfo {
  iteration: number;
  epoch: number;
  /** Mean cross-entropy of this window, nats/char. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** The learning rate this step used. */
  learningRate: number;
  /** Training characters per second over the run so far (B·T per step). */
  charsPerSecond: number;
  elapsedMs: number;
}

export interface EvalInfo {
  iteration: number;
  valLoss: number;
  trainLoss: number;
  improved: boolean;
  /** The run's clock (its resumed parts included) when this validation pass finished. */
  elapsedMs: number;
}

export type StopReason = 'max-iters' | 'time' | 'interrupted' | 'patience';

export interface TrainerHooks {
  /** Awaited: a hook may run the model (a sample on stderr) between steps. */
  onStep?(info: StepInfo): void | Promise<void>;
  onEval?(info: EvalInfo): void | Promise<void>;
  /** Called to write checkpoints; `best` when validation improved. */
  save(progress: TrainProgress, best: boolean): Promise<void>;
  /** Polled between steps; true stops the run after saving (Ctrl-C). */
  stopRequested(): boolean;
  /** Early stopping: end the run once this many evaluations in a row have not improved (0: never). */
  patience?: number;
}

/**
 * One step of stateful truncated BPTT on a window: forward, backward, clip + Adam, then carry
 * (h, c) into the next window, detached (no gradient crosses windows). Only the mean loss
 * (nats/char) and ‖g‖² come back from the backend.
 */
export async function trainStep(
  model: Model, optimizer: Adam, ws: Workspace, window: Window, clip: ClipConfig, masks: Rng | null = null,
): Promise<{ loss: number; gradNorm: number }> {
  const be = model.backend;
  if (masks) ws.drawMasks(masks);
  be.uploadIndices(ws.tokens, window.inputs);
  be.uploadIndices(ws.targets, window.targets);
  model.forward(ws, true, true);
  model.backward(ws);
  optimizer.update(clip);
  ws.carryState();
  const loss = (await be.download(ws.loss))[0] / (ws.batchSize * ws.steps);
  const normSq = (await be.download(optimizer.normSq))[0];
  return { loss, gradNorm: Math.sqrt(normSq) };
}

/** What one call of Trainer.run tracks between steps. */
interface RunState {
  /** Date.now() at the run's start, less the time it trained before it was resumed. */
  startedAt: number;
  /** Training loss summed since the last evaluation, and the steps it sums. */
  lossSinceEval: number;
  stepsSinceEval: number;
  /** Evaluations since the best one (--patience). */
  sinceBest: number;
  /** Date.now() and the iteration when this call began: the training rate before any validation pass. */
  sessionStart: number;
  sessionIteration: number;
  /** How long the last validation pass of this call took (ms), or null before one: the end's reserve. */
  passMs: number | null;
  /** The furthest the run's progress has come: a reserve that shrinks never moves the schedule back. */
  fraction: number;
}

/** Evaluations since the best one, counted from the history so a resumed run goes on counting. */
function evaluationsSinceBest(progress: TrainProgress): number {
  let sinceBest = 0;
  for (const point of progress.history) {
    if (point.valLoss === undefined) continue;
    sinceBest = point.valLoss === progress.bestValLoss ? 0 : sinceBest + 1;
  }
  return sinceBest;
}

/** Lets timers and signal handlers run: a backend whose download resolves at once never yields. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Trainer {
  readonly batcher: Batcher;
  readonly workspace: Workspace;
  readonly evaluator: Evaluator | null;
  /** The tail's running mean of the weights; null when --average-tail is 0. */
  readonly average: WeightAverage | null;

  constructor(
    readonly model: Model,
    readonly optimizer: Adam,
    readonly config: Readonly<TrainConfig>,
    train: TokenIds,
    val: TokenIds,
    readonly progress: TrainProgress,
  ) {
    this.batcher = new Batcher(train, config.batchSize, config.seqLen);
    this.workspace = model.workspace(config.batchSize, config.seqLen, trainingMode(config));
    this.evaluator = val.length >= 2 ? new Evaluator(model, val, config.batchSize, config.seqLen) : null;
    this.average = config.averageTail > 0 ? new WeightAverage(model.backend, model.params) : null;
    if (!this.average && progress.averaged) progress.averaged = 0; // resumed with --average-tail 0: its mean is dropped
  }

  /** Runs until max-iters, the time budget, or a stop request; always ends with a save. */
  async run(hooks: TrainerHooks): Promise<StopReason> {
    const { config, model, optimizer, batcher, workspace: ws, progress } = this;
    const B = config.batchSize, T = config.seqLen;
    const sessionStart = Date.now();
    const run: RunState = {
      startedAt: sessionStart - progress.elapsedMs, lossSinceEval: 0, stepsSinceEval: 0, sinceBest: evaluationsSinceBest(progress),
      sessionStart, sessionIteration: progress.iteration, passMs: null, fraction: 0,
    };
    const stochastic = config.dropout > 0 || zonesOut(model.config) || weightDropOf(config) > 0;
    let window: Window | undefined;
    let reason: StopReason | null = null;
    for (;;) {
      const started = Date.now();
      const reserveMs = this.reserveMs(run, started);
      reason = this.stopReason(hooks, run, started, reserveMs);
      if (reason) break;

      if (progress.window === 0) ws.resetState(); // a new epoch starts from a zero state
      window = batcher.window(progress.window, T, window);
      run.fraction = Math.max(run.fraction, runProgress(config, progress.iteration, started - run.startedAt, reserveMs));
      const runFraction = run.fraction;
      optimizer.learningRate = learningRateAt(config, progress.iteration, runFraction);
      // Masks depend only on the seed and the iteration, so a resumed run draws what it would have.
      const masks = stochastic ? Rng.forStep(config.seed, progress.iteration) : null;
      const { loss, gradNorm } = await trainStep(model, optimizer, ws, window, config, masks);
      if (!Number.isFinite(loss)) {
        throw new Error(`training diverged at iteration ${progress.iteration + 1} (loss ${loss}); try a smaller --lr or --clip-norm`);
      }
      await this.advance(runFraction);
      run.lossSinceEval += loss;
      run.stepsSinceEval += 1;
      const now = Date.now();
      await hooks.onStep?.({
        iteration: progress.iteration,
        epoch: progress.epoch,
        loss,
        gradNorm,
        learningRate: optimizer.learningRate,
        charsPerSecond: ((progress.iteration - run.sessionIteration) * B * T) / Math.max(1e-3, (now - run.sessionStart) / 1000),
        elapsedMs: now - run.startedAt,
      });

      const evalDue = progress.iteration % config.evalEvery === 0;
      const saveDue = config.saveEvery > 0 && progress.iteration % config.saveEvery === 0;
      if (evalDue) await this.evaluateAndSave(hooks, run, saveDue);
      else if (saveDue) {
        progress.elapsedMs = Date.now() - run.startedAt;
        await hooks.save(progress, false);
      }
      await yieldToEventLoop();
    }

    // The end of a run: measure, and save whatever happened since the last save. An interrupt
    // saves at once, without the validation pass: the user is waiting. With an averaged tail the
    // end measures the raw weights too and keeps whichever validates lower (endChoice).
    if (reason !== 'interrupted' && (run.stepsSinceEval > 0 || progress.history.length === 0)) await this.evaluateAndSave(hooks, run, true, true);
    else if (reason !== 'interrupted' && this.endChoiceDue()) await this.chooseAfterLastEval(hooks, run);
    else {
      progress.elapsedMs = Date.now() - run.startedAt;
      await hooks.save(progress, false);
    }
    return reason;
  }

  /** Why the run stops before its next step (at `now`, the end keeping back `reserveMs`), or null to go on. */
  private stopReason(hooks: TrainerHooks, run: RunState, now: number, reserveMs: number): StopReason | null {
    const { config, progress } = this;
    if (config.maxIters > 0 && progress.iteration >= config.maxIters) return 'max-iters';
    if (config.timeBudgetMs > 0 && now - run.startedAt + reserveMs >= config.timeBudgetMs) return 'time';
    if (hooks.stopRequested()) return 'interrupted';
    if (hooks.patience && run.sinceBest >= hooks.patience) return 'patience';
    return null;
  }

  /** After a step: count it, fold the weights into the tail's mean when due, move to the next window. */
  private async advance(runFraction: number): Promise<void> {
    const { config, progress, average, batcher } = this;
    progress.iteration += 1;
    delete progress.endChoice; // a run resumed past its end trains on: its weights are the mean again
    if (average) {
      // A resumed run given a longer budget may stand before its tail again: the mean starts anew there.
      if (joinsAverage(config.averageTail, runFraction, progress.iteration)) await average.add();
      else if (average.count > 0 && !inAverageTail(config.averageTail, runFraction)) average.reset();
      progress.averaged = average.count;
    }
    progress.window += 1;
    if (progress.window >= batcher.windowsPerEpoch) {
      progress.window = 0;
      progress.epoch += 1;
    }
  }

  /**
   * What a --time run keeps back from training for its end (endReserveMs): its validation passes,
   * the split's (with the tail's mean) and, with an averaged tail, the raw weights' beside it. A pass
   * takes what the last one took, or before one has run in this call, about a third of training's
   * time on as many characters (as the plan reckons it).
   */
  private reserveMs(run: RunState, now: number): number {
    const { config, progress, evaluator } = this;
    if (config.timeBudgetMs <= 0 || !evaluator) return 0;
    let passMs = run.passMs;
    if (passMs === null) {
      const trained = (progress.iteration - run.sessionIteration) * config.batchSize * config.seqLen;
      if (trained === 0) return 0;
      passMs = (evaluator.predictions * (now - run.sessionStart)) / (3 * trained);
    }
    return endReserveMs(config.timeBudgetMs, endPasses(true, config.averageTail), passMs);
  }

  /** Whether the run's end has a tail's mean to weigh against the raw weights, and no choice made yet. */
  private endChoiceDue(): boolean {
    return this.evaluator !== null && this.average !== null && this.average.count > 0 && this.progress.endChoice === undefined;
  }

  /**
   * The run's end, given the tail mean's validation loss: measures the raw weights too, records
   * both (progress.endChoice) and returns the lower, which the checkpoint will hold.
   */
  private async chooseAtEnd(meanLoss: number): Promise<number> {
    const raw = await this.evaluator!.meanLoss();
    this.progress.endChoice = { mean: meanLoss, raw, chose: raw < meanLoss ? 'raw' : 'mean' };
    return Math.min(raw, meanLoss);
  }

  /** The end, when the last step's validation already measured the mean: the raw weights beside it, saved again. */
  private async chooseAfterLastEval(hooks: TrainerHooks, run: RunState): Promise<void> {
    const { progress } = this;
    const last = progress.history[progress.history.length - 1];
    // (A run resumed at its very end from an interrupt's save has no validation here: measure both.)
    if (last?.iteration !== progress.iteration || last.valLoss === undefined) return this.evaluateAndSave(hooks, run, true, true);
    const mean = last.valLoss;
    const chosen = await this.chooseAtEnd(mean);
    let improved = false;
    if (chosen < mean) {
      progress.lastValLoss = chosen;
      last.valLoss = chosen;
      improved = progress.bestValLoss === null || chosen < progress.bestValLoss;
      if (improved) progress.bestValLoss = chosen;
    }
    progress.elapsedMs = Date.now() - run.startedAt;
    await hooks.save(progress, improved);
  }

  /**
   * Measures the validation split (with the tail's mean once it has a point), records the point,
   * saves. At the run's `end`, an averaged tail's raw weights are measured too (chooseAtEnd).
   */
  private async evaluateAndSave(hooks: TrainerHooks, run: RunState, forceSave: boolean, end = false): Promise<void> {
    const { config, progress, average } = this;
    const trainLoss = run.stepsSinceEval > 0 ? run.lossSinceEval / run.stepsSinceEval : progress.lastTrainLoss ?? NaN;
    const point: HistoryPoint = { iteration: progress.iteration, trainLoss };
    let improved = false;
    if (this.evaluator) {
      const evaluator = this.evaluator;
      // What the checkpoint will hold: the tail's mean once it has a point.
      const passStart = Date.now();
      let valLoss = average ? await average.withMean(() => evaluator.meanLoss()) : await evaluator.meanLoss();
      run.passMs = Date.now() - passStart;
      if (end && this.endChoiceDue()) valLoss = await this.chooseAtEnd(valLoss);
      point.valLoss = valLoss;
      progress.lastValLoss = valLoss;
      improved = progress.bestValLoss === null || valLoss < progress.bestValLoss;
      if (improved) progress.bestValLoss = valLoss;
      run.sinceBest = improved ? 0 : run.sinceBest + 1;
      await hooks.onEval?.({ iteration: progress.iteration, valLoss, trainLoss, improved, elapsedMs: Date.now() - run.startedAt });
    }
    if (run.stepsSinceEval > 0) {
      progress.history.push(point);
      progress.lastTrainLoss = trainLoss;
    }
    run.lossSinceEval = 0;
    run.stepsSinceEval = 0;
    progress.elapsedMs = Date.now() - run.startedAt;
    if (forceSave || config.saveEvery === 0) await hooks.save(progress, improved);
  }

  dispose(): void {
    this.workspace.dispose();
    this.evaluator?.dispose();
  }
}
