// The flags of dynamic evaluation (`rnn eval --dynamic`) and adaptation (`rnn sample --adapt`):
// declared here once, read into DynamicSettings, refused in one line when they contradict.

import * as fs from 'fs';
import { Command, Option } from 'commander';
import { DEFAULTS } from '../config';
import { UsageError } from '../errors';
import { readTextFile } from '../data/corpus';
import { DYNAMIC_RULES, DynamicRule, DynamicSettings, gradientRms } from '../engine/dynamic';
import { Model } from '../engine/model';
import { CheckpointMeta } from '../checkpoint/checkpoint';
import { intOption, numberOption } from './parse';

export interface DynamicCliOptions {
  dynamicLr?: number;
  dynamicDecay: number;
  dynamicSeqLen: number;
  dynamicRule: DynamicRule;
  dynamicStats?: string;
}

/** --dynamic-lr, --dynamic-decay, --dynamic-seq-len, with DEFAULTS' values. */
export function addDynamicOptions(cmd: Command, what: string): Command {
  return cmd
    .addOption(new Option('--dynamic-rule <rule>', `${what}: sgd, or rms (each weight's step divided by its RMS gradient on the training split, and its pull back scaled by it)`)
      .choices(DYNAMIC_RULES as string[]).default(DEFAULTS.dynamicRule))
    .addOption(new Option('--dynamic-lr <η>', `${what}: the step on each segment's gradient ` +
      `(default: ${DEFAULTS.dynamicRmsLearningRate} with rms, ${DEFAULTS.dynamicLearningRate} with sgd)`).argParser(numberOption(0, 100, true)))
    .addOption(new Option('--dynamic-stats <file>', `${what} and rms: the text whose training split gives the RMS gradients ` +
      `(default: the corpus the checkpoint was trained on; ${DEFAULTS.dynamicStatsWindows} windows of its --batch × --seq-len)`))
    .addOption(new Option('--dynamic-decay <λ>', `${what}: the pull back to the trained weights at each update, from 0 (none) to 1`)
      .argParser(numberOption(0, 1)).default(DEFAULTS.dynamicDecay))
    .addOption(new Option('--dynamic-seq-len <n>', `${what}: characters per segment, one update each`)
      .argParser(intOption(1, 100000)).default(DEFAULTS.dynamicSeqLen));
}

const FLAGS: Array<[keyof DynamicCliOptions, string]> = [
  ['dynamicLr', '--dynamic-lr'], ['dynamicDecay', '--dynamic-decay'], ['dynamicSeqLen', '--dynamic-seq-len'],
  ['dynamicRule', '--dynamic-rule'], ['dynamicStats', '--dynamic-stats'],
];

/**
 * The settings when `on` (--dynamic or --adapt), else null; a --dynamic-* flag given without
 * `on` is refused, naming the flag that turns it on.
 */
export function dynamicSettings(given: ReadonlySet<string>, opts: DynamicCliOptions, on: boolean, onFlag: string): DynamicSettings | null {
  if (!on) {
    const stray = FLAGS.find(([key]) => given.has(key));
    if (stray) throw new UsageError(`${stray[1]} applies only with ${onFlag}: add ${onFlag}, or drop ${stray[1]}`);
    return null;
  }
  const rule = opts.dynamicRule;
  if (rule !== 'rms' && opts.dynamicStats !== undefined) throw new UsageError('--dynamic-stats is for --dynamic-rule rms; drop it, or add --dynamic-rule rms');
  const learningRate = opts.dynamicLr ?? (rule === 'rms' ? DEFAULTS.dynamicRmsLearningRate : DEFAULTS.dynamicLearningRate);
  return { learningRate, decay: opts.dynamicDecay, seqLen: opts.dynamicSeqLen, rule };
}

/**
 * The text whose training split gives the RMS rule's statistics: --dynamic-stats, or the corpus
 * the checkpoint was trained on; null for SGD. Checked before any work starts.
 */
export function rmsStatsFile(meta: CheckpointMeta, settings: DynamicSettings, given: string | undefined): string | null {
  if (settings.rule !== 'rms') return null;
  const file = given ?? meta.corpus.source;
  if (!fs.existsSync(file)) {
    throw new UsageError(`--dynamic-rule rms needs the training text for its gradient statistics, and ${file} is not there; ` +
      'give it with --dynamic-stats FILE, or use --dynamic-rule sgd');
  }
  return file;
}

/**
 * The RMS rule's statistics: √(mean squared gradient) of every weight over the first windows of
 * the training split of `file` (rmsStatsFile), cut as `rnn train` cut it; null for SGD (no file).
 */
export async function rmsStatistics(model: Model, meta: CheckpointMeta, file: string | null): Promise<Float64Array[] | null> {
  if (file === null) return null;
  // The training split as `rnn train` cut it: all but the last ⌊N·f⌋ code points.
  const points = [...readTextFile(file)];
  const train = points.slice(0, points.length - Math.floor(points.length * meta.train.valFraction));
  const ids = meta.vocab.encode(train.filter((ch) => meta.vocab.has(ch)).join(''));
  if (ids.length < 2) throw new UsageError(`${file} has no training split to measure gradients on; give a longer --dynamic-stats FILE`);
  return gradientRms(model, ids, meta.train.batchSize, meta.train.seqLen, DEFAULTS.dynamicStatsWindows);
}
