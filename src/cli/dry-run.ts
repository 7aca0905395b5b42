// `rnn train FILE --plan`: what a run would train, and why, without training or writing anything.

import { TrainConfig, weightDropOf, zoneoutSummary } from '../config';
import { cellSpec } from '../cells';
import { Recipe } from '../engine/recipe';
import { UnseenShare, blockChars, formatShare } from '../data/split';
import { RunRates } from './rates';

export interface DryRunCorpus {
  source: string;
  characters: number;
  vocabSize: number;
  train: number;
  val: number;
}

/** The plan as data: `--plan --json` prints it on stdout. */
export interface DryRun {
  corpus: DryRunCorpus;
  split: { kind: 'tail' | 'blocks'; valFraction: number; blockChars: number | null; unseen: { characters: number; share: number; distinct: number } };
  model: { cell: string; layers: number; hiddenSize: number; embeddingSize: number; vocabSize: number };
  regularisation: { dropout: number; zoneout: string; weightDecay: number; weightDrop: number; averageTail: number };
  schedule: { description: string; timeBudgetMs: number; maxIters: number; batchSize: number; seqLen: number; evalEvery: number };
  /** Passes over the training text: from --max-iters exactly, else from the rates and the budget; null when neither is known. */
  expected: { passes: number | null; charsPerSecond: number | null; basis: string };
  /** The size rule's choice, when it ran. */
  rule: { hiddenSize: number; cell: string; dropout: number; passes: number; budgetPasses: number | null } | null;
  rates: {
    source: 'measured' | 'cache'; file: string; measuredAt: string; seconds: number; backend: string; backendDescription: string; threads: number;
    /** The cores other processes kept busy while measuring, when that marked the machine busy (the rates may read low), or null. */
    busyCores: number | null;
    sizes: Array<{ layers: number; hiddenSize: number; charsPerSecond: number; estimated: boolean }>;
  } | null;
  config: Readonly<TrainConfig>;
}

/** The plan of a run whose configuration is final (`config`, after the size rule and any resume merge). */
export function dryRunPlan(
  config: Readonly<TrainConfig>, corpus: DryRunCorpus, unseen: UnseenShare, planned: { recipe: Recipe | null; rates: RunRates | null },
  scheduleInWords: string, resumed: boolean,
): DryRun {
  const kind = config.valSplit ?? 'tail';
  const { recipe, rates } = planned;
  const charsPerIter = config.batchSize * config.seqLen;
  let expected: DryRun['expected'];
  if (config.maxIters > 0 && (config.timeBudgetMs === 0 || !recipe)) {
    expected = { passes: (config.maxIters * charsPerIter) / corpus.train, charsPerSecond: null, basis: `--max-iters ${config.maxIters}${config.timeBudgetMs > 0 ? ' (or --time first)' : ''}` };
  } else if (recipe) {
    expected = { passes: recipe.passes, charsPerSecond: recipe.charsPerSecond, basis: 'the measured rate and --time, validation passes counted' };
  } else {
    const why = resumed ? 'a resumed run continues its saved plan' : `rates are measured for the wasm backend only (--backend ${config.backend})`;
    expected = { passes: null, charsPerSecond: null, basis: `not estimated: ${why}` };
  }
  return {
    corpus,
    split: {
      kind, valFraction: config.valFraction, blockChars: kind === 'blocks' ? blockChars(corpus.characters) : null,
      unseen: { characters: unseen.unseen, share: unseen.share, distinct: unseen.ids.length },
    },
    model: { cell: config.model.cell, layers: config.model.layers, hiddenSize: config.model.hiddenSize, embeddingSize: config.model.embeddingSize, vocabSize: corpus.vocabSize },
    regularisation: {
      dropout: config.dropout, zoneout: zoneoutSummary(config.model) || 'none', weightDecay: config.weightDecay,
      weightDrop: weightDropOf(config), averageTail: config.averageTail,
    },
    schedule: {
      description: scheduleInWords, timeBudgetMs: config.timeBudgetMs, maxIters: config.maxIters,
      batchSize: config.batchSize, seqLen: config.seqLen, evalEvery: config.evalEvery,
    },
    expected,
    rule: recipe ? { hiddenSize: recipe.hiddenSize, cell: recipe.cell, dropout: recipe.dropout, passes: recipe.passes, budgetPasses: recipe.budgetPasses } : null,
    rates: rates ? {
      source: rates.source, file: rates.file, measuredAt: rates.measuredAt, seconds: rates.seconds, backend: rates.key.backend,
      backendDescription: rates.backendDescription, threads: rates.key.threads, busyCores: rates.busyCores,
      sizes: rates.rates.map((r) => ({ ...r, estimated: rates.estimated.includes(r.hiddenSize) })),
    } : null,
    config,
  };
}

const n = (x: number): string => Math.round(x).toLocaleString('en-US');

/** The plan in words, one fact a line, for stderr. */
export function describePlan(plan: DryRun): string {
  const { corpus, split, model, regularisation: reg, schedule, expected, rates } = plan;
  const splitWords = split.kind === 'tail'
    ? `the last ${Math.round(split.valFraction * 100)}%` : `${Math.round(split.valFraction * 100)}% of the blocks of ${n(split.blockChars ?? 0)} characters, spread over the text,`;
  const unseen = split.unseen.characters > 0
    ? `${formatShare(split.unseen.share)} of its characters (${split.unseen.distinct} distinct) never occur in the training part`
    : 'every validation character occurs in the training part';
  const lines = [
    `rnn: plan (dry run: nothing is trained or written)`,
    `  corpus          ${corpus.source}: ${n(corpus.characters)} characters, vocabulary ${corpus.vocabSize}`,
    `  split           --val-split ${split.kind}: ${splitWords} held out: ${n(corpus.train)} train / ${n(corpus.val)} val; ${unseen}`,
    `  model           ${model.layers}x${model.hiddenSize} ${cellSpec(model.cell as never).title}, embedding ${model.embeddingSize}` +
      `${plan.rule ? ' (chosen by the size rule)' : ''}`,
    `  regularisation  dropout ${reg.dropout}, zoneout ${reg.zoneout}, weight decay ${reg.weightDecay}, weight drop ${reg.weightDrop}, ` +
      `${reg.averageTail > 0 ? `weights averaged over the last ${Math.round(reg.averageTail * 100)}%` : 'no weight averaging'}`,
    `  schedule        lr ${schedule.description}; B=${schedule.batchSize} T=${schedule.seqLen}, validation every ${schedule.evalEvery} iterations`,
    `  expected        ${expected.passes === null ? '' : `about ${expected.passes.toFixed(expected.passes < 1 ? 2 : 1)} passes over the training text` +
      `${expected.charsPerSecond === null ? '' : ` at ~${n(expected.charsPerSecond)} chars/s`}; `}${expected.basis}`,
  ];
  if (plan.rule?.budgetPasses) {
    lines.push(`  stop            at iteration ${n(schedule.maxIters)}, after ${plan.rule.passes} passes, before the budget's ` +
      `${plan.rule.budgetPasses.toFixed(1)}: past that the rule's model overfit in every longer run measured (docs/recipe.md)`);
  }
  if (rates) {
    const sizes = rates.sizes.map((s) => `${s.layers}x${s.hiddenSize} ${n(s.charsPerSecond)}${s.estimated ? ' (estimated)' : ''}`).join(', ');
    const how = rates.source === 'measured' ? `measured now in ${rates.seconds.toFixed(1)} s` : `read from ${rates.file} (measured ${rates.measuredAt.slice(0, 16).replace('T', ' ')} UTC)`;
    const busy = rates.busyCores === null ? '' : ` (the machine was busy, other processes on ${rates.busyCores.toFixed(1)} cores: these may read low)`;
    lines.push(`  rates           ${how} on ${rates.backendDescription}: ${sizes} chars/s${busy}`);
  } else {
    lines.push('  rates           not measured (the size rule runs for --time runs without --max-iters, on the wasm backend)');
  }
  return lines.join('\n');
}
