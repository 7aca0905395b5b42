// `rnn sample`: load a checkpoint and stream generated characters to stdout as they are made.

import { Command, Option } from 'commander';
import { BACKEND_NAMES, BackendName, DEFAULTS } from '../config';
import { UsageError } from '../errors';
import { readStdin } from '../data/corpus';
import { GPU_MODES, GpuMode, createBackend } from '../kernels';
import { Model } from '../engine/model';
import { Rng } from '../engine/rng';
import { Sampler } from '../sample/sampler';
import { OpenCheckpoint, openCheckpoint, resolveCheckpoint } from '../checkpoint/checkpoint';
import { Log, createLog } from './log';
import { intOption, numberOption } from './parse';
import { stdoutText, writeOut } from './stdout';

interface SampleCliOptions {
  checkpoint?: string;
  checkpointDir: string;
  temp: number;
  length: number;
  prime?: string;
  seed?: number;
  topK: number;
  topP: number;
  json: boolean;
  backend: BackendName;
  threads: number;
  gpuMode: GpuMode;
  quiet: boolean;
}

export function sampleCommand(): Command {
  return new Command('sample')
    .description('generate text from a trained checkpoint, streamed to stdout')
    .option('-c, --checkpoint <path|name>', 'a checkpoint file, or a run name in --checkpoint-dir (default: the newest checkpoint there)')
    .option('--checkpoint-dir <dir>', 'where to look for checkpoints', DEFAULTS.checkpointDir)
    .option('-t, --temp <t>', 'temperature, above 0: lower is safer, higher is wilder', numberOption(0, 100, true), DEFAULTS.temperature)
    .option('-n, --length <n>', 'characters to generate', intOption(0), DEFAULTS.length)
    .option('-p, --prime <text>', "text to start from (printed first); '-' reads it from stdin")
    .option('--seed <n>', 'random seed; the same seed and checkpoint give the same text (default: random)', intOption(0, 0xffffffff))
    .option('--top-k <k>', 'sample only from the k likeliest characters (0: all)', intOption(0), DEFAULTS.topK)
    .option('--top-p <p>', 'sample from the smallest set of characters whose probability reaches p (1: all)', numberOption(0, 1, true), DEFAULTS.topP)
    .option('--json', 'print one JSON object (text, checkpoint, seed, temperature, length) instead of raw text', false)
    .addOption(new Option('--backend <name>', 'kernels to run on').choices(BACKEND_NAMES as string[]).default('auto'))
    .option('--threads <n>', 'worker threads for the wasm backend (0: one per core)', intOption(0, 256), DEFAULTS.threads)
    .addOption(new Option('--gpu-mode <mode>', 'gpu.js mode for --backend gpujs').choices(GPU_MODES as string[]).default('auto'))
    .option('-q, --quiet', 'do not say which checkpoint is used', false)
    .addHelpText('after', `
Examples:
  $ rnn sample --temp 0.8 --length 500
  $ rnn sample --checkpoint tinyshakespeare --prime "ROMEO:" --seed 7
  $ cat prime.txt | rnn sample --prime - | head -c 2000
  $ rnn sample --json --length 200 --top-k 5`)
    .action(async (opts: SampleCliOptions) => {
      await runSample(opts);
    });
}

async function runSample(opts: SampleCliOptions): Promise<void> {
  const log = createLog(opts.quiet);
  const file = resolveCheckpoint(opts.checkpoint, opts.checkpointDir);
  const ckpt = openCheckpoint(file);
  try {
    await sampleFrom(ckpt, file, opts, log);
  } finally {
    ckpt.close();
  }
}

async function sampleFrom(ckpt: OpenCheckpoint, file: string, opts: SampleCliOptions, log: Log): Promise<void> {
  const vocab = ckpt.meta.vocab;
  let prime = opts.prime ?? '';
  if (prime === '-') prime = await readStdin();
  const unknown = vocab.unknown(prime);
  if (unknown.length > 0) {
    const shown = unknown.slice(0, 10).map((ch) => JSON.stringify(ch)).join(', ');
    throw new UsageError(`--prime has ${unknown.length} character(s) the model never saw: ${shown}; ` +
      `remove them (the vocabulary has ${vocab.size} characters: \`rnn info ${file}\`)`);
  }
  const seed = opts.seed ?? (Date.now() ^ (process.pid << 16)) >>> 0;
  log.info(`rnn: sampling from ${file} (iteration ${ckpt.meta.progress.iteration}` +
    `${ckpt.meta.progress.bestValLoss === null ? '' : `, val ${ckpt.meta.progress.bestValLoss.toFixed(3)} nats/char`}), seed ${seed}`);

  // Batch 1 gains nothing from worker threads: the matmuls are a few thousand flops.
  const backend = await createBackend(opts.backend, { threads: opts.threads || 1, gpuMode: opts.gpuMode });
  try {
    const model = new Model(backend, ckpt.meta.model);
    ckpt.restoreModel(model);
    ckpt.close(); // the weights live on the backend now
    const sampler = new Sampler(model, vocab, new Rng(seed));
    await sampler.prime(prime);
    const sampling = { temperature: opts.temp, topK: opts.topK, topP: opts.topP };
    if (opts.json) {
      let text = prime;
      for (let i = 0; i < opts.length; i++) text += await sampler.next(sampling);
      await writeOut(`${JSON.stringify({ text, checkpoint: file, seed, temperature: opts.temp, length: opts.length, prime, topK: opts.topK, topP: opts.topP })}\n`);
      return;
    }
    const out = stdoutText();
    let pushback = prime ? out.write(prime) : null;
    for (let i = 0; i < opts.length; i++) {
      if (pushback) await pushback;
      pushback = out.write(await sampler.next(sampling));
    }
    if (pushback) await pushback;
    if (opts.length > 0 || prime) out.write('\n');
    await out.flush();
  } finally {
    backend.destroy();
  }
}
