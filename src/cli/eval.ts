// `rnn eval <file>`: how well a checkpoint predicts a text, in nats/char, bits/char and perplexity.
//
// Characters outside the model's vocabulary are skipped and counted: the model reads the text
// with them removed, and the loss is over the predictions whose input and target are both known
// and adjacent in the text (a pair that straddles a skipped character is not scored). As in
// training's validation pass, the text is cut into B streams read in windows of T, each stream
// from a zero state, so the B - 1 pairs that cross stream boundaries (and at most B - 1 trailing
// characters) are not scored either; `predicted` says how many were.

import { Command, Option } from 'commander';
import { BackendName, DEFAULTS, LIMITS } from '../config';
import { UsageError } from '../errors';
import { readStdin, readTextFile } from '../data/corpus';
import { ValSplit, splitText } from '../data/split';
import { encodeKnown } from '../data/vocab';
import { createBackend } from '../kernels';
import { Model, QUANTIZATIONS, Quantization } from '../engine/model';
import { Evaluator } from '../engine/evaluator';
import { loadCheckpoint, resolveCheckpoint, restoreModel } from '../checkpoint/checkpoint';
import { createLog, stdoutColor } from './log';
import { backendOption, givenFlags, threadsOption } from './options';
import { intOption } from './parse';
import { writeOut } from './stdout';
import { DynamicCliOptions, addDynamicOptions, dynamicSettings, rmsStatistics, rmsStatsFile } from './dynamic';
import { DynamicResult, dynamicEvaluation } from '../engine/dynamic';

interface EvalOptions extends DynamicCliOptions {
  dynamic: boolean;
  checkpoint?: string;
  checkpointDir: string;
  batch?: number;
  seqLen?: number;
  backend: BackendName;
  threads: number;
  split: 'all' | 'train' | 'val';
  quantize: Quantization;
  json: boolean;
  quiet: boolean;
}

/**
 * The part of a text a split names, cut as `rnn train` cut it: validation is floor(N·f) code
 * points, f the checkpoint's --val-fraction, taken from the tail or from blocks over the text as
 * its --val-split recorded (src/data/split.ts; runs saved before it existed held out the tail).
 */
export function splitOf(text: string, split: 'all' | 'train' | 'val', valFraction: number, valSplit: ValSplit = 'tail'): string {
  if (split === 'all') return text;
  return splitText(text, split, valFraction, valSplit);
}

export function evalCommand(): Command {
  return addDynamicOptions(new Command('eval'), 'with --dynamic')
    .description('measure a checkpoint on a text: loss in nats/char, bits/char, perplexity')
    .argument('<file>', "a UTF-8 text file, or '-' to read standard input")
    .option('-c, --checkpoint <path|name>', "a checkpoint file, a run name in --checkpoint-dir, or 'bundled' (default: the newest there, else the bundled model)")
    .option('--checkpoint-dir <dir>', 'where to look for checkpoints', DEFAULTS.checkpointDir)
    .option('--batch <n>', 'parallel streams over the text (default: the checkpoint\'s training --batch)', intOption(1, LIMITS.batchSize))
    .option('--seq-len <n>', 'characters per window (default: the checkpoint\'s training --seq-len)', intOption(1, LIMITS.seqLen))
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(new Option('--split <part>', "score all of the text, or the part `rnn train` held out ('val': its --val-fraction, from the tail or from blocks as its --val-split, both as the checkpoint recorded) or trained on ('train')")
      .choices(['all', 'train', 'val']).default('all'))
    .addOption(new Option('--quantize <mode>', 'weights of the matmuls: none (float32), or int8 with one scale per row (a quarter of the bytes)')
      .choices(QUANTIZATIONS as string[]).default('none'))
    .option('--dynamic', 'also read the text as one stream that the model learns from as it goes: each segment is scored, then one step on its gradient (Krause et al. 2018); the checkpoint is not changed', false)
    .option('--json', 'print one JSON object instead of text', false)
    .option('-q, --quiet', 'do not say which checkpoint is used', false)
    .addHelpText('after', `
Characters the model never saw are skipped and counted ("unknown"); the loss is over the
predictions whose input and target are both known and adjacent in the text. The text is read
as B streams from a zero state, as in training's validation pass.

Examples:
  $ rnn eval corpora/tinyshakespeare.txt
  $ rnn eval corpora/tinyshakespeare.txt --split val --batch 1 --seq-len 1000   # one stream through the held-out 10%
  $ rnn eval notes.txt --checkpoint notes --json
  $ rnn eval corpora/tinyshakespeare.txt --split val --dynamic   # static and dynamic, one stream
  $ cat chapter.txt | rnn eval - --checkpoint checkpoints/novel.best.safetensors`)
    .action(async (file: string, opts: EvalOptions, cmd: Command) => {
      await runEval(file, opts, cmd);
    });
}

async function runEval(fileArg: string, opts: EvalOptions, cmd: Command): Promise<void> {
  const log = createLog(opts.quiet);
  const dynamic = dynamicSettings(givenFlags(cmd), opts, opts.dynamic, '--dynamic');
  if (dynamic) refuseWithDynamic(opts);
  const file = resolveCheckpoint(opts.checkpoint, opts.checkpointDir);
  const ckpt = loadCheckpoint(file, { weightsOnly: true }); // the optimizer moments are 2/3 of the file
  const whole = fileArg === '-' ? await readStdin() : readTextFile(fileArg);
  const text = splitOf(whole, opts.split, ckpt.meta.train.valFraction, ckpt.meta.train.valSplit);
  const source = `${fileArg === '-' ? 'stdin' : fileArg}${opts.split === 'all' ? '' : ` (${opts.split} split)`}`;
  const { ids, counted, characters, unknown } = encodeKnown(text, ckpt.meta.vocab);
  const pairs = counted.reduce((n, c) => n + c, 0);
  if (pairs === 0) {
    throw new UsageError(`${source} has no two adjacent characters that ${file} knows (${characters} characters, ` +
      `${characters - ids.length} unknown); give a longer text in the model's alphabet`);
  }
  // --dynamic: the static reading is of the same one stream and segments, side by side.
  const batch = dynamic ? 1 : opts.batch ?? ckpt.meta.train.batchSize;
  const seqLen = dynamic ? dynamic.seqLen : opts.seqLen ?? ckpt.meta.train.seqLen;
  const unknownCount = characters - ids.length;
  const statsFile = dynamic ? rmsStatsFile(ckpt.meta, dynamic, opts.dynamicStats) : null;
  log.info(`rnn: evaluating ${source} with ${file} (iteration ${ckpt.meta.progress.iteration})`);
  if (unknownCount > 0) {
    const shown = [...unknown.keys()].slice(0, 10).map((ch) => JSON.stringify(ch)).join(', ');
    log.warn(`${unknownCount} character(s) the model never saw, skipped: ${shown}${unknown.size > 10 ? ', …' : ''}`);
  }

  const backend = await createBackend(opts.backend, { threads: opts.threads });
  let lossNats: number, predicted: number, streams: number;
  let dynamicResult: (DynamicResult & { statsSeconds: number }) | null = null;
  const staticStart = Date.now();
  let staticMs = 0;
  try {
    const model = new Model(backend, ckpt.meta.model);
    restoreModel(ckpt, model);
    await model.quantize(opts.quantize);
    const evaluator = new Evaluator(model, ids, batch, seqLen, counted);
    ({ lossNats, predictions: predicted } = await evaluator.evaluate());
    streams = evaluator.streams;
    evaluator.dispose();
    staticMs = Date.now() - staticStart;
    if (dynamic) {
      // The RMS rule's statistics come first, from the training split; their time is reported apart.
      const statsStart = Date.now();
      const rms = await rmsStatistics(model, ckpt.meta, statsFile);
      const statsSeconds = (Date.now() - statsStart) / 1000;
      dynamicResult = { ...await dynamicEvaluation(model, ids, counted, dynamic, rms), statsSeconds };
    }
  } finally {
    backend.destroy();
  }
  const nats = lossNats / predicted;
  const result = {
    file: source, split: opts.split, checkpoint: file, characters, predicted,
    unknown: { count: unknownCount, distinct: [...unknown.keys()] },
    lossNats: nats, bitsPerChar: nats / Math.LN2, perplexity: Math.exp(nats),
    streams, seqLen: Math.min(seqLen, ids.length - 1), backend: backend.name, quantize: opts.quantize,
    ...(dynamicResult && { seconds: staticMs / 1000, dynamic: dynamicResult }),
  };
  if (opts.json) {
    await writeOut(`${JSON.stringify(result)}\n`);
    return;
  }
  const color = stdoutColor();
  await writeOut([
    `${color.bold('loss')}        ${nats.toFixed(4)} nats/char`,
    `${color.bold('bits/char')}   ${result.bitsPerChar.toFixed(4)}`,
    `${color.bold('perplexity')}  ${result.perplexity.toFixed(3)}`,
    `${color.bold('characters')}  ${characters.toLocaleString('en-US')} read, ${predicted.toLocaleString('en-US')} predicted, ` +
      `${unknownCount.toLocaleString('en-US')} unknown (skipped)`,
    ...(dynamicResult ? dynamicLines(dynamicResult, nats, staticMs) : []),
  ].join('\n') + '\n');
}

/** --dynamic reads one stream in its own segments: the flags that set other streams or weights are refused. */
function refuseWithDynamic(opts: EvalOptions): void {
  if (opts.batch !== undefined) throw new UsageError('--dynamic reads the text as one stream; drop --batch');
  if (opts.seqLen !== undefined) throw new UsageError('--dynamic reads in segments of --dynamic-seq-len; give that instead of --seq-len');
  if (opts.quantize !== 'none') throw new UsageError('--dynamic updates float weights; drop --quantize');
}

/** The text lines of --dynamic, under the static ones (which then read the same one stream). */
function dynamicLines(d: DynamicResult & { statsSeconds: number }, staticNats: number, staticMs: number): string[] {
  return [
    `dynamic     ${d.lossNats.toFixed(4)} nats/char (${d.bitsPerChar.toFixed(4)} bits/char, perplexity ${d.perplexity.toFixed(3)}), ` +
      `${(staticNats - d.lossNats).toFixed(4)} below the static ${staticNats.toFixed(4)} of the same stream`,
    `            rule ${d.rule}, lr ${d.learningRate}, decay ${d.decay}, segments of ${d.seqLen}; ${d.seconds.toFixed(1)} s ` +
      `${d.rule === 'rms' ? `(and ${d.statsSeconds.toFixed(1)} s of training-split gradients) ` : ''}against ${(staticMs / 1000).toFixed(1)} s static`,
  ];
}
