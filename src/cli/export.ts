// `rnn export`: a trained model to share: one HTML page, a dependency-free JS module, or an F16 checkpoint.

import { Command, Option } from 'commander';
import * as fs from 'fs';
import * as path from 'path';
import { DEFAULTS } from '../config';
import { UsageError } from '../errors';
import { resolveCheckpoint } from '../checkpoint/checkpoint';
import { writeFileAtomic } from '../data/atomic';
import { EXPORT_FORMATS, ExportFormat, exportModel } from '../export/export';
import { createLog } from './log';
import { writeOut } from './stdout';

interface ExportCliOptions {
  checkpoint?: string;
  checkpointDir: string;
  format: ExportFormat;
  out?: string;
  quiet: boolean;
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write a trained model to share: a self-contained HTML page that samples in the browser, a JS module for Node, or an F16 checkpoint')
    .option('-c, --checkpoint <path|name>', 'a checkpoint file, or a run name in --checkpoint-dir (default: the newest checkpoint there)')
    .option('--checkpoint-dir <dir>', 'where to look for checkpoints', DEFAULTS.checkpointDir)
    .addOption(new Option('--format <format>', 'html: one page, no network; js: `node model.js --temp 0.8`; safetensors: weights only, F16').choices(EXPORT_FORMATS as string[]).default('html'))
    .option('-o, --out <file>', 'where to write it (default: stdout, unless that is a terminal)')
    .option('-q, --quiet', 'do not say what was written', false)
    .addHelpText('after', `
Examples:
  $ rnn export --format html --out model.html       # open it in a browser: no server, no network
  $ rnn export --format js --out model.js && node model.js --temp 0.8 --length 300 --seed 7
  $ rnn export --format safetensors --out model.f16.safetensors && rnn sample -c model.f16.safetensors

Weights are stored as F16 (half the bytes of F32). The page and module sample as rnn sample does
(temperature, top-k, top-p, prime, seed, greedy); with the F16 checkpoint, rnn sample --backend
reference gives exactly their text for the same seed and settings.`)
    .action(async (opts: ExportCliOptions) => {
      await runExport(opts);
    });
}

async function runExport(opts: ExportCliOptions): Promise<void> {
  const log = createLog(opts.quiet);
  if (opts.out === undefined && process.stdout.isTTY) {
    throw new UsageError(`--format ${opts.format} writes a file; give --out FILE (or redirect stdout)`);
  }
  if (opts.out !== undefined && !fs.existsSync(path.dirname(path.resolve(opts.out)))) {
    throw new UsageError(`--out ${opts.out}: the folder ${path.dirname(opts.out)} does not exist; create it first`);
  }
  const file = resolveCheckpoint(opts.checkpoint, opts.checkpointDir);
  const result = exportModel(file, opts.format);
  if (opts.out === undefined) {
    if (opts.format === 'safetensors') process.stdout.write(result.bytes);
    else await writeOut(result.bytes.toString('utf8'));
  } else {
    writeFileAtomic(opts.out, result.bytes);
  }
  const rounding = result.maxRoundingError === 0 ? 'exact' : `largest change ${result.maxRoundingError.toExponential(2)}`;
  log.info(`rnn: exported ${file} as ${opts.format} to ${opts.out ?? 'stdout'}: ${result.bytes.length.toLocaleString('en-US')} bytes, ` +
    `${result.parameters.toLocaleString('en-US')} ${result.cell} parameters as F16 (${rounding})`);
}
