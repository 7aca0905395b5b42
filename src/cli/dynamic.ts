// The flags of dynamic evaluation (`rnn eval --dynamic`) and adaptation (`rnn sample --adapt`):
// declared here once, read into DynamicSettings, refused in one line when they contradict.

import { Command, Option } from 'commander';
import { DEFAULTS } from '../config';
import { UsageError } from '../errors';
import { DynamicSettings } from '../engine/dynamic';
import { givenOnCommandLine, intOption, numberOption } from './parse';

export interface DynamicCliOptions {
  dynamicLr: number;
  dynamicDecay: number;
  dynamicSeqLen: number;
}

/** --dynamic-lr, --dynamic-decay, --dynamic-seq-len, with DEFAULTS' values. */
export function addDynamicOptions(cmd: Command, what: string): Command {
  return cmd
    .addOption(new Option('--dynamic-lr <η>', `${what}: the SGD step on each segment's gradient`)
      .argParser(numberOption(0, 100, true)).default(DEFAULTS.dynamicLearningRate))
    .addOption(new Option('--dynamic-decay <λ>', `${what}: the pull back to the trained weights at each update, from 0 (none) to 1`)
      .argParser(numberOption(0, 1)).default(DEFAULTS.dynamicDecay))
    .addOption(new Option('--dynamic-seq-len <n>', `${what}: characters per segment, one update each`)
      .argParser(intOption(1, 100000)).default(DEFAULTS.dynamicSeqLen));
}

const FLAGS: Array<[keyof DynamicCliOptions, string]> = [
  ['dynamicLr', '--dynamic-lr'], ['dynamicDecay', '--dynamic-decay'], ['dynamicSeqLen', '--dynamic-seq-len'],
];

/**
 * The settings when `on` (--dynamic or --adapt), else null; a --dynamic-* flag given without
 * `on` is refused, naming the flag that turns it on.
 */
export function dynamicSettings(cmd: Command, opts: DynamicCliOptions, on: boolean, onFlag: string): DynamicSettings | null {
  if (!on) {
    const stray = FLAGS.find(([key]) => givenOnCommandLine(cmd, key));
    if (stray) throw new UsageError(`${stray[1]} applies only with ${onFlag}: add ${onFlag}, or drop ${stray[1]}`);
    return null;
  }
  // The RMS rule stays in the engine and bench/dynamic.js: it measured no better (docs/dynamic-evaluation.md).
  return { learningRate: opts.dynamicLr, decay: opts.dynamicDecay, seqLen: opts.dynamicSeqLen, rule: 'sgd' };
}
