// The training loop: stateful truncated BPTT over B streams, evaluation, checkpoints, stopping.
//
// Reads top to bottom: for each window, forward → backward → clip → Adam; carry (h, c) into
// the next window (detached: gradients never cross windows); every evalEvery iterations
// measure the whole validation split and save. Nothing here prints: progress goes out
// through the callbacks, and the CLI decides what to show.

import { TrainConfig } from '../config';
import { Batcher, Window } from '../data/batcher';
import { LstmModel, Workspace } from './model';
import { Adam } from './optimizer';
import { HistoryPoint, TrainProgress } from '../checkpoint/checkpoint';

export interface StepInfo {
  iteration: number;
  epoch: number;
  /** Mean cross-entropy of this window, nats/char. */
  loss: number;
  /** Global gradient norm before clipping. */
  gradNorm: number;
  /** Training characters per second over the run so far (B·T per step). */
  charsPerSecond: number;
  elapsedMs: number;
}

export interface EvalInfo {
  iteration: number;
  valLoss: number;
  trainLoss: number;
  improved: boolean;
}

export type StopReason = 'max-iters' | 'time' | 'interrupted';

export interface TrainerHooks {
  onStep?(info: StepInfo): void;
  onEval?(info: EvalInfo): void;
  /** Called to write checkpoints; `best` when validation improved. */
  save(progress: TrainProgress, best: boolean): Promise<void>;
  /** Polled between steps; true stops the run after saving (Ctrl-C). */
  stopRequested(): boolean;
}

/** Sums cross-entropy over the whole of a token sequence with B streams, windows of T. */
export class Evaluator {
  private full: Workspace | null = null;
  private tail: Workspace | null = null;
  private readonly batcher: Batcher | null;

  constructor(readonly model: LstmModel, tokens: Int32Array, batchSize: number, readonly seqLen: number) {
    // Fewer streams (and shorter windows) when the split is small: every character counts.
    const steps = Math.min(seqLen, tokens.length - 1);
    const streams = steps >= 1 ? Math.max(1, Batcher.fitBatchSize(tokens.length, batchSize, steps)) : 0;
    this.batcher = streams > 0 ? new Batcher(tokens, streams, steps) : null;
  }

  /** Characters predicted in one pass. */
  get predictions(): number {
    if (!this.batcher) return 0;
    return this.batcher.batchSize * (this.batcher.streamLength - 1);
  }

  /** Mean loss in nats/char over the whole sequence, from a zero state. */
  async meanLoss(): Promise<number> {
    const b = this.batcher;
    if (!b) return NaN;
    const be = this.model.backend;
    this.full ??= this.model.workspace(b.batchSize, b.seqLen);
    this.full.resetState();
    let total = 0;
    let window: Window | undefined;
    for (let w = 0; w < b.windowsPerEpoch; w++) {
      window = b.window(w, b.seqLen, window);
      be.uploadIndices(this.full.tokens, window.inputs);
      be.uploadIndices(this.full.targets, window.targets);
      this.model.forward(this.full, true, false);
      this.full.carryState();
      total += (await be.download(this.full.loss))[0];
    }
    const rest = b.remainderSteps;
    if (rest > 0) {
      this.tail ??= this.model.workspace(b.batchSize, rest);
      this.tail.copyStateFrom(this.full);
      const last = b.window(b.windowsPerEpoch, rest);
      be.uploadIndices(this.tail.tokens, last.inputs);
      be.uploadIndices(this.tail.targets, last.targets);
      this.model.forward(this.tail, true, false);
      total += (await be.download(this.tail.loss))[0];
    }
    return total / this.predictions;
  }

  dispose(): void {
    this.full?.dispose();
    this.tail?.dispose();
  }
}

/** Lets timers and signal handlers run: a backend whose download resolves at once never yields. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Trainer {
  readonly batcher: Batcher;
  readonly workspace: Workspace;
  readonly evaluator: Evaluator | null;

  constructor(
    readonly model: LstmModel,
    readonly optimizer: Adam,
    readonly config: Readonly<TrainConfig>,
    train: Int32Array,
    val: Int32Array,
    readonly progress: TrainProgress,
  ) {
    this.batcher = new Batcher(train, config.batchSize, config.seqLen);
    this.workspace = model.workspace(config.batchSize, config.seqLen);
    this.evaluator = val.length >= 2 ? new Evaluator(model, val, config.batchSize, config.seqLen) : null;
  }

  /** Runs until max-iters, the time budget, or a stop request; always ends with a save. */
  async run(hooks: TrainerHooks): Promise<StopReason> {
    const { config, model, optimizer, batcher, workspace: ws, progress } = this;
    const be = model.backend;
    const B = config.batchSize, T = config.seqLen;
    const startedAt = Date.now() - progress.elapsedMs;
    const sessionStart = Date.now();
    const sessionStartIteration = progress.iteration;
    let lossSinceEval = 0;
    let stepsSinceEval = 0;
    let window: Window | undefined;
    let reason: StopReason | null = null;

    const evaluateAndSave = async (forceSave: boolean): Promise<void> => {
      const trainLoss = stepsSinceEval > 0 ? lossSinceEval / stepsSinceEval : progress.lastTrainLoss ?? NaN;
      const point: HistoryPoint = { iteration: progress.iteration, trainLoss };
      let improved = false;
      if (this.evaluator) {
        const valLoss = await this.evaluator.meanLoss();
        point.valLoss = valLoss;
        progress.lastValLoss = valLoss;
        improved = progress.bestValLoss === null || valLoss < progress.bestValLoss;
        if (improved) progress.bestValLoss = valLoss;
        hooks.onEval?.({ iteration: progress.iteration, valLoss, trainLoss, improved });
      }
      if (stepsSinceEval > 0) {
        progress.history.push(point);
        progress.lastTrainLoss = trainLoss;
      }
      lossSinceEval = 0;
      stepsSinceEval = 0;
      progress.elapsedMs = Date.now() - startedAt;
      if (forceSave || config.saveEvery === 0) await hooks.save(progress, improved);
    };

    for (;;) {
      if (config.maxIters > 0 && progress.iteration >= config.maxIters) reason = 'max-iters';
      else if (config.timeBudgetMs > 0 && Date.now() - sessionStart >= config.timeBudgetMs) reason = 'time';
      else if (hooks.stopRequested()) reason = 'interrupted';
      if (reason) break;

      if (progress.window === 0) ws.resetState(); // a new epoch starts from a zero state
      window = batcher.window(progress.window, T, window);
      be.uploadIndices(ws.tokens, window.inputs);
      be.uploadIndices(ws.targets, window.targets);
      model.forward(ws, true, true);
      model.backward(ws);
      optimizer.update(config);
      ws.carryState(); // detached: the next window starts from these values, no gradient crosses

      const loss = (await be.download(ws.loss))[0] / (B * T);
      const normSq = (await be.download(optimizer.normSq))[0];
      if (!Number.isFinite(loss)) {
        throw new Error(`training diverged at iteration ${progress.iteration + 1} (loss ${loss}); try a smaller --lr or --clip-norm`);
      }
      progress.iteration += 1;
      progress.window += 1;
      if (progress.window >= batcher.windowsPerEpoch) {
        progress.window = 0;
        progress.epoch += 1;
      }
      lossSinceEval += loss;
      stepsSinceEval += 1;
      const now = Date.now();
      hooks.onStep?.({
        iteration: progress.iteration,
        epoch: progress.epoch,
        loss,
        gradNorm: Math.sqrt(normSq),
        charsPerSecond: ((progress.iteration - sessionStartIteration) * B * T) / Math.max(1e-3, (now - sessionStart) / 1000),
        elapsedMs: now - startedAt,
      });

      const evalDue = progress.iteration % config.evalEvery === 0;
      const saveDue = config.saveEvery > 0 && progress.iteration % config.saveEvery === 0;
      if (evalDue) await evaluateAndSave(saveDue);
      else if (saveDue) {
        progress.elapsedMs = Date.now() - startedAt;
        await hooks.save(progress, false);
      }
      await yieldToEventLoop();
    }

    // The end of a run: measure, and save whatever happened since the last save. An interrupt
    // saves at once, without the validation pass: the user is waiting.
    if (reason !== 'interrupted' && (stepsSinceEval > 0 || progress.history.length === 0)) await evaluateAndSave(true);
    else {
      progress.elapsedMs = Date.now() - startedAt;
      await hooks.save(progress, false);
    }
    return reason;
  }

  dispose(): void {
    this.workspace.dispose();
    this.evaluator?.dispose();
  }
}
