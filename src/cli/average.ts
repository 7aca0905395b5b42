// `rnn average`: one checkpoint whose weights are the mean of several of one run (its snapshots).

import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';
import { EXTENSION, openCheckpoint } from '../checkpoint/checkpoint';
import { averageCheckpoints } from '../checkpoint/average';
import { writeFileAtomic } from '../data/atomic';
import { createLog } from './log';
import { intOption } from './parse';

interface AverageCliOptions {
  out: string;
  last?: number;
  quiet: boolean;
}

export function averageCommand(): Command {
  return new Command('average')
    .description('average the weights of several checkpoints of one run (e.g. its --snapshots) into one checkpoint')
    .argument('<checkpoints...>', 'checkpoint files, or folders of them (a run\'s NAME.snapshots/)')
    .requiredOption('-o, --out <file>', 'where to write the averaged checkpoint (weights only, F32)')
    .option('--last <n>', 'average only the n latest (by iteration) of the checkpoints given', intOption(2))
    .option('-q, --quiet', 'do not say what was written', false)
    .addHelpText('after', `
Examples:
  $ rnn train tinyshakespeare --time 30m --snapshots      # keeps checkpoints/tinyshakespeare.snapshots/iter-*.safetensors
  $ rnn average checkpoints/tinyshakespeare.snapshots --last 5 --out checkpoints/ts-avg.safetensors
  $ rnn eval corpora/tinyshakespeare.txt -c checkpoints/ts-avg.safetensors --split val

The mean of the last checkpoints of a run usually predicts held-out text better than any one of
them. The result has no validation loss of its own until you measure it with rnn eval.`)
    .action((sources: string[], opts: AverageCliOptions) => {
      runAverage(sources, opts);
    });
}

function runAverage(sources: string[], opts: AverageCliOptions): void {
  const log = createLog(opts.quiet);
  if (!fs.existsSync(path.dirname(path.resolve(opts.out)))) {
    throw new UsageError(`--out ${opts.out}: the folder ${path.dirname(opts.out)} does not exist; create it first`);
  }
  let files = sources.flatMap(expandSource);
  if (new Set(files.map((f) => path.resolve(f))).size !== files.length) throw new UsageError('a checkpoint is given twice; each counts once in the mean');
  if (opts.last !== undefined) {
    if (opts.last > files.length) throw new UsageError(`--last ${opts.last}: only ${files.length} checkpoints were given`);
    files = files
      .map((file) => ({ file, iteration: iterationOf(file) }))
      .sort((a, b) => a.iteration - b.iteration)
      .slice(-opts.last)
      .map((f) => f.file);
  }
  if (files.length < 2) throw new UsageError(`averaging needs at least two checkpoints; got ${files.length}`);
  const result = averageCheckpoints(files);
  writeFileAtomic(opts.out, result.bytes);
  const iterations = result.sources.map((s) => s.iteration).sort((a, b) => a - b);
  log.info(`rnn: averaged ${files.length} checkpoints (iterations ${iterations.join(', ')}) into ${opts.out}: ` +
    `${result.parameters.toLocaleString('en-US')} parameters, ${result.bytes.length.toLocaleString('en-US')} bytes; ` +
    'measure it with `rnn eval CORPUS -c ' + opts.out + ' --split val`');
}

/** A file stands for itself; a folder for the checkpoints in it, in name order. */
function expandSource(source: string): string[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    throw new UsageError(`${source}: no such file or folder; give checkpoint files or a NAME.snapshots folder`);
  }
  if (!stat.isDirectory()) return [source];
  const inside = fs.readdirSync(source).filter((n) => n.endsWith(EXTENSION) && !n.startsWith('.')).sort().map((n) => path.join(source, n));
  if (inside.length === 0) throw new UsageError(`${source}/ holds no ${EXTENSION} checkpoints`);
  return inside;
}

function iterationOf(file: string): number {
  const open = openCheckpoint(file);
  open.close();
  return open.meta.progress.iteration;
}
