// What `rnn train` will train, decided without doing anything: flags, checkpoints and facts in, a frozen TrainConfig out.
//
// A pure function of (the flags the user gave, the checkpoint resumed or started from, the
// corpus's size and fingerprint, the machine's rates): no file, clock or console is touched, so
// every policy here (what a resumed, fine-tuned or budgeted run trains) is a row in a table of
// tests (test/train/plan.test.ts). The command reads files between the phases, because what it
// reads depends on what was decided: flagsPlan before the lock, checkpointPlan once the
// checkpoints are loaded, corpusPlan once the text is split (and, where ratesWanted asks for
// them, the candidates' rates measured). planTraining runs all three.

import * as path from 'path';
import {
  BackendName, DEFAULTS, InitSource, LrSchedule, ModelConfig, RecurrentInit, TrainConfig, cellZoneout, defaultTrainConfig, validateConfig,
  weightDropOf,
} from '../config';
import { UsageError } from '../errors';
import { CellName } from '../kernels/backend';
import { Batcher } from '../data/batcher';
import { ValSplit } from '../data/split';
import { RateShape, SizeRate } from '../engine/rates';
import { RECIPE_CELL, RECIPE_HIDDEN_SIZES, RECIPE_INIT, Recipe, chooseRecipe, evalEveryFor, itersForPasses } from '../engine/recipe';
import { endPasses } from '../engine/schedule';
import { CheckpointMeta, CorpusFingerprint } from '../checkpoint/checkpoint';
import { SavedTrainConfig, upgradeTrainConfig } from '../checkpoint/upgrade';

/** The values of `rnn train`'s flags that decide the run (commander's parse: defaults filled in). */
export interface TrainFlags {
  cell: CellName;
  layers: number;
  hidden: number;
  embedding: number;
  seqLen: number;
  batch: number;
  lr: number;
  lrSchedule: LrSchedule;
  warmup: number;
  minLr?: number;
  dropout: number;
  averageTail: number;
  weightDecay: number;
  /** --weight-drop (commander's default 0; absent: 0). */
  weightDrop?: number;
  zoneout: number;
  zoneoutCell?: number;
  init: RecurrentInit;
  clipNorm: number;
  clipValue: number;
  valFraction: number;
  valSplit: ValSplit;
  maxIters: number;
  time?: number;
  evalEvery: number;
  saveEvery: number;
  checkpointDir: string;
  name?: string;
  seed: number;
  backend: BackendName;
  threads: number;
  resume: boolean;
  overwrite: boolean;
  initFrom?: string;
  snapshots: boolean;
}

/** The flags the user typed (not defaulted), by TrainFlags key. */
export type GivenFlags = ReadonlySet<string>;

/** Why a plan was refused; each is a UsageError, so the command exits 2 with its message. */
export type RefusalKind =
  | 'bad-name' | 'resume-and-init-from' | 'resume-and-overwrite' | 'init-and-init-from'
  | 'weights-only' | 'differs-on-resume' | 'differs-from-init' | 'other-corpus';

export class PlanRefusal extends UsageError {
  constructor(readonly kind: RefusalKind, message: string) {
    super(message);
  }
}

/** The checkpoint --resume continues: its metadata, and whether it holds the optimizer's state. */
export interface ResumeSource {
  path: string;
  meta: CheckpointMeta;
  hasTrainingState: boolean;
}

/** The checkpoint --init-from starts from, and the SHA-256 of its file. */
export interface InitFromSource {
  path: string;
  sha256: string;
  meta: CheckpointMeta;
}

/** The text as split for this run: its fingerprint, and the characters each split holds. */
export interface CorpusFacts {
  fingerprint: CorpusFingerprint;
  trainChars: number;
  valChars: number;
}

/**
 * The training rates of the size rule's candidates on this machine (what ratesWanted asked for,
 * measured at the run's shape, backend and threads), or null where none were measured.
 */
export type MachineRates = readonly SizeRate[] | null;

/** The size rule's choice, for the command to say what it chose. */
export interface RecipeChoice {
  recipe: Recipe;
  /** The --init the rule gave the cell it chose; null where --init was given. */
  init: RecurrentInit | null;
}

export interface TrainPlan {
  config: Readonly<TrainConfig>;
  /** Set where the size rule chose (a fresh run bounded by --time alone). */
  recipe: RecipeChoice | null;
  /** Set where the corpus is too short for --batch streams and a new run takes fewer. */
  batchFitted: { wanted: number; fitted: number } | null;
  /**
   * Set where a fresh run without --eval-every validates less often than the default, because its
   * validation split would otherwise take more than a tenth of the run (evalEveryFor).
   */
  evalEveryRaised: { from: number; to: number } | null;
  /**
   * The rule's rate and passes for the model trained, wherever rates were given: the rule's own
   * choice, or (a dry run with --cell, --hidden and --dropout all given) the user's model.
   */
  estimate: Recipe | null;
}

export interface PlanInput {
  corpusArg: string;
  flags: TrainFlags;
  given: GivenFlags;
  resumed?: ResumeSource;
  initFrom?: InitFromSource;
  corpus: CorpusFacts;
  rates: MachineRates;
}

/** The whole decision, for a caller that holds every input at once. */
export function planTraining(input: PlanInput): TrainPlan {
  const { flags, given } = input;
  const fromFlags = flagsPlan(input.corpusArg, flags, given);
  const fromCheckpoint = checkpointPlan(fromFlags, flags, given, input);
  return corpusPlan(fromCheckpoint, given, input.corpus, input.rates, input.resumed);
}

/** The run's name: --name, checked, or the corpus file's base name made safe as a file name. */
export function runName(corpusArg: string, name: string | undefined): string {
  const derived = corpusArg === '-' ? 'stdin' : path.basename(corpusArg).replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_');
  const chosen = name ?? (derived.replace(/^[._]+$/, '') || 'corpus');
  if (!/^[\w.-]+$/.test(chosen)) {
    throw new PlanRefusal('bad-name', `--name '${chosen}' may hold only letters, digits, '.', '_' and '-'`);
  }
  return chosen;
}

/**
 * Phase one, from the flags alone: the config a fresh run would train, validated (a bad
 * combination is refused before anything is locked or read), and the flags that exclude each other.
 */
export function flagsPlan(corpusArg: string, flags: TrainFlags, given: GivenFlags): TrainConfig {
  const config: TrainConfig = {
    ...defaultTrainConfig(),
    model: {
      layers: flags.layers, hiddenSize: flags.hidden, embeddingSize: flags.embedding, cell: flags.cell, zoneout: flags.zoneout,
      ...(flags.zoneoutCell === undefined ? {} : { zoneoutCell: flags.zoneoutCell }),
    },
    seqLen: flags.seqLen, batchSize: flags.batch, learningRate: flags.lr, lrSchedule: flags.lrSchedule, warmupIters: flags.warmup,
    minLr: flags.minLr ?? flags.lr * DEFAULTS.minLrFraction, dropout: flags.dropout, averageTail: flags.averageTail,
    weightDecay: flags.weightDecay, ...weightDropField(flags.weightDrop),
    init: flags.init, clipNorm: flags.clipNorm, clipValue: flags.clipValue, valFraction: flags.valFraction,
    valSplit: flags.valSplit,
    timeBudgetMs: flags.time ?? 0,
    // --time alone bounds the run by time: the default iteration cap applies only without it.
    maxIters: flags.time !== undefined && !given.has('maxIters') ? 0 : flags.maxIters,
    evalEvery: flags.evalEvery, saveEvery: flags.saveEvery, checkpointDir: flags.checkpointDir, name: runName(corpusArg, flags.name),
    seed: flags.seed, backend: flags.backend, threads: flags.threads, snapshots: flags.snapshots,
  };
  validateConfig(config);
  if (flags.resume && flags.initFrom !== undefined) {
    throw new PlanRefusal('resume-and-init-from', "--init-from starts a new run from a checkpoint's weights and --resume continues a run: give one of them");
  }
  if (flags.resume && flags.overwrite) {
    throw new PlanRefusal('resume-and-overwrite', '--resume continues the run saved under this name and --overwrite replaces it: give one of them');
  }
  if (flags.initFrom !== undefined && given.has('init')) {
    throw new PlanRefusal('init-and-init-from', `--init chooses fresh recurrent weights, and --init-from brings them from ${flags.initFrom}: drop one of them`);
  }
  return config;
}

/**
 * train_config's weightDrop for a probability: absent for 0, so a run without weight drop saves
 * (and its checkpoint reads) as runs did before the option existed; any other value is kept for
 * validateConfig to judge.
 */
function weightDropField(p: number | undefined): Pick<TrainConfig, 'weightDrop'> {
  return p === undefined || p === 0 ? {} : { weightDrop: p };
}

/** A flag, its TrainFlags key, and the saved value it must match when given. */
type Fixed = Array<[keyof TrainFlags, string, unknown]>;

/** The flags that set the architecture, with a checkpoint's values. */
function architectureOf(model: Omit<ModelConfig, 'vocabSize'>): Fixed {
  return [
    ['cell', '--cell', model.cell], ['zoneout', '--zoneout', model.zoneout], ['zoneoutCell', '--zoneout-cell', cellZoneout(model)],
    ['layers', '--layers', model.layers], ['hidden', '--hidden', model.hiddenSize], ['embedding', '--embedding', model.embeddingSize],
  ];
}

/** Refuses each flag of `fixed` given with another value than the checkpoint's. */
function refuseDiffering(
  flags: TrainFlags, given: GivenFlags, fixed: Fixed, kind: RefusalKind, message: (flag: string, value: unknown, saved: unknown) => string,
): void {
  for (const [key, flag, saved] of fixed) {
    if (given.has(key) && flags[key] !== saved) throw new PlanRefusal(kind, message(flag, flags[key], saved));
  }
}

/** Phase two: a resumed run's or an --init-from run's config, from the checkpoint and the flags. */
export function checkpointPlan(
  config: TrainConfig, flags: TrainFlags, given: GivenFlags, sources: { resumed?: ResumeSource; initFrom?: InitFromSource },
): TrainConfig {
  if (sources.resumed) return resumePlan(config, flags, given, sources.resumed);
  if (sources.initFrom) return initFromPlan(config, flags, given, sources.initFrom);
  return config;
}

/**
 * --resume: the architecture and the data order come from the checkpoint (a flag that disagrees
 * is refused); the rest of the run's settings carry on unless given again.
 */
function resumePlan(config: TrainConfig, flags: TrainFlags, given: GivenFlags, resumed: ResumeSource): TrainConfig {
  if (!resumed.hasTrainingState) throw new PlanRefusal('weights-only', `--resume: ${resumed.path} holds weights only, no optimizer state`);
  const saved = upgradeTrainConfig(resumed.path, resumed.meta.train);
  const architecture = architectureOf(resumed.meta.model);
  const fixed: Fixed = [
    ...architecture.slice(0, 3), ['init', '--init', saved.init], ...architecture.slice(3), ['seqLen', '--seq-len', saved.seqLen],
    ['batch', '--batch', saved.batchSize], ['valFraction', '--val-fraction', saved.valFraction], ['valSplit', '--val-split', saved.valSplit],
    ['seed', '--seed', saved.seed],
  ];
  refuseDiffering(flags, given, fixed, 'differs-on-resume',
    (flag, value, savedValue) => `${flag} ${value} conflicts with the checkpoint being resumed (${savedValue}); drop the flag or start a new --name`);
  return { ...config, model: { ...resumed.meta.model }, ...resumedSettings(config, flags, given, saved, resumed.meta.progress.elapsedMs) };
}

/** The settings a resumed run takes from its checkpoint unless given again. */
function resumedSettings(
  config: TrainConfig, flags: TrainFlags, given: GivenFlags, saved: SavedTrainConfig, elapsedMs: number,
): Omit<TrainConfig, 'model' | 'saveEvery' | 'backend' | 'threads' | 'checkpointDir' | 'name'> {
  const chosen = <K extends keyof TrainConfig>(flag: string, key: K, savedValue: TrainConfig[K]): TrainConfig[K] =>
    given.has(flag) ? config[key] : savedValue;
  return {
    lrSchedule: chosen('lrSchedule', 'lrSchedule', saved.lrSchedule),
    warmupIters: chosen('warmup', 'warmupIters', saved.warmupIters),
    minLr: chosen('minLr', 'minLr', saved.minLr ?? config.minLr),
    dropout: chosen('dropout', 'dropout', saved.dropout),
    averageTail: chosen('averageTail', 'averageTail', saved.averageTail),
    weightDecay: chosen('weightDecay', 'weightDecay', saved.weightDecay),
    ...weightDropField(given.has('weightDrop') ? weightDropOf(config) : saved.weightDrop),
    init: saved.init,
    // A --time given on resume is more training from now: the run's budget becomes what it has
    // spent plus that, and the schedule spreads over the new whole. Without it, the run
    // continues the rest of its saved budget (and its saved iteration cap).
    timeBudgetMs: flags.time !== undefined ? elapsedMs + flags.time : saved.timeBudgetMs,
    maxIters: given.has('maxIters') ? config.maxIters : flags.time !== undefined ? 0 : saved.maxIters,
    // Older checkpoints held out the tail (upgradeTrainConfig reads them so).
    seqLen: saved.seqLen, batchSize: saved.batchSize, valFraction: saved.valFraction, valSplit: saved.valSplit, seed: saved.seed,
    learningRate: chosen('lr', 'learningRate', saved.learningRate),
    clipNorm: chosen('clipNorm', 'clipNorm', saved.clipNorm),
    clipValue: chosen('clipValue', 'clipValue', saved.clipValue),
    // The run's validation cadence carries on too: a resumed run that fell back to the default
    // would evaluate (and cost) at another rate than the one it was planned with.
    evalEvery: chosen('evalEvery', 'evalEvery', saved.evalEvery ?? config.evalEvery),
    ...(saved.initFrom ? { initFrom: saved.initFrom } : {}),
    // A run that kept snapshots goes on keeping them (they are what `rnn average` will want).
    snapshots: config.snapshots || saved.snapshots,
  };
}

/**
 * --init-from: the architecture comes from the checkpoint (a flag that disagrees is refused, as
 * on --resume), and so do dropout, weight decay and weight drop unless given, so the regularisation it was
 * trained under carries on unless changed; the schedule, optimizer and data order start anew.
 */
function initFromPlan(config: TrainConfig, flags: TrainFlags, given: GivenFlags, source: InitFromSource): TrainConfig {
  const { model, progress } = source.meta;
  refuseDiffering(flags, given, architectureOf(model), 'differs-from-init', (flag, value, savedValue) =>
    `${flag} ${value} conflicts with --init-from ${flags.initFrom} (${savedValue}); drop the flag, or train from scratch without --init-from`);
  const saved = upgradeTrainConfig(source.path, source.meta.train);
  const { vocabSize: _vocabSize, ...architecture } = model;
  const initFrom: InitSource = { checkpoint: source.path, sha256: source.sha256, iteration: progress.iteration };
  return {
    ...config,
    model: architecture,
    dropout: given.has('dropout') ? config.dropout : saved.dropout,
    weightDecay: given.has('weightDecay') ? config.weightDecay : saved.weightDecay,
    ...weightDropField(given.has('weightDrop') ? weightDropOf(config) : saved.weightDrop),
    init: saved.init,
    initFrom,
  };
}

/**
 * Phase three, once the text is split: a resumed run must be on its own text; a fresh run bounded
 * by time alone gets the size rule, from `rates` (ratesWanted says when the command must measure
 * them); too short a text takes fewer streams. Returns it frozen.
 */
export function corpusPlan(
  config: TrainConfig, given: GivenFlags, corpus: CorpusFacts, rates: MachineRates, resumed?: ResumeSource,
): TrainPlan {
  let recipe: RecipeChoice | null = null;
  let estimate: Recipe | null = null;
  let planned = config;
  let evalEveryRaised: TrainPlan['evalEveryRaised'] = null;
  if (!resumed && !given.has('evalEvery')) {
    const evalEvery = evalEveryFor(corpus.valChars, config.batchSize, config.seqLen, config.evalEvery);
    if (evalEvery !== config.evalEvery) {
      evalEveryRaised = { from: config.evalEvery, to: evalEvery };
      // Saves stay as frequent as they were (at every evaluation of the default interval): a run
      // killed between two of the rarer evaluations loses no more than it would have.
      const saveEvery = config.saveEvery === 0 && !given.has('saveEvery') ? config.evalEvery : config.saveEvery;
      planned = { ...planned, evalEvery, saveEvery };
    }
  }
  if (!resumed && !config.initFrom) ({ config: planned, recipe, estimate } = withRecipe(planned, given, corpus, rates));
  if (resumed && resumed.meta.corpus.sha256 !== corpus.fingerprint.sha256) {
    throw new PlanRefusal('other-corpus', `--resume: ${resumed.path} was trained on another text (${describeFingerprint(resumed.meta.corpus)}), ` +
      `not this one (${describeFingerprint(corpus.fingerprint)}); resume with the same corpus, or start a new --name`);
  }
  const fitted = Batcher.fitBatchSize(corpus.trainChars, planned.batchSize, planned.seqLen);
  let batchFitted: TrainPlan['batchFitted'] = null;
  if (fitted < planned.batchSize) {
    if (resumed) throw new Error(`cannot resume: the corpus no longer fits --batch ${planned.batchSize}`);
    batchFitted = { wanted: planned.batchSize, fitted };
    planned = { ...planned, batchSize: fitted };
  }
  return { config: validateConfig(planned), recipe, batchFitted, estimate, evalEveryRaised };
}

/** A fingerprint for a message: where the text came from, its hash's first digits and its length. */
export function describeFingerprint(print: CorpusFingerprint): string {
  return `${print.source}: sha256 ${print.sha256.slice(0, 12)}…, ${print.characters.toLocaleString('en-US')} characters`;
}

/** Where the size rule may choose: a fresh run bounded by time alone, on a CPU backend its rates are measured on. */
function ruleApplies(config: TrainConfig, resumed: boolean): boolean {
  if (resumed || config.initFrom) return false;
  if (config.timeBudgetMs <= 0 || config.maxIters > 0) return false;
  return config.backend === 'auto' || config.backend === 'wasm';
}

const allGiven = (given: GivenFlags): boolean => given.has('cell') && given.has('hidden') && given.has('dropout');

/** The cell the rule plans for: the user's (or identity's, which only the vanilla cells take), else its own. */
function ruleCell(config: TrainConfig, given: GivenFlags): CellName {
  return given.has('cell') || config.init === 'identity' ? config.model.cell : RECIPE_CELL;
}

/**
 * The rates corpusPlan will want for `config` (after checkpointPlan): the shape and the hidden
 * sizes to measure, or null where the size rule does not run (no --time alone, a resumed or
 * --init-from run, a GPU backend, or --cell, --hidden and --dropout all given, except in a dry
 * run, which still estimates the passes).
 */
export function ratesWanted(
  config: TrainConfig, given: GivenFlags, vocabSize: number, run: { resumed: boolean; dryRun: boolean },
): { shape: RateShape; hiddenSizes: readonly number[] } | null {
  if (!ruleApplies(config, run.resumed)) return null;
  if (allGiven(given) && !run.dryRun) return null;
  const { layers, embeddingSize } = config.model;
  return {
    shape: { cell: ruleCell(config, given), layers, embeddingSize, vocabSize, batchSize: config.batchSize, seqLen: config.seqLen },
    hiddenSizes: given.has('hidden') ? [config.model.hiddenSize] : RECIPE_HIDDEN_SIZES,
  };
}

/**
 * `rnn train FILE --time D`: the size rule (src/engine/recipe.ts) fills in what the user left out
 * of --cell, --hidden and --dropout (and --init, for the cell it trains), from the rates measured
 * on this machine. Only for a run bounded by time alone, on a CPU backend; flags the user gives
 * always win (all three given: the config is kept, and the rule only estimates its passes).
 */
function withRecipe(
  config: TrainConfig, given: GivenFlags, corpus: CorpusFacts, rates: MachineRates,
): { config: TrainConfig; recipe: RecipeChoice | null; estimate: Recipe | null } {
  const unchanged = { config, recipe: null, estimate: null };
  if (!ruleApplies(config, false)) return unchanged;
  if (rates === null) {
    if (allGiven(given)) return unchanged;
    throw new Error('the size rule needs the rates ratesWanted asks for');
  }
  const estimate = chooseRecipe({
    trainChars: corpus.trainChars, valChars: corpus.valChars, budgetMs: config.timeBudgetMs, cell: ruleCell(config, given),
    endPasses: endPasses(corpus.valChars >= 2, config.averageTail),
    embeddingSize: config.model.embeddingSize, evalEvery: config.evalEvery, batchSize: config.batchSize, seqLen: config.seqLen,
    layers: config.model.layers,
    hiddenSize: given.has('hidden') ? config.model.hiddenSize : undefined,
    dropout: given.has('dropout') ? config.dropout : undefined,
  }, rates);
  if (allGiven(given)) return { ...unchanged, estimate };
  const init = given.has('init') ? config.init : RECIPE_INIT[estimate.cell] ?? config.init;
  // Where the budget buys more passes than the rule trains, it stops by iterations (the schedule
  // anneals to whichever bound comes first) and --time stays the upper bound.
  const maxIters = estimate.budgetPasses === null ? config.maxIters
    : itersForPasses(estimate.passes, corpus.trainChars, config.batchSize, config.seqLen);
  return {
    config: { ...config, init, maxIters, model: { ...config.model, cell: estimate.cell, hiddenSize: estimate.hiddenSize }, dropout: estimate.dropout },
    recipe: { recipe: estimate, init: given.has('init') ? null : init },
    estimate,
  };
}
