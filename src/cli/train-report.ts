// What `rnn train` says: the plan in words, the start and the end of a run, --sample-every and --log.

import * as fs from 'fs';
import { DEFAULTS, TrainConfig, weightDropOf, zoneoutSummary } from '../config';
import { UsageError } from '../errors';
import { Corpus, EncodedCorpus } from '../data/corpus';
import { UnseenShare, ValSplit, unseenWarning } from '../data/split';
import { Backend } from '../kernels/backend';
import { cellSpec } from '../cells';
import { EvalInfo, StepInfo, StopReason } from '../engine/trainer';
import { sampleText } from '../sample/generate';
import { LoadedCheckpoint } from '../checkpoint/checkpoint';
import { TrainPlan } from '../train/plan';
import { RunPaths, TrainingRun } from '../train/run';
import { describePlan, dryRunPlan } from './dry-run';
import { Log } from './log';
import { RunRates } from './rates';
import { ProgressReporter } from './progress';

export function formatMinutes(ms: number): string {
  return ms % 60000 === 0 ? `${ms / 60000}m` : `${(ms / 1000).toFixed(0)}s`;
}

/**
 * --init-from on stderr: characters the corpus adds to the checkpoint's vocabulary, and a warning
 * when this run's validation split holds text the checkpoint was trained on (the same text with a
 * larger --val-fraction reaches back into its training split), since validation loss would flatter it.
 */
export function describeStart(started: LoadedCheckpoint, encoded: EncodedCorpus, config: TrainConfig, log: Log): void {
  const known = started.meta.vocab.size;
  const added = encoded.vocab.chars.slice(known);
  if (added.length > 0) {
    const shown = added.slice(0, 20).map((ch) => JSON.stringify(ch)).join(' ');
    log.info(`rnn: ${encoded.source} adds ${added.length} character${added.length === 1 ? '' : 's'} to the ${known} of ${started.path} ` +
      `(${shown}${added.length > 20 ? ' …' : ''}); each starts with a fresh embedding, as rare as the rarest known character`);
  }
  const { corpus, train } = started.meta;
  if (corpus.sha256 === encoded.sha256 && config.valFraction > train.valFraction) {
    log.warn(`${started.path} was trained on this text with --val-fraction ${train.valFraction}; ` +
      `at ${config.valFraction} part of this run's validation split was its training text, so validation loss will read low`);
  }
}

/** "2.8 passes"; under one pass (a large text), with the characters it comes to: "0.09 passes, 2.7 M characters". */
function passesInWords(passes: number, trainChars: number): string {
  if (passes >= 1) return `${passes.toFixed(1)} passes`;
  return `${passes.toFixed(2)} passes, ${((passes * trainChars) / 1e6).toFixed(1)} M characters`;
}

/** What the plan chose that the user did not ask for: the size rule's model, fewer streams. */
export function reportPlan(plan: TrainPlan, source: string, trainChars: number, log: Log): void {
  const { config } = plan;
  if (plan.recipe) {
    const { recipe, init } = plan.recipe;
    const schedule = config.lrSchedule !== 'cosine' ? `${config.lrSchedule} rate`
      : recipe.budgetPasses !== null ? 'cosine to the stop' : 'cosine to the end of the budget';
    log.info(`rnn: ${formatMinutes(config.timeBudgetMs)} on ${trainChars.toLocaleString('en-US')} training characters: ` +
      `${recipe.layers}x${recipe.hiddenSize} ${cellSpec(recipe.cell).title}, ` +
      `${recipe.dropout > 0 ? `dropout ${recipe.dropout}` : 'no dropout'}, ${init === 'pytorch' ? "PyTorch's init, " : ''}${schedule} ` +
      `(about ${passesInWords(recipe.passes, trainChars)} at ~${Math.round(recipe.charsPerSecond).toLocaleString('en-US')} chars/s; ` +
      '--cell, --hidden, --dropout and --init override)');
    if (recipe.budgetPasses !== null) {
      const minutes = (recipe.passes * trainChars) / recipe.charsPerSecond / 60;
      log.info(`rnn: it stops after ${recipe.passes} passes (iteration ${config.maxIters.toLocaleString('en-US')}, ` +
        `${minutes < 1 ? 'under a minute' : `about ${Math.round(minutes)} minutes`} of --time ${formatMinutes(config.timeBudgetMs)}, which buys ${recipe.budgetPasses.toFixed(1)}): ` +
        'past that this model overfit in every longer run measured (docs/recipe.md); --dropout or --hidden trains to the end of the budget');
    }
  }
  if (plan.evalEveryRaised) {
    const { from, to } = plan.evalEveryRaised;
    log.info(`rnn: validation every ${to.toLocaleString('en-US')} iterations, not ${from}: a pass over this validation split ` +
      'costs about a third of training on as many characters, and at this interval it takes about a tenth of the run; --eval-every sets it');
  }
  if (plan.batchFitted) {
    const { wanted, fitted } = plan.batchFitted;
    log.warn(`${source} gives ${trainChars} training characters: too few for ${wanted} streams of ${config.seqLen + 1}; using --batch ${fitted}`);
  }
}

/** Before training: a line when validation holds characters the training part lacks (src/data/split.ts counts them). */
export function warnUnseen(unseen: UnseenShare, chars: readonly string[], split: ValSplit, log: Log): void {
  const line = unseenWarning(unseen, chars, split);
  if (line) log.warn(line);
}

/** --plan: the plan in words on stderr, or as JSON on stdout with --json; nothing is trained. */
export function printDryRun(
  plan: TrainPlan, facts: { corpus: Corpus; characters: number; unseen: UnseenShare; rates: RunRates | null }, resumed: boolean, json: boolean,
): void {
  const { config } = plan;
  const { corpus } = facts;
  const dry = dryRunPlan(config, {
    source: corpus.source, characters: facts.characters, vocabSize: corpus.vocab.size, train: corpus.train.length, val: corpus.val.length,
  }, facts.unseen, { recipe: plan.estimate, rates: facts.rates }, `${describeSchedule(config)}${describeAverage(config)}`, resumed);
  if (json) process.stdout.write(`${JSON.stringify(dry)}\n`);
  else process.stderr.write(`${describePlan(dry)}\n`);
}

/** The schedule in words, for stderr: e.g. `0.002, cosine to 0.0002 by the end of 15m`. */
function describeSchedule(config: Readonly<TrainConfig>): string {
  const warm = config.warmupIters > 0 ? `, ${config.warmupIters} warm-up iterations` : '';
  if (config.lrSchedule === 'constant') return `${config.learningRate} constant${warm}`;
  const bounds = [config.maxIters > 0 ? `${config.maxIters} iterations` : '', config.timeBudgetMs > 0 ? formatMinutes(config.timeBudgetMs) : '']
    .filter(Boolean).join(' or ');
  const shape = config.lrSchedule === 'cosine' ? `cosine to ${config.minLr}` : `step (×0.5 at 50%, ×0.25 at 75%, floor ${config.minLr})`;
  return `${config.learningRate}, ${shape} by the end of ${bounds}${warm}`;
}

/** The tail averaging in words, for stderr: e.g. `; weights averaged over the last 30% of the run`. */
function describeAverage(config: Readonly<TrainConfig>): string {
  return config.averageTail > 0 ? `; weights averaged over the last ${Math.round(config.averageTail * 100)}% of the run` : '';
}

/** The run about to train, on stderr: what it starts from, the model, the data, the backend and the schedule. */
export function reportReady(run: TrainingRun, backend: Backend, corpus: Corpus, verb: string, log: Log): void {
  const { config } = run;
  const regularised = [config.dropout > 0 ? `dropout ${config.dropout}` : '', zoneoutSummary(config.model),
    config.weightDecay > 0 ? `weight decay ${config.weightDecay}` : '', weightDropOf(config) > 0 ? `weight drop ${weightDropOf(config)}` : '']
    .filter(Boolean).join(', ');
  log.info(`rnn: ${verb}: ${config.model.layers}x${config.model.hiddenSize} ${cellSpec(config.model.cell).title}` +
    `${regularised ? ` (${regularised})` : ''}, ` +
    `${run.model.parameterCount.toLocaleString('en-US')} parameters, vocabulary ${run.vocab.size}, ` +
    `${corpus.train.length.toLocaleString('en-US')} train / ${corpus.val.length.toLocaleString('en-US')} val chars`);
  log.info(`rnn: backend ${backend.name} (${backend.description}); B=${config.batchSize} T=${config.seqLen}; ` +
    `lr ${describeSchedule(config)}${describeAverage(config)}`);
  if (!run.trainer.evaluator) log.warn('the validation split is empty (--val-fraction or a tiny corpus): no validation loss, no best checkpoint');
}

/** --json: the run's summary, one line on stdout. */
export function jsonSummary(run: TrainingRun, paths: RunPaths, reason: StopReason, patience: number, backend: string): string {
  const { progress } = run;
  return `${JSON.stringify({
    checkpoint: paths.latest, best: progress.bestValLoss === null ? null : paths.best,
    iterations: progress.iteration, epochs: progress.epoch, stop: reason, patience,
    trainLoss: progress.lastTrainLoss, valLoss: progress.lastValLoss, bestValLoss: progress.bestValLoss,
    endChoice: progress.endChoice ?? null, elapsedMs: progress.elapsedMs, backend, config: run.config,
  })}\n`;
}

/** --log must take appended lines: checked before anything is written, the checkpoint folder included. */
export function checkLogWritable(file: string): void {
  try {
    fs.appendFileSync(file, '');
  } catch (err) {
    throw new UsageError(`--log ${file}: cannot append to it (${(err as NodeJS.ErrnoException).code ?? String(err)}); check that its folder exists`);
  }
}

export interface FeedbackOptions {
  sampleEvery?: number;
  sampleLength: number;
  log?: string;
}

/**
 * --sample-every (a seeded sample on stderr, so one sees the text improve) and --log (one JSON
 * line per evaluation, appended and flushed as written: a crash loses at most the line in hand).
 */
export function trainingFeedback(
  opts: FeedbackOptions, log: Log, reporter: ProgressReporter, run: TrainingRun,
): { step(info: StepInfo): Promise<void>; evaluated(info: EvalInfo): void } {
  const { config, model, vocab } = run;
  const average = run.trainer.average;
  const temperature = DEFAULTS.sampleEveryTemperature;
  // Default: at each evaluation where a person watches (a terminal), never into a log file.
  const every = opts.sampleEvery ?? (log.fancy && !log.quiet ? config.evalEvery : 0);
  let last: StepInfo | null = null;
  return {
    async step(info: StepInfo): Promise<void> {
      last = info;
      if (every === 0 || info.iteration % every !== 0) return;
      // It samples what the checkpoint holds: the tail's mean once it has a point.
      const draw = (): Promise<string> => sampleText(model, vocab, config.seed, opts.sampleLength, temperature);
      const points = average?.count ?? 0;
      const text = average ? await average.withMean(draw) : await draw();
      const of = points > 0 ? `, weights: the tail's mean of ${points} point${points === 1 ? '' : 's'}` : '';
      reporter.print(`rnn: sample at iteration ${info.iteration} (seed ${config.seed}, temperature ${temperature}${of}):\n${text}\n${'-'.repeat(40)}`);
    },
    evaluated(info: EvalInfo): void {
      if (opts.log === undefined) return;
      const line = {
        // When the pass finished, so a curve's time axis counts the validation it plots.
        iteration: info.iteration, epoch: last?.epoch ?? null, elapsedMs: info.elapsedMs,
        trainLoss: info.trainLoss, valLoss: info.valLoss, best: info.improved, lr: last?.learningRate ?? config.learningRate,
        charsPerSecond: last ? Math.round(last.charsPerSecond) : null,
      };
      fs.appendFileSync(opts.log, `${JSON.stringify(line)}\n`);
    },
  };
}
