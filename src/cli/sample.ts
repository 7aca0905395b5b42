// `rnn sample`: load a checkpoint and stream generated characters to stdout as they are made.

import { Command, InvalidArgumentError, Option } from 'commander';
import { BackendName, DEFAULTS, LIMITS } from '../config';
import { UsageError } from '../errors';
import { readStdin, readTextFile } from '../data/corpus';
import { GPU_MODES, GpuMode, createBackend } from '../kernels';
import { Model, QUANTIZATIONS, Quantization } from '../engine/model';
import { Rng } from '../engine/rng';
import { Decoding, Sampler } from '../sample/sampler';
import { beamSearch } from '../sample/beam';
import { generateRows } from '../sample/generate';
import { OpenCheckpoint, openCheckpoint, resolveCheckpoint } from '../checkpoint/checkpoint';
import { Log, createLog } from './log';
import { backendOption, givenFlags, threadsOption } from './options';
import { intOption, numberOption } from './parse';
import { stdoutText, writeOut } from './stdout';
import { DynamicCliOptions, addDynamicOptions, dynamicSettings, rmsStatistics, rmsStatsFile } from './dynamic';
import { DynamicSettings } from '../engine/dynamic';
import { adaptToPrime } from '../sample/adapt';

interface SampleCliOptions extends DynamicCliOptions {
  adapt: boolean;
  adaptPasses?: number;
  checkpoint?: string;
  checkpointDir: string;
  temp: number;
  length: number;
  prime?: string;
  primeFile?: string;
  seed?: number;
  topK: number;
  topP: number;
  greedy: boolean;
  beam?: number;
  num: number;
  stop: string[];
  json: boolean;
  backend: BackendName;
  threads: number;
  quantize: Quantization;
  gpuMode: GpuMode;
  quiet: boolean;
}

/** --stop may repeat: each occurrence adds one string. */
function collectStop(value: string, previous: string[]): string[] {
  if (value === '') throw new InvalidArgumentError("a stop string cannot be empty; give the text to stop after, e.g. --stop $'\\n\\n'");
  return [...previous, value];
}

/** The line between samples of --num N: sample i (1-based) of N, and the seed it was drawn with. */
export function sampleSeparator(index: number, count: number, seed: number): string {
  return `\n--- sample ${index}/${count}, seed ${seed} ---\n`;
}

export function sampleCommand(): Command {
  return addDynamicOptions(new Command('sample'), 'with --adapt')
    .description('generate text from a trained checkpoint, streamed to stdout')
    .option('-c, --checkpoint <path|name>', 'a checkpoint file, or a run name in --checkpoint-dir (default: the newest checkpoint there)')
    .option('--checkpoint-dir <dir>', 'where to look for checkpoints', DEFAULTS.checkpointDir)
    .option('-t, --temp <t>', 'temperature, above 0: lower is safer, higher is wilder', numberOption(0, 100, true), DEFAULTS.temperature)
    .option('-n, --length <n>', 'characters to generate (the most, with --stop)', intOption(0), DEFAULTS.length)
    .option('-p, --prime <text>', "text to start from (printed first); '-' reads it from stdin")
    .option('--prime-file <file>', "read the prime from a file (it may hold line breaks; '-' is stdin)")
    .option('--seed <n>', 'random seed; the same seed and checkpoint give the same text (default: random)', intOption(0, 0xffffffff))
    .option('--top-k <k>', 'sample only from the k likeliest characters (0: all)', intOption(0), DEFAULTS.topK)
    .option('--top-p <p>', 'sample from the smallest set of characters whose probability reaches p (1: all)', numberOption(0, 1, true), DEFAULTS.topP)
    .option('--greedy', 'take the likeliest character at every step (--temp, --top-k, --top-p are then ignored)', false)
    .option('--beam <k>', 'beam search with k beams for the likeliest text; prints it when done (not streamed) and its log-probability on stderr', intOption(1, LIMITS.beamWidth))
    .option('--num <n>', 'n independent samples in one batch, sample i seeded with seed+i-1; separated by a line \'--- sample i/n, seed s ---\'', intOption(1, LIMITS.samples), 1)
    .option('--stop <s>', 'end after the first occurrence of s (may repeat; --length stays the upper bound)', collectStop, [] as string[])
    .option('--json', 'print JSON (text, checkpoint, seed, settings, logProb; an array with --num) instead of raw text', false)
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(new Option('--quantize <mode>', 'weights of the matmuls: none (float32), or int8 with one scale per row (a quarter of the bytes)')
      .choices(QUANTIZATIONS as string[]).default('none'))
    .addOption(new Option('--gpu-mode <mode>', 'gpu.js mode for --backend gpujs').choices(GPU_MODES as string[]).default('auto'))
    .option('--adapt', 'learn from the prime before writing: read it segment by segment, one update on each (dynamic evaluation, --dynamic-rule); the checkpoint is not changed', false)
    .option('--adapt-passes <k>', `passes of --adapt over the prime (default ${DEFAULTS.adaptPasses})`, intOption(1, 100))
    .option('-q, --quiet', 'do not say which checkpoint is used', false)
    .addHelpText('after', `
Examples:
  $ rnn sample --temp 0.8 --length 500
  $ rnn sample --checkpoint tinyshakespeare --prime "ROMEO:" --seed 7
  $ cat prime.txt | rnn sample --prime - | head -c 2000
  $ rnn sample --prime-file scene.txt --stop $'\\n\\n'     # one speech
  $ rnn sample --greedy --length 200
  $ rnn sample --beam 5 --length 80 --prime "JULIET:"
  $ rnn sample --num 8 --seed 1 --length 100            # seeds 1..8 in one batch
  $ rnn sample --json --length 200 --top-k 5
  $ rnn sample --prime-file my-letters.txt --adapt --length 500   # write like the prime

Into a pipe or a file the output is exactly the prime and the sample; a line break ends it only
on a terminal.`)
    .action(async (opts: SampleCliOptions, cmd: Command) => {
      await runSample(opts, givenFlags(cmd));
    });
}

async function runSample(opts: SampleCliOptions, flagsGiven: ReadonlySet<string>): Promise<void> {
  const log = createLog(opts.quiet);
  const given = (key: string): boolean => flagsGiven.has(key);
  if (opts.prime !== undefined && opts.primeFile !== undefined) throw new UsageError('give --prime or --prime-file, not both');
  if (opts.beam !== undefined && opts.greedy) throw new UsageError('give --greedy or --beam, not both (--beam 1 is greedy)');
  if (opts.beam !== undefined && given('num')) throw new UsageError('--beam gives one text, the likeliest; drop --num (or --beam to draw --num samples)');
  const ignored = ['temp', 'topK', 'topP'].filter(given).map((k) => ({ temp: '--temp', topK: '--top-k', topP: '--top-p' })[k]);
  if ((opts.greedy || opts.beam !== undefined) && ignored.length > 0) {
    log.warn(`${ignored.join(', ')} ignored: ${opts.greedy ? '--greedy takes the likeliest character' : '--beam scores the model\'s own probabilities'}`);
  }
  const adapt = adaptSettings(opts, flagsGiven);
  const file = resolveCheckpoint(opts.checkpoint, opts.checkpointDir);
  const ckpt = openCheckpoint(file);
  try {
    await sampleFrom(ckpt, file, opts, log, given('num'), adapt);
  } finally {
    ckpt.close();
  }
}

async function readPrime(opts: SampleCliOptions): Promise<{ prime: string; flag: string }> {
  if (opts.primeFile !== undefined) {
    return { prime: opts.primeFile === '-' ? await readStdin() : readTextFile(opts.primeFile), flag: '--prime-file' };
  }
  const prime = opts.prime ?? '';
  return { prime: prime === '-' ? await readStdin() : prime, flag: '--prime' };
}

async function sampleFrom(ckpt: OpenCheckpoint, file: string, opts: SampleCliOptions, log: Log, asArray: boolean,
  adapt: DynamicSettings | null): Promise<void> {
  const vocab = ckpt.meta.vocab;
  const statsFile = adapt ? rmsStatsFile(ckpt.meta, adapt, opts.dynamicStats) : null;
  const { prime, flag } = await readPrime(opts);
  if (adapt && [...prime].length < 2) throw new UsageError(`--adapt learns from the prime, and ${flag} has ${[...prime].length} character(s); give at least 2`);
  const unknown = vocab.unknown(prime);
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).map((ch) => JSON.stringify(ch)).join(', ');
    throw new UsageError(`${flag} has ${unknown.length} character(s) the model never saw: ${shown}; ` +
      `remove them (the vocabulary has ${vocab.size} characters: \`rnn info ${file}\`)`);
  }
  const seed = opts.seed ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  const seeds = Array.from({ length: opts.num }, (_, i) => (seed + i) >>> 0);
  const averaged = ckpt.meta.averagedFrom ? `, the mean of ${ckpt.meta.averagedFrom.length} checkpoints` : '';
  log.info(`rnn: sampling from ${file} (iteration ${ckpt.meta.progress.iteration}${averaged}` +
    `${ckpt.meta.progress.bestValLoss === null ? '' : `, val ${ckpt.meta.progress.bestValLoss.toFixed(3)} nats/char`}), ` +
    `${opts.num > 1 ? `seeds ${seeds[0]}..${seeds[seeds.length - 1]}` : `seed ${seed}`}`);

  // Small batches gain nothing from worker threads: the matmuls are a few thousand flops.
  const backend = await createBackend(opts.backend, { threads: opts.threads || 1, gpuMode: opts.gpuMode });
  try {
    const model = new Model(backend, ckpt.meta.model);
    ckpt.restoreModel(model);
    await model.quantize(opts.quantize);
    ckpt.close(); // the weights live on the backend now
    const mode = opts.beam !== undefined ? 'beam' : opts.greedy ? 'greedy' : 'sample';
    const settings = {
      checkpoint: file, mode, temperature: opts.temp, topK: opts.topK, topP: opts.topP,
      beam: opts.beam ?? null, length: opts.length, prime, stop: opts.stop, quantize: opts.quantize,
    };
    const out = stdoutText();
    const end = async (): Promise<void> => {
      if (process.stdout.isTTY && !opts.json) await out.write('\n');
      await out.flush();
    };

    if (opts.beam !== undefined) {
      const startId = Math.floor(new Rng(seed).uniform() * vocab.size);
      const result = await beamSearch(model, vocab, prime, { width: opts.beam, length: opts.length, stops: opts.stop, startId });
      const text = prime + result.ids.map((id) => vocab.chars[id]).join('');
      log.info(`rnn: beam ${opts.beam}: log-probability ${result.logProb.toFixed(3)} nats over ${result.ids.length} characters` +
        `${result.stop === null ? '' : ` (ended at --stop ${JSON.stringify(result.stop)})`}`);
      const record = { text, ...settings, seed, logProb: result.logProb, characters: result.ids.length, stopped: result.stop };
      if (opts.json) await writeOut(`${JSON.stringify(record)}\n`);
      else {
        await out.write(text);
        await end();
      }
      return;
    }

    const decoding: Decoding = { temperature: opts.temp, topK: opts.topK, topP: opts.topP, greedy: opts.greedy };
    const N = opts.num;
    // Row 0 streams to stdout as it is made (unless --json); the other rows print when done.
    const streaming = !opts.json;
    let pushback = streaming && prime ? out.write(prime) : null;
    const emit = async (ch: string): Promise<void> => {
      if (pushback) await pushback;
      pushback = out.write(ch);
    };
    // --adapt: the rows start from weights and a state that learnt from the prime, not from a plain read of it.
    const primeWith = adapt ? adaptingPrimer(model, ckpt.meta, statsFile, prime, adapt, opts.adaptPasses ?? DEFAULTS.adaptPasses, log) : undefined;
    const request = { seeds, prime, length: opts.length, stops: opts.stop, decoding, primeWith };
    const { texts, generated, stopped, logProbs } = await generateRows(model, vocab, request, streaming ? emit : null);
    if (pushback) await pushback;
    if (opts.json) {
      const records = texts.map((text, r) => ({
        text, ...settings, seed: seeds[r], logProb: logProbs[r], characters: generated[r], stopped: stopped[r],
      }));
      await writeOut(`${JSON.stringify(asArray ? records : records[0])}\n`);
      return;
    }
    for (let r = 1; r < N; r++) await out.write(sampleSeparator(r + 1, N, seeds[r]) + texts[r]);
    await end();
  } finally {
    backend.destroy();
  }
}

/** --adapt's reading of the prime, for generateRows: `passes` dynamic passes over it, then the rows sample on. */
function adaptingPrimer(
  model: Model, meta: OpenCheckpoint['meta'], statsFile: string | null, prime: string, adapt: DynamicSettings, passes: number, log: Log,
): (sampler: Sampler) => Promise<void> {
  return async (sampler) => {
    const rms = await rmsStatistics(model, meta, statsFile);
    const losses = await adaptToPrime(sampler, meta.vocab.encode(prime), prime, adapt, passes, rms);
    log.info(`rnn: adapted to the ${[...prime].length}-character prime in ${passes} pass(es): ` +
      `${losses.map((l) => l.toFixed(4)).join(', ')} nats/char, each counted before its updates`);
  };
}

/** --adapt's settings (null without it); its flags without it, or beside what it cannot do, are refused. */
function adaptSettings(opts: SampleCliOptions, given: ReadonlySet<string>): DynamicSettings | null {
  const adapt = dynamicSettings(given, opts, opts.adapt, '--adapt');
  if (!adapt) {
    if (opts.adaptPasses !== undefined) throw new UsageError('--adapt-passes applies only with --adapt: add --adapt, or drop --adapt-passes');
    return null;
  }
  if (opts.prime === undefined && opts.primeFile === undefined) {
    throw new UsageError('--adapt learns from the prime: give --prime TEXT or --prime-file FILE');
  }
  if (opts.beam !== undefined) throw new UsageError('--adapt samples on from the adapted state; drop --beam (or --adapt)');
  if (opts.quantize !== 'none') throw new UsageError('--adapt updates float weights; drop --quantize');
  return adapt;
}
