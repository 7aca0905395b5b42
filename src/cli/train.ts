// `rnn train <corpus>`: parse options into a TrainConfig, build or resume a model, run the trainer.

import { Command, Option } from 'commander';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  DEFAULTS, InitSource, ModelConfig, TrainConfig, BACKEND_NAMES, BackendName, LR_SCHEDULES, LrSchedule, RECURRENT_INITS, RecurrentInit,
  cellZoneout, defaultTrainConfig, validateConfig, zoneoutSummary,
} from '../config';
import { CellName } from '../kernels/backend';
import { CELLS, CELL_NAMES, cellSpec } from '../engine/cells';
import { UsageError, InterruptedError } from '../errors';
import { EncodedCorpus, readCorpusFile, readCorpusStdin, reencodeCorpus, splitCorpus } from '../data/corpus';
import { FetchProgress, corpusState, fetchCorpus, knownCorpus, KNOWN_CORPORA } from '../data/registry';
import { Batcher } from '../data/batcher';
import { Vocab } from '../data/vocab';
import { GPU_MODES, GpuMode, createBackend } from '../kernels';
import { Model } from '../engine/model';
import { Adam } from '../engine/optimizer';
import { AVERAGE_STRIDE, WeightAverage } from '../engine/average';
import { Rng } from '../engine/rng';
import { RECIPE_INIT, chooseRecipe } from '../engine/recipe';
import { EvalInfo, StepInfo, Trainer, TrainProgress } from '../engine/trainer';
import { Sampler } from '../sample/sampler';
import {
  CheckpointMeta, EXTENSION, LoadedCheckpoint, checkpointPaths, hasTrainingState, loadCheckpoint, readCheckpointMeta, resolveCheckpoint,
  restoreModel, restoreModelGrowingVocab, restoreTrainingState, saveCheckpoint, snapshotPath,
} from '../checkpoint/checkpoint';
import { lockCheckpoint } from '../checkpoint/lock';
import { checkTrainingFits } from './memory';
import { Log, createLog } from './log';
import { givenOnCommandLine, intOption, numberOption, parseDuration } from './parse';
import { ProgressReporter } from './progress';
import { ENGINE_NAMES, EngineName, PytorchEnvironment, checkEngine, runPytorch } from '../engine/pytorch/launch';

interface TrainOptions {
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
  zoneout: number;
  zoneoutCell?: number;
  init: RecurrentInit;
  clipNorm: number;
  clipValue: number;
  valFraction: number;
  maxIters: number;
  time?: number;
  evalEvery: number;
  saveEvery: number;
  checkpointDir: string;
  corporaDir: string;
  name?: string;
  seed: number;
  backend: BackendName;
  threads: number;
  gpuMode: GpuMode;
  resume: boolean;
  overwrite: boolean;
  initFrom?: string;
  quiet: boolean;
  json: boolean;
  sampleEvery?: number;
  sampleLength: number;
  patience: number;
  log?: string;
  snapshots: boolean;
  engine: EngineName;
  nproc: number;
  nnodes: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
}

/** Flags that shape the model or the data order: on --resume they come from the checkpoint. */
const FIXED_ON_RESUME: Array<[keyof TrainOptions, string]> = [
  ['cell', '--cell'], ['zoneout', '--zoneout'], ['zoneoutCell', '--zoneout-cell'], ['init', '--init'], ['layers', '--layers'], ['hidden', '--hidden'], ['embedding', '--embedding'], ['seqLen', '--seq-len'],
  ['batch', '--batch'], ['valFraction', '--val-fraction'], ['seed', '--seed'],
];

/** Flags that shape the model: with --init-from they come from that checkpoint. */
const FIXED_BY_INIT: Array<[keyof TrainOptions, string]> = [
  ['cell', '--cell'], ['zoneout', '--zoneout'], ['zoneoutCell', '--zoneout-cell'], ['layers', '--layers'], ['hidden', '--hidden'], ['embedding', '--embedding'],
];

export function trainCommand(): Command {
  return new Command('train')
    .description('train a recurrent network (LSTM, GRU, vanilla RNN, …) on a text file (or - for stdin) and save checkpoints')
    .argument('<corpus>', `a UTF-8 text file, '-' to read standard input, or a known corpus name (${KNOWN_CORPORA.map((c) => c.name).join(', ')}; see \`rnn corpora\`), fetched into --corpora-dir when absent`)
    .addOption(new Option('--cell <cell>', `the recurrent cell: ${CELLS.map((c) => `${c.name} (${c.title})`).join(', ')}`)
      .choices(CELL_NAMES as string[]).default(DEFAULTS.cell))
    .option('--layers <n>', 'stacked recurrent layers', intOption(1, 16), DEFAULTS.layers)
    .option('--hidden <n>', 'hidden units per layer (with --time and no --max-iters, the size rule chooses unless given)', intOption(1, 8192), DEFAULTS.hiddenSize)
    .option('--embedding <n>', 'character embedding size', intOption(1, 8192), DEFAULTS.embeddingSize)
    .option('--seq-len <n>', 'characters per truncated-BPTT window', intOption(1, 100000), DEFAULTS.seqLen)
    .option('--batch <n>', 'parallel streams over the text', intOption(1, 100000), DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate (the peak, after any warm-up)', numberOption(0, 10, true), DEFAULTS.learningRate)
    .addOption(new Option('--lr-schedule <schedule>', 'the rate over the run: constant, cosine (to --min-lr at the end of --max-iters or --time), step (halved at 50% and 75%)')
      .choices(LR_SCHEDULES as string[]).default(DEFAULTS.lrSchedule))
    .option('--warmup <n>', 'linear learning-rate warm-up over the first n iterations (0: none)', intOption(0), DEFAULTS.warmupIters)
    .option('--min-lr <rate>', `the rate at the end of a cosine or step schedule (default: ${DEFAULTS.minLrFraction} × --lr)`, numberOption(0, 10))
    .option('--dropout <p>', 'dropout between layers and before the decoder, in training (0: off; with --time and no --max-iters, the size rule chooses unless given)', numberOption(0, 0.95), DEFAULTS.dropout)
    .option('--average-tail <f>', 'over the last fraction f of the run, keep a running mean of the weights (every ' +
      `${AVERAGE_STRIDE} steps); validation, checkpoints and sampling use it (0: off)`, numberOption(0, 0.99), DEFAULTS.averageTail)
    .option('--weight-decay <x>', 'decoupled weight decay of the weight matrices, as torch.optim.AdamW (not biases; 0: off, plain Adam)', numberOption(0), DEFAULTS.weightDecay)
    .option('--zoneout <p>', 'zoneout of the recurrent state: each unit keeps its previous value with probability p in training (0: off)', numberOption(0, 0.95), DEFAULTS.zoneout)
    .option('--zoneout-cell <p>', "the LSTMs' cell state c's own zoneout, h keeping --zoneout's (default: --zoneout's)", numberOption(0, 0.95))
    .addOption(new Option('--init <scheme>', 'recurrent weights: orthogonal, glorot, identity (IRNN; rnn-tanh/rnn-relu only), or pytorch (PyTorch\'s defaults: every recurrent and decoder weight and bias U(±1/√H); with --time and no --max-iters, the size rule gives its GRU this unless given)')
      .choices(RECURRENT_INITS as string[]).default(DEFAULTS.init))
    .option('--clip-norm <x>', 'clip gradients to this global norm (0: off)', numberOption(0), DEFAULTS.clipNorm)
    .option('--clip-value <x>', 'clip each gradient element to ±x (0: off)', numberOption(0), DEFAULTS.clipValue)
    .option('--val-fraction <f>', 'last fraction of the text held out for validation', numberOption(0, 0.9), DEFAULTS.valFraction)
    .option('--max-iters <n>', 'stop after n iterations (0: no limit, needs --time)', intOption(0), DEFAULTS.maxIters)
    .option('--time <duration>', 'stop after this long, e.g. 90s, 10m, 1h (with no --max-iters given, time alone bounds the run)', parseDuration)
    .option('--eval-every <n>', 'measure validation loss every n iterations', intOption(1), DEFAULTS.evalEvery)
    .option('--save-every <n>', 'save every n iterations (0: at every evaluation); always at the end', intOption(0), DEFAULTS.saveEvery)
    .option('--checkpoint-dir <dir>', 'where checkpoints go', DEFAULTS.checkpointDir)
    .option('--corpora-dir <dir>', 'where named corpora are found, and fetched to', DEFAULTS.corporaDir)
    .option('--name <name>', "checkpoint name (default: the corpus file's base name)")
    .option('--seed <n>', 'random seed (weights); runs are deterministic on a given backend', intOption(0, 0xffffffff), DEFAULTS.seed)
    .addOption(new Option('--backend <name>', 'kernels to run on').choices(BACKEND_NAMES as string[]).default(DEFAULTS.backend))
    .option('--threads <n>', 'worker threads for the wasm backend (0: one per core)', intOption(0, 256), DEFAULTS.threads)
    .addOption(new Option('--gpu-mode <mode>', 'gpu.js mode for --backend gpujs').choices(GPU_MODES as string[]).default('auto'))
    .option('--resume', 'continue the run saved under --name in --checkpoint-dir', false)
    .option('--overwrite', 'start afresh under --name where a run is saved already, replacing it (its checkpoints and snapshots); ' +
      'without it such a run is kept and this one refused', false)
    .option('--init-from <checkpoint>', "start a new run from a checkpoint's weights (a file, a run name in --checkpoint-dir, or 'bundled') " +
      'with a fresh optimizer and schedule: fine-tuning, or a warm restart. Its architecture is kept (and its dropout and ' +
      'weight decay unless given); characters the corpus adds join its vocabulary')
    .option('-q, --quiet', 'no progress on stderr, only warnings and errors', false)
    .option('--json', 'print a JSON summary on stdout at the end', false)
    .option('--sample-every <n>', 'print a short sample on stderr every n iterations (0: never; default: at each evaluation on a terminal, never otherwise)', intOption(0))
    .option('--sample-length <n>', 'characters in each --sample-every sample (seeded with --seed, temperature 0.8)', intOption(1, 100000), 200)
    .option('--patience <n>', 'stop once validation loss has not improved for n evaluations in a row (0: never)', intOption(0), 0)
    .option('--snapshots', 'also keep the weights of every save in --checkpoint-dir/NAME.snapshots/iter-N.safetensors, for `rnn average` (kept on by --resume)', false)
    .option('--log <file>', 'append one JSON line per evaluation (iteration, epoch, elapsedMs, trainLoss, valLoss, lr, charsPerSecond)')
    .addOption(new Option('--engine <engine>', 'rnn (this program\'s engine) or pytorch (PyTorch DDP under torchrun; docs/pytorch-engine.md)')
      .choices(ENGINE_NAMES as string[]).default(DEFAULTS.engine))
    .option('--nproc <n>', '--engine pytorch: processes on this machine (torchrun --nproc_per_node), sharing the --batch streams', intOption(1, 1024), DEFAULTS.nproc)
    .option('--nnodes <n>', '--engine pytorch: machines in the run, each started with the same command', intOption(1, 4096), DEFAULTS.nnodes)
    .option('--node-rank <k>', "--engine pytorch: this machine's number among --nnodes (0 saves the checkpoints)", intOption(0, 4095))
    .option('--rdzv-endpoint <addr>', "--engine pytorch: node 0's HOST:PORT, where the --nnodes machines meet")
    .addHelpText('after', `
Examples:
  $ rnn train tinyshakespeare --time 10m          # fetches corpora/tinyshakespeare.txt first if absent
  $ rnn train corpora/tinyshakespeare.txt --time 10m   # the size rule picks cell, size and dropout, and says which
  $ rnn train corpora/tinyshakespeare.txt --layers 2 --hidden 256 --max-iters 5000
  $ rnn train corpora/tinyshakespeare.txt --hidden 512 --dropout 0.25 --time 30m   # cosine-annealed to the end
  $ rnn train corpora/tinyshakespeare.txt --cell gru --lr-schedule step --warmup 100
  $ rnn train corpora/tinyshakespeare.txt --cell rnn-relu --init identity --lr 5e-4
  $ rnn train corpora/tinyshakespeare.txt --resume --time 5m
  $ rnn train my-plays.txt --init-from bundled --lr 5e-4 --time 10m   # fine-tune the bundled Shakespeare model
  $ cat notes.txt | rnn train - --name notes --seq-len 32
  $ rnn train tinyshakespeare --time 1h --patience 5 --log run.jsonl --sample-every 500`)
    .action(async (corpusArg: string, opts: TrainOptions, cmd: Command) => {
      await runTrain(corpusArg, opts, cmd);
    });
}

function configFromOptions(opts: TrainOptions, cmd: Command, corpusArg: string): TrainConfig {
  const config = defaultTrainConfig();
  config.model = {
    layers: opts.layers, hiddenSize: opts.hidden, embeddingSize: opts.embedding, cell: opts.cell, zoneout: opts.zoneout,
    ...(opts.zoneoutCell === undefined ? {} : { zoneoutCell: opts.zoneoutCell }),
  };
  config.seqLen = opts.seqLen;
  config.batchSize = opts.batch;
  config.learningRate = opts.lr;
  config.lrSchedule = opts.lrSchedule;
  config.warmupIters = opts.warmup;
  config.minLr = opts.minLr ?? opts.lr * DEFAULTS.minLrFraction;
  config.dropout = opts.dropout;
  config.averageTail = opts.averageTail;
  config.weightDecay = opts.weightDecay;
  config.init = opts.init;
  config.clipNorm = opts.clipNorm;
  config.clipValue = opts.clipValue;
  config.valFraction = opts.valFraction;
  config.timeBudgetMs = opts.time ?? 0;
  // --time alone bounds the run by time: the default iteration cap applies only without it.
  const itersGiven = givenOnCommandLine(cmd, 'maxIters');
  config.maxIters = opts.time !== undefined && !itersGiven ? 0 : opts.maxIters;
  config.evalEvery = opts.evalEvery;
  config.saveEvery = opts.saveEvery;
  config.checkpointDir = opts.checkpointDir;
  // Derived from the corpus file: made safe as a file name. Given with --name: checked.
  const derived = corpusArg === '-' ? 'stdin' : path.basename(corpusArg).replace(/\.[^.]*$/, '').replace(/[^\w.-]+/g, '_');
  config.name = opts.name ?? (derived.replace(/^[._]+$/, '') || 'corpus');
  if (!/^[\w.-]+$/.test(config.name)) {
    throw new UsageError(`--name '${config.name}' may hold only letters, digits, '.', '_' and '-'`);
  }
  config.seed = opts.seed;
  config.backend = opts.backend;
  config.threads = opts.threads;
  config.snapshots = opts.snapshots;
  return config;
}

function fingerprint(encoded: EncodedCorpus): CheckpointMeta['corpus'] {
  return { source: encoded.source, sha256: encoded.sha256, characters: encoded.characters };
}

/** A fingerprint for a message: where the text came from, its hash's first digits and its length. */
function describeFingerprint(print: CheckpointMeta['corpus']): string {
  return `${print.source}: sha256 ${print.sha256.slice(0, 12)}…, ${print.characters.toLocaleString('en-US')} characters`;
}

/**
 * The corpus argument: '-' is stdin; an existing path always wins; then a known corpus name,
 * read from the corpora folder or fetched there (sha256 checked) when absent.
 */
async function readCorpus(corpusArg: string, corporaDir: string, log: Log): Promise<EncodedCorpus> {
  if (corpusArg === '-') return readCorpusStdin();
  const known = knownCorpus(corpusArg);
  if (!known || fs.existsSync(corpusArg)) return readCorpusFile(corpusArg);
  const { state, file: present } = corpusState(known, corporaDir);
  let file = present;
  if (state === 'differs') log.warn(`${file} is not the registered ${known.name} (sha256 differs); training on it anyway`);
  if (state === 'absent') {
    log.info(`rnn: ${file} is absent; fetching ${known.name} (${(known.bytes / 1e6).toFixed(1)} MB)`);
    let lastShown = 0;
    const onProgress = (p: FetchProgress): void => {
      const now = Date.now();
      if (log.fancy && !log.quiet && now - lastShown > 200) {
        process.stderr.write(`\r\x1b[Krnn: ${Math.round((100 * p.received) / p.total)}% of ${p.url}`);
        lastShown = now;
      }
    };
    try {
      file = await fetchCorpus(known, corporaDir, onProgress);
    } finally {
      if (lastShown > 0) process.stderr.write('\r\x1b[K'); // clear the progress line
    }
    log.info(`rnn: saved ${file} (sha256 ok)`);
  }
  return readCorpusFile(file);
}

async function runTrain(corpusArg: string, opts: TrainOptions, cmd: Command): Promise<void> {
  const log = createLog(opts.quiet);
  const config = configFromOptions(opts, cmd, corpusArg);
  validateConfig(config); // a bad combination of flags is refused before the lock is taken
  if (opts.log !== undefined) checkLogWritable(opts.log);
  const torch = checkEngine(opts, (key) => givenOnCommandLine(cmd, key)); // --engine pytorch: refused or found before anything is written
  // Before any work: the folder must take files, and no other run may be writing this name.
  const lock = lockCheckpoint(config.checkpointDir, config.name, (message) => log.warn(message));
  try {
    await trainLocked(corpusArg, opts, cmd, config, log, torch);
  } finally {
    lock.release();
  }
}

async function trainLocked(corpusArg: string, opts: TrainOptions, cmd: Command, initial: TrainConfig, log: Log, torch: PytorchEnvironment | null): Promise<void> {
  let config = initial;
  const paths = checkpointPaths(config.checkpointDir, config.name);

  if (opts.resume && opts.initFrom !== undefined) {
    throw new UsageError("--init-from starts a new run from a checkpoint's weights and --resume continues a run: give one of them");
  }
  if (opts.resume && opts.overwrite) {
    throw new UsageError('--resume continues the run saved under this name and --overwrite replaces it: give one of them');
  }
  let resumed: LoadedCheckpoint | null = null;
  if (opts.resume) {
    // Checked here: loadCheckpoint's own ENOENT message is about a path, not about a run to resume.
    if (!fs.existsSync(paths.latest)) {
      throw new UsageError(`--resume: no checkpoint ${paths.latest}; train without --resume first (or pass the run's --name)`);
    }
    resumed = loadCheckpoint(paths.latest);
    if (!hasTrainingState(resumed)) throw new UsageError(`--resume: ${paths.latest} holds weights only, no optimizer state`);
    const saved = resumed.meta.train;
    // Architecture and data order come from the checkpoint; a flag that disagrees is a usage error.
    refuseDiffering(cmd, opts, FIXED_ON_RESUME, {
      ...architectureOf(resumed.meta.model), init: saved.init ?? DEFAULTS.init,
      seqLen: saved.seqLen, batch: saved.batchSize, valFraction: saved.valFraction, seed: saved.seed,
    }, (flag, value, savedValue) => `${flag} ${value} conflicts with the checkpoint being resumed (${savedValue}); drop the flag or start a new --name`);
    const given = (key: string): boolean => givenOnCommandLine(cmd, key);
    // A --time given on resume is more training from now: the run's budget becomes what it has
    // spent plus that, and the schedule spreads over the new whole. Without it, the run
    // continues the rest of its saved budget (and its saved iteration cap).
    const timeBudgetMs = opts.time !== undefined ? resumed.meta.progress.elapsedMs + opts.time : saved.timeBudgetMs;
    config = {
      ...config,
      model: { ...resumed.meta.model },
      // Runs saved before the schedule existed trained at a constant rate.
      lrSchedule: given('lrSchedule') ? config.lrSchedule : saved.lrSchedule ?? 'constant',
      warmupIters: given('warmup') ? config.warmupIters : saved.warmupIters ?? 0,
      minLr: given('minLr') ? config.minLr : saved.minLr ?? config.minLr,
      dropout: given('dropout') ? config.dropout : saved.dropout ?? 0,
      // Runs saved before --average-tail existed did not average.
      averageTail: given('averageTail') ? config.averageTail : saved.averageTail ?? 0,
      // Runs saved before --weight-decay existed trained without it.
      weightDecay: given('weightDecay') ? config.weightDecay : saved.weightDecay ?? 0,
      init: saved.init ?? DEFAULTS.init,
      timeBudgetMs,
      maxIters: given('maxIters') ? config.maxIters : opts.time !== undefined ? 0 : saved.maxIters,
      seqLen: saved.seqLen,
      batchSize: saved.batchSize,
      valFraction: saved.valFraction,
      seed: saved.seed,
      learningRate: given('lr') ? config.learningRate : saved.learningRate,
      clipNorm: given('clipNorm') ? config.clipNorm : saved.clipNorm,
      clipValue: given('clipValue') ? config.clipValue : saved.clipValue,
      // The run's validation cadence carries on too: a resumed run that fell back to the default
      // would evaluate (and cost) at another rate than the one it was planned with.
      evalEvery: given('evalEvery') ? config.evalEvery : saved.evalEvery ?? config.evalEvery,
      ...(saved.initFrom ? { initFrom: saved.initFrom } : {}),
      // A run that kept snapshots goes on keeping them (they are what `rnn average` will want).
      snapshots: config.snapshots || saved.snapshots === true,
    };
  }
  let started: LoadedCheckpoint | null = null; // --init-from's checkpoint
  if (opts.initFrom !== undefined) {
    if (givenOnCommandLine(cmd, 'init')) {
      throw new UsageError(`--init chooses fresh recurrent weights, and --init-from brings them from ${opts.initFrom}: drop one of them`);
    }
    const file = resolveCheckpoint(opts.initFrom, config.checkpointDir);
    if ([paths.latest, paths.best].some((own) => path.resolve(own) === path.resolve(file))) {
      throw new UsageError(`--init-from ${opts.initFrom} is ${file}, which this run (--name ${config.name}) would overwrite; give the new run another --name`);
    }
    started = loadCheckpoint(file, { weightsOnly: true });
    config = startFrom(config, started, cmd, opts);
  }
  // Before the corpus is read (or fetched): a fresh run must not land on a saved one unasked.
  let replaced = opts.resume ? [] : savedRun(paths, config.name, opts.overwrite);

  const read = await readCorpus(corpusArg, opts.corporaDir, log);
  // Over the model's own vocabulary: --init-from's (grown by what the text adds), and a resumed
  // run's, which is not the text's sorted one when that run began with --init-from.
  const modelVocab = resumed?.meta.vocab ?? started?.meta.vocab;
  const encoded = modelVocab ? reencodeCorpus(read, modelVocab) : read;
  const source = encoded.source;
  if (started) describeStart(started, encoded, config, log);
  const corpus = splitCorpus(encoded, config.valFraction, config.seqLen + 1);
  const corpusPrint = fingerprint(encoded);
  if (!resumed && !started) config = withRecipe(config, cmd, corpus.train.length, corpus.val.length, log);
  if (resumed && resumed.meta.corpus.sha256 !== corpusPrint.sha256) {
    throw new UsageError(`--resume: ${paths.latest} was trained on another text (${describeFingerprint(resumed.meta.corpus)}), ` +
      `not this one (${describeFingerprint(corpusPrint)}); resume with the same corpus, or start a new --name`);
  }
  const vocab: Vocab = corpus.vocab;

  const fitted = Batcher.fitBatchSize(corpus.train.length, config.batchSize, config.seqLen);
  if (fitted < config.batchSize) {
    if (resumed) throw new Error(`cannot resume: the corpus no longer fits --batch ${config.batchSize}`);
    log.warn(`${source} gives ${corpus.train.length} training characters: too few for ${config.batchSize} streams of ${config.seqLen + 1}; using --batch ${fitted}`);
    config.batchSize = fitted;
  }
  const frozen = validateConfig(config);
  if (torch) {
    return runPytorch({ environment: torch, opts, config: frozen, corpus, corpusPrint, resumed, started, paths, replaced, info: (line) => log.info(line),
      resumeHint: `resume with: rnn train ${corpusArg} --resume --engine pytorch${opts.name ? ` --name ${opts.name}` : ''}`, out: (text) => process.stdout.write(text) });
  }

  // The estimate needs only the config; refusing before the backend starts costs nothing.
  const wanted = { vocabSize: vocab.size, ...frozen.model };
  const likelyBackend = frozen.backend === 'auto' ? 'wasm' : frozen.backend;
  checkTrainingFits(wanted, frozen.batchSize, frozen.seqLen, likelyBackend);
  const backend = await createBackend(frozen.backend, { threads: frozen.threads, gpuMode: opts.gpuMode, preferGpu: true });
  if (backend.name !== likelyBackend) {
    try {
      checkTrainingFits(wanted, frozen.batchSize, frozen.seqLen, backend.name);
    } catch (err) {
      backend.destroy();
      throw err;
    }
  }
  let interrupted = false;
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) {
      process.stderr.write('\nrnn: interrupted again; exiting without waiting for the save\n');
      process.exit(130);
    }
    interrupted = true;
    process.stderr.write('\nrnn: interrupt: saving a resumable checkpoint (Ctrl-C again to quit at once)\n');
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    const modelConfig = { vocabSize: vocab.size, ...frozen.model };
    const model = new Model(backend, modelConfig);
    const optimizer = new Adam(backend, model.params, frozen.learningRate, { weightDecay: frozen.weightDecay });
    const rng = new Rng(frozen.seed);
    let progress: TrainProgress;
    if (resumed) {
      restoreModel(resumed, model);
      progress = { ...resumed.meta.progress, history: [...resumed.meta.progress.history] };
    } else {
      model.initialize(rng, frozen.init); // with --init-from, what its checkpoint lacks keeps this
      if (started) await restoreModelGrowingVocab(started, model);
      progress = { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] };
    }
    const trainer = new Trainer(model, optimizer, frozen, corpus.train, corpus.val, progress);
    if (resumed) restoreTrainingState(resumed, model, optimizer, trainer.workspace, trainer.average);

    const verb = resumed ? `resuming ${paths.latest} at iteration ${progress.iteration}`
      : started ? `training from ${started.path} (iteration ${started.meta.progress.iteration})` : 'training';
    const regularised = [frozen.dropout > 0 ? `dropout ${frozen.dropout}` : '', zoneoutSummary(frozen.model),
      frozen.weightDecay > 0 ? `weight decay ${frozen.weightDecay}` : '']
      .filter(Boolean).join(', ');
    log.info(`rnn: ${verb}: ${frozen.model.layers}x${frozen.model.hiddenSize} ${cellSpec(frozen.model.cell).title}` +
      `${regularised ? ` (${regularised})` : ''}, ` +
      `${model.parameterCount.toLocaleString('en-US')} parameters, vocabulary ${vocab.size}, ` +
      `${corpus.train.length.toLocaleString('en-US')} train / ${corpus.val.length.toLocaleString('en-US')} val chars`);
    log.info(`rnn: backend ${backend.name} (${backend.description}); B=${frozen.batchSize} T=${frozen.seqLen}; ` +
      `lr ${describeSchedule(frozen)}${describeAverage(frozen)}`);
    if (!trainer.evaluator) log.warn('the validation split is empty (--val-fraction or a tiny corpus): no validation loss, no best checkpoint');

    const reporter = new ProgressReporter(log, frozen, progress.iteration);
    const save = async (p: TrainProgress, best: boolean): Promise<void> => {
      const meta: CheckpointMeta = {
        model: modelConfig, train: { ...frozen }, vocab, progress: p, corpus: corpusPrint,
        adamStep: optimizer.step, createdAt: new Date().toISOString(),
      };
      await saveCheckpoint(paths.latest, meta, model, optimizer, trainer.workspace, trainer.average);
      // --overwrite: the replaced run's latest checkpoint is this run's now; its other files go
      // (not before: a first save that fails, say on a full disk, leaves the old run whole).
      if (replaced.length > 0) {
        for (const file of replaced) fs.rmSync(file, { force: true });
        log.info(`rnn: --overwrite: removed the replaced run's best checkpoint and snapshots (${replaced.length} files)`);
        replaced = [];
      }
      if (best) await saveCheckpoint(paths.best, meta, model, optimizer, trainer.workspace, trainer.average);
      // Weights only (a third of a training checkpoint): a snapshot is for averaging, not resuming,
      // so it holds the raw weights the optimizer visited, not the tail's running mean of them.
      // (Validation measured the mean then, so a snapshot of an averaged tail has no figure of its own.)
      if (frozen.snapshots) {
        const own = p.averaged ? { ...p, averaged: 0, lastValLoss: null } : p;
        await saveCheckpoint(snapshotPath(paths.snapshots, p.iteration), { ...meta, progress: own }, model, null, null);
      }
    };
    const feedback = trainingFeedback(opts, log, reporter, model, vocab, frozen, trainer.average);
    const reason = await trainer.run({
      onStep: async (info) => {
        reporter.step(info);
        await feedback.step(info);
      },
      onEval: (info) => {
        reporter.evaluated(info);
        feedback.evaluated(info);
      },
      save,
      stopRequested: () => interrupted,
      patience: opts.patience,
    });
    reporter.finish(progress, reason, paths.latest, opts.patience);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({
        checkpoint: paths.latest, best: progress.bestValLoss === null ? null : paths.best,
        iterations: progress.iteration, epochs: progress.epoch, stop: reason, patience: opts.patience,
        trainLoss: progress.lastTrainLoss, valLoss: progress.lastValLoss, bestValLoss: progress.bestValLoss,
        elapsedMs: progress.elapsedMs, backend: backend.name, config: frozen,
      })}\n`);
    }
    trainer.dispose();
    if (reason === 'interrupted') throw new InterruptedError(`interrupted; resume with: rnn train ${corpusArg} --resume${opts.name ? ` --name ${opts.name}` : ''}`);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
    backend.destroy();
  }
}

/**
 * A new run under a name that holds one already would replace its checkpoints at the first save
 * and mix its snapshots with the old run's: refused unless --overwrite, which returns the old
 * run's files that this run's saves would not replace (its best checkpoint, its snapshots).
 */
function savedRun(paths: ReturnType<typeof checkpointPaths>, name: string, overwrite: boolean): string[] {
  const snapshots = fs.existsSync(paths.snapshots)
    ? fs.readdirSync(paths.snapshots).filter((f) => /^iter-\d+/.test(f) && f.endsWith(EXTENSION)).map((f) => path.join(paths.snapshots, f))
    : [];
  const held = [paths.latest, paths.best].filter((f) => fs.existsSync(f));
  if (held.length === 0 && snapshots.length === 0) return [];
  if (!overwrite) {
    let what = `${snapshots.length} snapshots in ${paths.snapshots}`;
    if (held.length > 0) {
      try {
        const meta = readCheckpointMeta(held[0]);
        what = `${held[0]} (iteration ${meta.progress.iteration.toLocaleString('en-US')}, saved ${meta.createdAt.slice(0, 16).replace('T', ' ')} UTC)`;
      } catch {
        what = held[0];
      }
    }
    throw new UsageError(`a run is saved under --name ${name} already: ${what}; continue it with --resume, ` +
      'start another with --name, or replace it with --overwrite');
  }
  return [...(fs.existsSync(paths.best) ? [paths.best] : []), ...snapshots];
}

/** A checkpoint's architecture as the values of the flags that set it, keyed as TrainOptions. */
function architectureOf(model: ModelConfig): Partial<Record<keyof TrainOptions, number | string>> {
  return {
    cell: model.cell, zoneout: model.zoneout, zoneoutCell: cellZoneout(model), layers: model.layers, hidden: model.hiddenSize, embedding: model.embeddingSize,
  };
}

/** Refuses each flag of `fixed` given on the command line with another value than the checkpoint's. */
function refuseDiffering(
  cmd: Command, opts: TrainOptions, fixed: Array<[keyof TrainOptions, string]>, saved: Partial<Record<keyof TrainOptions, number | string>>,
  message: (flag: string, value: unknown, savedValue: unknown) => string,
): void {
  for (const [key, flag] of fixed) {
    if (givenOnCommandLine(cmd, key) && opts[key] !== saved[key]) throw new UsageError(message(flag, opts[key], saved[key]));
  }
}

/**
 * --init-from: the architecture comes from the checkpoint (a flag that disagrees is a usage
 * error, as on --resume), and so do dropout and weight decay unless given, so the regularisation
 * it was trained under carries on unless changed; the schedule, optimizer and data order start anew.
 */
function startFrom(config: TrainConfig, started: LoadedCheckpoint, cmd: Command, opts: TrainOptions): TrainConfig {
  const { model, train, progress } = started.meta;
  refuseDiffering(cmd, opts, FIXED_BY_INIT, architectureOf(model), (flag, value, savedValue) =>
    `${flag} ${value} conflicts with --init-from ${opts.initFrom} (${savedValue}); drop the flag, or train from scratch without --init-from`);
  const { vocabSize: _vocabSize, ...architecture } = model;
  const given = (key: string): boolean => givenOnCommandLine(cmd, key);
  const initFrom: InitSource = {
    checkpoint: started.path, sha256: createHash('sha256').update(fs.readFileSync(started.path)).digest('hex'), iteration: progress.iteration,
  };
  return {
    ...config,
    model: architecture,
    dropout: given('dropout') ? config.dropout : train.dropout ?? 0,
    weightDecay: given('weightDecay') ? config.weightDecay : train.weightDecay ?? 0,
    init: train.init ?? DEFAULTS.init,
    initFrom,
  };
}

/**
 * --init-from on stderr: characters the corpus adds to the checkpoint's vocabulary, and a warning
 * when this run's validation split holds text the checkpoint was trained on (the same text with a
 * larger --val-fraction reaches back into its training split), since validation loss would flatter it.
 */
function describeStart(started: LoadedCheckpoint, encoded: EncodedCorpus, config: TrainConfig, log: Log): void {
  const known = started.meta.vocab.size;
  const added = encoded.vocab.chars.slice(known);
  if (added.length > 0) {
    const shown = added.slice(0, 20).map((ch) => JSON.stringify(ch)).join(' ');
    log.info(`rnn: ${encoded.source} adds ${added.length} character${added.length === 1 ? '' : 's'} to the ${known} of ${started.path} ` +
      `(${shown}${added.length > 20 ? ' …' : ''}); each starts with a fresh embedding, as rare as the rarest known character`);
  }
  const { corpus, train } = started.meta;
  if (corpus.sha256 === encoded.sha256 && config.valFraction > train.valFraction) {
    log.warn(`${started.path} was trained on this text with --val-fraction ${train.valFraction}; ` +
      `at ${config.valFraction} part of this run's validation split was its training text, so validation loss will read low`);
  }
}

/**
 * `rnn train FILE --time D`: the size rule (src/engine/recipe.ts) fills in what the user left out
 * of --cell, --hidden and --dropout (and --init, for the cell it trains), and says so. Only for a run bounded by time alone, on the CPU
 * backend its rates were measured on; flags the user gives always win.
 */
function withRecipe(config: TrainConfig, cmd: Command, trainChars: number, valChars: number, log: Log): TrainConfig {
  const given = (key: string): boolean => givenOnCommandLine(cmd, key);
  if (config.timeBudgetMs <= 0 || config.maxIters > 0) return config;
  if (config.backend !== 'auto' && config.backend !== 'wasm') return config;
  if (given('cell') && given('hidden') && given('dropout')) return config;
  const recipe = chooseRecipe({
    trainChars, valChars, budgetMs: config.timeBudgetMs, cell: given('cell') || config.init === 'identity' ? config.model.cell : undefined,
    evalEvery: config.evalEvery, batchSize: config.batchSize, seqLen: config.seqLen,
    threads: config.threads > 0 ? config.threads : os.availableParallelism(),
    layers: config.model.layers,
    hiddenSize: given('hidden') ? config.model.hiddenSize : undefined,
    dropout: given('dropout') ? config.dropout : undefined,
  });
  const init = given('init') ? config.init : RECIPE_INIT[recipe.cell] ?? config.init;
  const chosen = { ...config, init, model: { ...config.model, cell: recipe.cell, hiddenSize: recipe.hiddenSize }, dropout: recipe.dropout };
  const schedule = chosen.lrSchedule === 'cosine' ? 'cosine to the end of the budget' : `${chosen.lrSchedule} rate`;
  log.info(`rnn: ${formatMinutes(config.timeBudgetMs)} on ${trainChars.toLocaleString('en-US')} training characters: ` +
    `${recipe.layers}x${recipe.hiddenSize} ${cellSpec(recipe.cell).title}, ` +
    `${recipe.dropout > 0 ? `dropout ${recipe.dropout}` : 'no dropout'}, ${init === 'pytorch' && !given('init') ? "PyTorch's init, " : ''}${schedule} ` +
    `(about ${recipe.passes.toFixed(1)} passes at ~${Math.round(recipe.charsPerSecond).toLocaleString('en-US')} chars/s; ` +
    '--cell, --hidden, --dropout and --init override)');
  return chosen;
}

/** The schedule in words, for stderr: e.g. `0.002, cosine to 0.0002 by the end of 15m`. */
function describeSchedule(config: Readonly<TrainConfig>): string {
  const warm = config.warmupIters > 0 ? `, ${config.warmupIters} warm-up iterations` : '';
  if (config.lrSchedule === 'constant') return `${config.learningRate} constant${warm}`;
  const bounds = [config.maxIters > 0 ? `${config.maxIters} iterations` : '', config.timeBudgetMs > 0 ? formatMinutes(config.timeBudgetMs) : '']
    .filter(Boolean).join(' or ');
  const shape = config.lrSchedule === 'cosine' ? `cosine to ${config.minLr}` : `step (×0.5 at 50%, ×0.25 at 75%, floor ${config.minLr})`;
  return `${config.learningRate}, ${shape} by the end of ${bounds}${warm}`;
}

/** The tail averaging in words, for stderr: e.g. `; weights averaged over the last 30% of the run`. */
function describeAverage(config: Readonly<TrainConfig>): string {
  return config.averageTail > 0 ? `; weights averaged over the last ${Math.round(config.averageTail * 100)}% of the run` : '';
}

function formatMinutes(ms: number): string {
  return ms % 60000 === 0 ? `${ms / 60000}m` : `${(ms / 1000).toFixed(0)}s`;
}

/**
 * --sample-every (a seeded sample on stderr, so one sees the text improve) and --log (one JSON
 * line per evaluation, appended and flushed as written: a crash loses at most the line in hand).
 */
/** --log must take appended lines: checked before anything is written, the checkpoint folder included. */
function checkLogWritable(file: string): void {
  try {
    fs.appendFileSync(file, '');
  } catch (err) {
    throw new UsageError(`--log ${file}: cannot append to it (${(err as NodeJS.ErrnoException).code ?? String(err)}); check that its folder exists`);
  }
}

function trainingFeedback(
  opts: TrainOptions, log: Log, reporter: ProgressReporter, model: Model, vocab: Vocab, config: Readonly<TrainConfig>,
  average: WeightAverage | null,
): { step(info: StepInfo): Promise<void>; evaluated(info: EvalInfo): void } {
  // Default: at each evaluation where a person watches (a terminal), never into a log file.
  const every = opts.sampleEvery ?? (log.fancy && !log.quiet ? config.evalEvery : 0);
  let last: StepInfo | null = null;
  return {
    async step(info: StepInfo): Promise<void> {
      last = info;
      if (every === 0 || info.iteration % every !== 0) return;
      // Its own one-row workspace and Rng: the training state and data order are untouched.
      // It samples what the checkpoint holds: the tail's mean once it has a point.
      const draw = async (): Promise<string> => {
        const sampler = new Sampler(model, vocab, new Rng(config.seed));
        let text = '';
        try {
          for (let i = 0; i < opts.sampleLength; i++) text += await sampler.next({ temperature: 0.8, topK: 0, topP: 1 });
        } finally {
          sampler.dispose();
        }
        return text;
      };
      const points = average?.count ?? 0;
      const text = average ? await average.withMean(draw) : await draw();
      const of = points > 0 ? `, weights: the tail's mean of ${points} point${points === 1 ? '' : 's'}` : '';
      reporter.print(`rnn: sample at iteration ${info.iteration} (seed ${config.seed}, temperature 0.8${of}):\n${text}\n${'-'.repeat(40)}`);
    },
    evaluated(info: EvalInfo): void {
      if (opts.log === undefined) return;
      const line = {
        // When the pass finished, so a curve's time axis counts the validation it plots.
        iteration: info.iteration, epoch: last?.epoch ?? null, elapsedMs: info.elapsedMs,
        trainLoss: info.trainLoss, valLoss: info.valLoss, best: info.improved, lr: last?.learningRate ?? config.learningRate,
        charsPerSecond: last ? Math.round(last.charsPerSecond) : null,
      };
      fs.appendFileSync(opts.log, `${JSON.stringify(line)}\n`);
    },
  };
}
