// `rnn train <corpus>`: the flags, and what a run says; the plan (src/train/plan.ts) decides, the runner (src/train/run.ts) trains.

import { Command, Option } from 'commander';
import { DEFAULTS, LIMITS, LR_SCHEDULES, RECURRENT_INITS, weightDropOf } from '../config';
import { CELLS, CELL_NAMES } from '../cells';
import { InterruptedError } from '../errors';
import { reencodeCorpus, splitCorpus } from '../data/corpus';
import { MAX_BLOCK_CHARS, UnseenShare, VAL_SPLITS, unseenShare } from '../data/split';
import { KNOWN_CORPORA } from '../data/registry';
import { GPU_MODES, GpuMode } from '../kernels';
import { AVERAGE_STRIDE } from '../engine/tail-average';
import { checkpointPaths } from '../checkpoint/checkpoint';
import { GivenFlags, TrainFlags, TrainPlan, checkpointPlan, corpusPlan, flagsPlan, ratesWanted } from '../train/plan';
import { StartingPoints, carryOut, loadStartingPoints, replacedRun, withRunLock } from '../train/run';
import { readCorpus } from './corpus-arg';
import { checkTrainingFits } from './memory';
import { Log, createLog } from './log';
import { backendOption, givenFlags, threadsOption } from './options';
import { intOption, numberOption, parseDuration } from './parse';
import { ProgressReporter } from './progress';
import { ENGINE_NAMES, EngineName, checkEngine, runPytorch } from '../train/pytorch/launch';
import { RunRates, describeRates, runRates } from './rates';
import { checkLogWritable, describeStart, jsonSummary, printDryRun, reportPlan, reportReady, trainingFeedback, warnUnseen } from './train-report';

/** The flags the plan reads, and those that only shape what is printed or where. */
interface TrainOptions extends TrainFlags {
  corporaDir: string;
  gpuMode: GpuMode;
  quiet: boolean;
  json: boolean;
  sampleEvery?: number;
  sampleLength: number;
  patience: number;
  log?: string;
  plan: boolean;
  engine: EngineName;
  nproc: number;
  nnodes: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
}

export function trainCommand(): Command {
  return new Command('train')
    .description('train a recurrent network (LSTM, GRU, vanilla RNN, …) on a text file (or - for stdin) and save checkpoints')
    .argument('<corpus>', `a UTF-8 text file, '-' to read standard input, or a known corpus name (${KNOWN_CORPORA.map((c) => c.name).join(', ')}; see \`rnn corpora\`), fetched into --corpora-dir when absent`)
    .addOption(new Option('--cell <cell>', `the recurrent cell: ${CELLS.map((c) => `${c.name} (${c.title})`).join(', ')}`)
      .choices(CELL_NAMES as string[]).default(DEFAULTS.cell))
    .option('--layers <n>', 'stacked recurrent layers', intOption(1, LIMITS.layers), DEFAULTS.layers)
    .option('--hidden <n>', 'hidden units per layer (with --time and no --max-iters, the size rule chooses unless given)', intOption(1, LIMITS.hiddenSize), DEFAULTS.hiddenSize)
    .option('--embedding <n>', 'character embedding size', intOption(1, LIMITS.embeddingSize), DEFAULTS.embeddingSize)
    .option('--seq-len <n>', 'characters per truncated-BPTT window', intOption(1, LIMITS.seqLen), DEFAULTS.seqLen)
    .option('--batch <n>', 'parallel streams over the text', intOption(1, LIMITS.batchSize), DEFAULTS.batchSize)
    .option('--lr <rate>', 'Adam learning rate (the peak, after any warm-up)', numberOption(0, 10, true), DEFAULTS.learningRate)
    .addOption(new Option('--lr-schedule <schedule>', 'the rate over the run: constant, cosine (to --min-lr at the end of --max-iters or --time), step (halved at 50% and 75%)')
      .choices(LR_SCHEDULES as string[]).default(DEFAULTS.lrSchedule))
    .option('--warmup <n>', 'linear learning-rate warm-up over the first n iterations (0: none)', intOption(0), DEFAULTS.warmupIters)
    .option('--min-lr <rate>', `the rate at the end of a cosine or step schedule (default: ${DEFAULTS.minLrFraction} × --lr)`, numberOption(0, 10))
    .option('--dropout <p>', 'dropout between layers and before the decoder, in training (0: off; with --time and no --max-iters, the size rule chooses unless given)', numberOption(0, 0.95), DEFAULTS.dropout)
    .option('--average-tail <f>', 'over the last fraction f of the run, keep a running mean of the weights (every ' +
      `${AVERAGE_STRIDE} steps); validation, checkpoints and sampling use it, and the run ends on it or on the raw weights, whichever validates lower (0: off)`, numberOption(0, 0.99), DEFAULTS.averageTail)
    .option('--weight-decay <x>', 'decoupled weight decay of the weight matrices, as torch.optim.AdamW (not biases; 0: off, plain Adam)', numberOption(0), DEFAULTS.weightDecay)
    .option('--weight-drop <p>', 'DropConnect on the recurrent weights (AWD-LSTM\'s WeightDrop): in training, each layer\'s ' +
      'hidden-to-hidden matrix keeps each weight with probability 1 − p (scaled by 1/(1 − p)), one mask per window; ' +
      'evaluation and sampling use the weights as they are (0: off; below 1)', numberOption(0), DEFAULTS.weightDrop)
    .option('--zoneout <p>', 'zoneout of the recurrent state: each unit keeps its previous value with probability p in training (0: off)', numberOption(0, 0.95), DEFAULTS.zoneout)
    .option('--zoneout-cell <p>', "the LSTMs' cell state c's own zoneout, h keeping --zoneout's (default: --zoneout's)", numberOption(0, 0.95))
    .addOption(new Option('--init <scheme>', 'recurrent weights: orthogonal, glorot, identity (IRNN; rnn-tanh/rnn-relu only), or pytorch (PyTorch\'s defaults: every recurrent and decoder weight and bias U(±1/√H); with --time and no --max-iters, the size rule gives its GRU this unless given)')
      .choices(RECURRENT_INITS as string[]).default(DEFAULTS.init))
    .option('--clip-norm <x>', 'clip gradients to this global norm (0: off)', numberOption(0), DEFAULTS.clipNorm)
    .option('--clip-value <x>', 'clip each gradient element to ±x (0: off)', numberOption(0), DEFAULTS.clipValue)
    .option('--val-fraction <f>', 'fraction of the text held out for validation (where: --val-split)', numberOption(0, 0.9), DEFAULTS.valFraction)
    .addOption(new Option('--val-split <split>', 'which characters are held out: tail (the last --val-fraction) or blocks ' +
      `(every k-th block of up to ${MAX_BLOCK_CHARS} characters, sampling the whole text)`).choices(VAL_SPLITS as string[]).default(DEFAULTS.valSplit))
    .option('--max-iters <n>', 'stop after n iterations (0: no limit, needs --time)', intOption(0), DEFAULTS.maxIters)
    .option('--time <duration>', 'stop after this long, e.g. 90s, 10m, 1h, the end\'s validation included (with no --max-iters given, time alone bounds the run)', parseDuration)
    .option('--eval-every <n>', 'measure validation loss every n iterations (a new run whose validation split would take over a tenth of it at 200 validates less often, and says so)', intOption(1), DEFAULTS.evalEvery)
    .option('--save-every <n>', 'save every n iterations (0: at every evaluation); always at the end', intOption(0), DEFAULTS.saveEvery)
    .option('--checkpoint-dir <dir>', 'where checkpoints go', DEFAULTS.checkpointDir)
    .option('--corpora-dir <dir>', 'where named corpora are found, and fetched to', DEFAULTS.corporaDir)
    .option('--name <name>', "checkpoint name (default: the corpus file's base name)")
    .option('--seed <n>', 'random seed (weights); runs are deterministic on a given backend', intOption(0, 0xffffffff), DEFAULTS.seed)
    .addOption(backendOption())
    .addOption(threadsOption())
    .addOption(new Option('--gpu-mode <mode>', 'gpu.js mode for --backend gpujs').choices(GPU_MODES as string[]).default('auto'))
    .option('--resume', 'continue the run saved under --name in --checkpoint-dir', false)
    .option('--overwrite', 'start afresh under --name where a run is saved already, replacing it (its checkpoints and snapshots); ' +
      'without it such a run is kept and this one refused', false)
    .option('--init-from <checkpoint>', "start a new run from a checkpoint's weights (a file, a run name in --checkpoint-dir, or 'bundled') " +
      'with a fresh optimizer and schedule: fine-tuning, or a warm restart. Its architecture is kept (and its dropout, ' +
      'weight decay and weight drop unless given); characters the corpus adds join its vocabulary')
    .option('-q, --quiet', 'no progress on stderr, only warnings and errors', false)
    .option('--json', 'print a JSON summary on stdout at the end', false)
    .option('--sample-every <n>', 'print a short sample on stderr every n iterations (0: never; default: at each evaluation on a terminal, never otherwise)', intOption(0))
    .option('--sample-length <n>', `characters in each --sample-every sample (seeded with --seed, temperature ${DEFAULTS.sampleEveryTemperature})`,
      intOption(1, LIMITS.seqLen), DEFAULTS.sampleLength)
    .option('--patience <n>', 'stop once validation loss has not improved for n evaluations in a row (0: never)', intOption(0), DEFAULTS.patience)
    .option('--snapshots', 'also keep the weights of every save in --checkpoint-dir/NAME.snapshots/iter-N.safetensors, for `rnn average` (kept on by --resume)', false)
    .option('--log <file>', 'append one JSON line per evaluation (iteration, epoch, elapsedMs, trainLoss, valLoss, lr, charsPerSecond)')
    .option('--plan', 'print the plan (model, regularisation, schedule, expected passes, measured rates, split) and exit without ' +
      'training or writing a checkpoint; on stdout as JSON with --json', false)
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
  $ rnn train tinyshakespeare --time 1h --patience 5 --log run.jsonl --sample-every 500
  $ rnn train my-notes.txt --time 15m --val-split blocks --plan   # what 15 minutes would train, without training`)
    .action(async (corpusArg: string, opts: TrainOptions, cmd: Command) => {
      await runTrain(corpusArg, opts, givenFlags(cmd));
    });
}

async function runTrain(corpusArg: string, opts: TrainOptions, given: GivenFlags): Promise<void> {
  const log = createLog(opts.quiet);
  // A bad combination of flags is refused before the lock is taken.
  const config = flagsPlan(corpusArg, opts, given);
  // --engine pytorch: refused, or its python, torch and torchrun found, before anything is written.
  const torch = checkEngine(opts, (key) => given.has(key));
  // A dry run writes nothing: no lock, no checkpoint folder, no log.
  if (opts.plan) {
    const { plan, prepared, rates, unseen } = await decide(corpusArg, opts, given, config, log);
    const likelyBackend = plan.config.backend === 'auto' ? 'wasm' : plan.config.backend;
    checkTrainingFits({ vocabSize: prepared.corpus.vocab.size, ...plan.config.model }, plan.config.batchSize, plan.config.seqLen,
      likelyBackend, undefined, plan.config.dropout, weightDropOf(plan.config));
    printDryRun(plan, { corpus: prepared.corpus, characters: prepared.fingerprint.characters, unseen, rates }, prepared.start.resumed !== undefined, opts.json);
    return;
  }
  if (opts.log !== undefined) checkLogWritable(opts.log);
  await withRunLock(config, (message) => log.warn(message), async () => {
    const { plan, prepared } = await decide(corpusArg, opts, given, config, log);
    if (!torch) return train(corpusArg, opts, plan, prepared, log);
    const { start, paths } = prepared;
    await runPytorch({
      environment: torch, opts, config: plan.config, corpus: prepared.corpus, corpusPrint: prepared.fingerprint,
      resumed: start.resumed?.checkpoint ?? null, started: start.initFrom?.checkpoint ?? null, paths, replaced: prepared.replaced,
      info: (line) => log.info(line), out: (text) => process.stdout.write(text),
      resumeHint: `resume with: rnn train ${corpusArg} --resume --engine pytorch${opts.name ? ` --name ${opts.name}` : ''}`,
    });
  });
}

/** The checkpoints and the text read, the rates measured where the size rule needs them, and the plan they make. */
async function decide(
  corpusArg: string, opts: TrainOptions, given: GivenFlags, config: TrainPlan['config'], log: Log,
): Promise<{ plan: TrainPlan; prepared: Prepared; rates: RunRates | null; unseen: UnseenShare }> {
  const start = loadStartingPoints(opts, config);
  const merged = checkpointPlan(config, opts, given, start);
  const paths = checkpointPaths(merged.checkpointDir, merged.name);
  // Before the corpus is read (or fetched): a fresh run must not land on a saved one unasked.
  const replaced = opts.resume || opts.plan ? [] : replacedRun(paths, merged.name, opts.overwrite);
  const read = await readCorpus(corpusArg, opts.corporaDir, log);
  // Over the model's own vocabulary: --init-from's (grown by what the text adds), and a resumed
  // run's, which is not the text's sorted one when that run began with --init-from.
  const modelVocab = start.resumed?.meta.vocab ?? start.initFrom?.meta.vocab;
  const encoded = modelVocab ? reencodeCorpus(read, modelVocab) : read;
  if (start.initFrom) describeStart(start.initFrom.checkpoint, encoded, merged, log);
  const valSplit = merged.valSplit ?? 'tail';
  const corpus = splitCorpus(encoded, merged.valFraction, merged.seqLen + 1, valSplit);
  const unseen = unseenShare(corpus.train, corpus.val, encoded.vocab.size);
  warnUnseen(unseen, encoded.vocab.chars, valSplit, log);
  const fingerprint = { source: encoded.source, sha256: encoded.sha256, characters: encoded.characters };
  // The size rule's rates: this machine's, measured (or read from the cache) for --time runs only.
  const wanted = ratesWanted(merged, given, encoded.vocab.size, { resumed: start.resumed !== undefined, dryRun: opts.plan });
  const rates = wanted ? await runRates(wanted.shape, wanted.hiddenSizes, merged.backend, merged.threads, opts.gpuMode) : null;
  if (rates) log.info(describeRates(rates));
  const facts = { fingerprint, trainChars: corpus.train.length, valChars: corpus.val.length };
  const plan = corpusPlan(merged, given, facts, rates?.rates ?? null, start.resumed);
  reportPlan(plan, encoded.source, corpus.train.length, log);
  return { plan, prepared: { corpus, start, paths, replaced, fingerprint }, rates, unseen };
}

/** What the runner needs beside the plan: the split text, the checkpoints loaded, where to save. */
interface Prepared {
  corpus: ReturnType<typeof splitCorpus>;
  start: StartingPoints;
  paths: ReturnType<typeof checkpointPaths>;
  replaced: string[];
  fingerprint: { source: string; sha256: string; characters: number };
}

async function train(corpusArg: string, opts: TrainOptions, plan: TrainPlan, prepared: Prepared, log: Log): Promise<void> {
  const { config } = plan;
  const { corpus, start, paths } = prepared;
  // The estimate needs only the config; refusing before the backend starts costs nothing.
  const wanted = { vocabSize: corpus.vocab.size, ...config.model };
  // Made once the run is built (the spinner starts then), and heard at every step after.
  const view: { reporter?: ProgressReporter; feedback?: ReturnType<typeof trainingFeedback> } = {};
  const where = {
    paths, corpus: prepared.fingerprint, replaced: prepared.replaced,
    onReplacedRemoved: (count: number) => log.info(`rnn: --overwrite: removed the replaced run's best checkpoint and snapshots (${count} files)`),
  };
  const { reason, run, backend } = await carryOut(config, corpus, start, where, opts.gpuMode, {
    fits: (backendName) => checkTrainingFits(wanted, config.batchSize, config.seqLen, backendName, undefined, config.dropout, weightDropOf(config)),
    onSignal: (count) => {
      if (count > 1) {
        process.stderr.write('\nrnn: interrupted again; exiting without waiting for the save\n');
        process.exit(130);
      }
      process.stderr.write('\nrnn: interrupt: saving a resumable checkpoint (Ctrl-C again to quit at once)\n');
    },
    ready: (built, be) => {
      const verb = start.resumed ? `resuming ${paths.latest} at iteration ${built.progress.iteration}`
        : start.initFrom ? `training from ${start.initFrom.path} (iteration ${start.initFrom.meta.progress.iteration})` : 'training';
      reportReady(built, be, corpus, verb, log);
      view.reporter = new ProgressReporter(log, config, built.progress.iteration);
      view.feedback = trainingFeedback(opts, log, view.reporter, built);
    },
    hooks: {
      onStep: async (info) => {
        view.reporter?.step(info);
        await view.feedback?.step(info);
      },
      onEval: (info) => {
        view.reporter?.evaluated(info);
        view.feedback?.evaluated(info);
      },
      patience: opts.patience,
    },
  });
  view.reporter?.finish(run.progress, reason, paths.latest, opts.patience);
  if (opts.json) process.stdout.write(jsonSummary(run, paths, reason, opts.patience, backend));
  if (reason === 'interrupted') throw new InterruptedError(`interrupted; resume with: rnn train ${corpusArg} --resume${opts.name ? ` --name ${opts.name}` : ''}`);
}
