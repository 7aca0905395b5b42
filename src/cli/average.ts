// `rnn average`: one checkpoint whose weights are the mean of several of one run (its snapshots).

import { Command } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { UsageError } from '../errors';
import { EXTENSION, checkpointPaths, readCheckpointMeta, restoreModel } from '../checkpoint/checkpoint';
import { BackendName, DEFAULTS } from '../config';
import { AveragedCheckpoint, averageCheckpoints } from '../checkpoint/average-files';
import { writeFileAtomic } from '../data/atomic';
import { readCorpusFile, splitCorpus } from '../data/corpus';
import { Model } from '../engine/model';
import { Evaluator } from '../engine/evaluator';
import { createBackend } from '../kernels';
import { createLog } from './log';
import { backendOption, threadsOption } from './options';
import { givenOnCommandLine, intOption } from './parse';

interface AverageCliOptions {
  out: string;
  last?: number;
  corpus?: string;
  checkpointDir: string;
  backend: BackendName;
  threads: number;
  quiet: boolean;
}

export function averageCommand(): Command {
  return new Command('average')
    .description('average the weights of several checkpoints of one run (e.g. its --snapshots) into one checkpoint')
    .argument('<checkpoints...>', 'checkpoint files, folders of them, or a run name (its NAME.snapshots/ in --checkpoint-dir)')
    .requiredOption('-o, --out <file>', 'where to write the averaged checkpoint (weights only, F32)')
    .option('--last <n>', 'average only the n latest (by iteration) of the checkpoints given', intOption(2))
    .option('--corpus <file>', "the run's corpus: measure the mean on the validation split the run held out (as training does) and record it")
    .option('--checkpoint-dir <dir>', 'where a run name\'s snapshots are looked for', DEFAULTS.checkpointDir)
    .addOption(backendOption("kernels --corpus's validation pass runs on"))
    .addOption(threadsOption())
    .option('-q, --quiet', 'do not say what was written', false)
    .addHelpText('after', `
Examples:
  $ rnn train tinyshakespeare --time 30m --snapshots      # keeps checkpoints/tinyshakespeare.snapshots/iter-*.safetensors
  $ rnn average tinyshakespeare --last 5 --out checkpoints/ts-avg.safetensors \\
      --corpus corpora/tinyshakespeare.txt                 # records the mean's own validation loss
  $ rnn eval corpora/tinyshakespeare.txt -c checkpoints/ts-avg.safetensors --split val

The mean of a run's last checkpoints often predicts held-out text better than any one of them.
Without --corpus the result records no validation loss (a source's is not the mean's).`)
    .action(async (sources: string[], opts: AverageCliOptions, cmd: Command) => {
      for (const key of ['backend', 'threads']) {
        if (givenOnCommandLine(cmd, key) && opts.corpus === undefined) {
          throw new UsageError(`--${key} sets where --corpus's validation pass runs; without --corpus nothing runs: give --corpus or drop --${key}`);
        }
      }
      await runAverage(sources, opts);
    });
}

async function runAverage(sources: string[], opts: AverageCliOptions): Promise<void> {
  const log = createLog(opts.quiet);
  if (!fs.existsSync(path.dirname(path.resolve(opts.out)))) {
    throw new UsageError(`--out ${opts.out}: the folder ${path.dirname(opts.out)} does not exist; create it first`);
  }
  let files = sources.flatMap((source) => expandSource(source, opts.checkpointDir));
  if (new Set(files.map((f) => path.resolve(f))).size !== files.length) throw new UsageError('a checkpoint is given twice; each counts once in the mean');
  if (opts.last !== undefined) {
    if (opts.last > files.length) throw new UsageError(`--last ${opts.last}: only ${files.length} checkpoints were given`);
    files = files
      .map((file) => ({ file, iteration: readCheckpointMeta(file).progress.iteration }))
      .sort((a, b) => a.iteration - b.iteration)
      .slice(-opts.last)
      .map((f) => f.file);
  }
  if (files.length < 2) throw new UsageError(`averaging needs at least two checkpoints; got ${files.length}`);
  const mean = averageCheckpoints(files);
  const valLoss = opts.corpus === undefined ? null : await validationLoss(mean, opts.corpus, opts);
  const bytes = mean.encode(valLoss);
  writeFileAtomic(opts.out, bytes);
  const iterations = mean.sources.map((s) => s.iteration).sort((a, b) => a - b);
  const sourceVal = mean.sources.map((s) => s.valLoss).filter((v): v is number => v !== null);
  const measured = valLoss === null
    ? 'measure it with `rnn eval CORPUS -c ' + opts.out + ' --split val` (or give --corpus)'
    : `validation ${valLoss.toFixed(4)} nats/char${sourceVal.length ? ` (the sources: ${Math.min(...sourceVal).toFixed(4)} at best)` : ''}`;
  log.info(`rnn: averaged ${files.length} checkpoints (iterations ${iterations.join(', ')}) into ${opts.out}: ` +
    `${mean.parameters.toLocaleString('en-US')} parameters, ${bytes.length.toLocaleString('en-US')} bytes; ${measured}`);
}

/**
 * The mean's loss on the run's validation split, measured as training measures it (the
 * --val-fraction of the corpus its --val-split held out, the run's B streams of T from a zero state): the figure a
 * source's checkpoint records, so the two compare. The corpus must be the run's own (sha256).
 */
async function validationLoss(mean: AveragedCheckpoint, corpusFile: string, run: { backend: BackendName; threads: number }): Promise<number> {
  const { meta } = mean.checkpoint;
  const encoded = readCorpusFile(corpusFile);
  if (encoded.sha256 !== meta.corpus.sha256) {
    throw new UsageError(`--corpus ${corpusFile} is not the text this run trained on (sha256 ${encoded.sha256.slice(0, 12)}…, ` +
      `the run's ${meta.corpus.sha256.slice(0, 12)}… from ${meta.corpus.source}); give the run's corpus`);
  }
  const { val } = splitCorpus(encoded, meta.train.valFraction, 0, meta.train.valSplit);
  if (val.length < 2) throw new UsageError(`--corpus ${corpusFile}: the run held out no validation split (--val-fraction ${meta.train.valFraction})`);
  const backend = await createBackend(run.backend, { threads: run.threads });
  try {
    const model = new Model(backend, meta.model);
    restoreModel(mean.checkpoint, model);
    const evaluator = new Evaluator(model, val, meta.train.batchSize, meta.train.seqLen);
    const loss = await evaluator.meanLoss();
    evaluator.dispose();
    return loss;
  } finally {
    backend.destroy();
  }
}

/** A file stands for itself; a folder, or a run name's snapshots folder, for the checkpoints in it, in name order. */
function expandSource(given: string, checkpointDir: string): string[] {
  let source = given;
  if (!fs.existsSync(source) && !source.includes(path.sep)) source = checkpointPaths(checkpointDir, given).snapshots;
  let stat: fs.Stats;
  try {
    stat = fs.statSync(source);
  } catch {
    const why = source === given ? 'no such file or folder'
      : `no such file or folder, and no run '${given}' with snapshots in ${checkpointDir}/ (train it with --snapshots)`;
    throw new UsageError(`${given}: ${why}; give checkpoint files, a folder of them, or a run name`);
  }
  if (!stat.isDirectory()) return [source];
  const inside = fs.readdirSync(source).filter((n) => n.endsWith(EXTENSION) && !n.startsWith('.')).sort().map((n) => path.join(source, n));
  if (inside.length === 0) throw new UsageError(`${source}/ holds no ${EXTENSION} checkpoints`);
  return inside;
}
