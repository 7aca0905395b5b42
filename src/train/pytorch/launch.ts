// `rnn train --engine pytorch`: checks Python, PyTorch and torchrun, then hands the prepared run to
// ddp_train.py under `torchrun --nproc_per_node N` and reads back what it did.
//
// The run is prepared here exactly as for our engine (corpus, vocabulary, split, config, the
// starting weights: fresh ones drawn by our own initialiser, an --init-from's, or the checkpoint a
// --resume continues), written to a temporary folder as a plan (JSON) and token-id files, and the
// PyTorch trainer does the rest, saving our checkpoints itself (rank 0). Nothing here prints:
// messages go through `info`, failures are thrown (UsageError: exit 2).

import { ChildProcess, spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULTS, TrainConfig } from '../../config';
import { InterruptedError, UsageError } from '../../errors';
import { Corpus } from '../../data/corpus';
import { TrainProgress } from '../../engine/trainer';
import { describeEndChoice } from '../../engine/tail-average';
import { Model } from '../../engine/model';
import { Rng } from '../../engine/rng';
import { createBackend } from '../../kernels';
import { CheckpointMeta, LoadedCheckpoint, restoreModelGrowingVocab, saveCheckpoint } from '../../checkpoint/checkpoint';

export type EngineName = 'rnn' | 'pytorch';
export const ENGINE_NAMES: readonly EngineName[] = ['rnn', 'pytorch'];

/** What to install where something is missing (Debian's package brings torch, torch.distributed and torchrun). */
const INSTALL = 'install it with: apt-get install python3-torch (Debian/Ubuntu), or pip install torch';
/** The cells PyTorch has a module for. */
const TORCH_CELLS = ['lstm', 'gru', 'rnn-tanh', 'rnn-relu'];

/** The flags of `rnn train` this module reads. */
export interface EngineOptions {
  engine: EngineName;
  nproc: number;
  nnodes: number;
  nodeRank?: number;
  rdzvEndpoint?: string;
  cell: string;
  zoneout: number;
  zoneoutCell?: number;
  threads: number;
  sampleEvery?: number;
  quiet: boolean;
  json: boolean;
  log?: string;
  patience: number;
}

/** Python with PyTorch and torchrun, as found on this machine. */
export interface PytorchEnvironment {
  python: string;
  torchrun: string;
  torchVersion: string;
  /** GPUs that NCCL can use (0: gloo on the CPU). */
  cudaDevices: number;
  /** torchrun cannot parse its own defaults (torch 1.13 on Python 3.11): run it through torchrun.py. */
  mendTorchrun: boolean;
}

/**
 * The engine flags, checked before anything is written: flags of the PyTorch engine without it,
 * flags it cannot honour with it, and (with it) Python, torch, torch.distributed and torchrun.
 * Returns the environment to launch in, or null for our own engine.
 */
export function checkEngine(opts: EngineOptions, given: (key: string) => boolean): PytorchEnvironment | null {
  const launcherFlags: Array<[keyof EngineOptions, string]> = [['nproc', '--nproc'], ['nnodes', '--nnodes'], ['nodeRank', '--node-rank'], ['rdzvEndpoint', '--rdzv-endpoint']];
  if (opts.engine !== 'pytorch') {
    const stray = launcherFlags.find(([key]) => given(key));
    if (stray) throw new UsageError(`${stray[1]} is a flag of --engine pytorch; add --engine pytorch or drop it`);
    return null;
  }
  refuseUnsupported(opts.cell, opts.zoneout, opts.zoneoutCell);
  const ours: Array<[string, string, string]> = [
    ['backend', '--backend', "picks the kernels of --engine rnn; --engine pytorch runs PyTorch's (CUDA with NCCL where there is a GPU, else the CPU with gloo)"],
    ['gpuMode', '--gpu-mode', 'is a gpu.js option of --engine rnn; --engine pytorch uses CUDA through PyTorch where there is a GPU'],
  ];
  for (const [key, flag, why] of ours) if (given(key)) throw new UsageError(`${flag} ${why}: drop it`);
  if ((opts.sampleEvery ?? 0) > 0) {
    throw new UsageError('--sample-every is not available with --engine pytorch: sample its checkpoint with `rnn sample`, or train with --engine rnn');
  }
  if (opts.nnodes > 1 && (opts.rdzvEndpoint === undefined || opts.nodeRank === undefined)) {
    throw new UsageError(`--nnodes ${opts.nnodes} needs --node-rank (this machine's number, 0 to ${opts.nnodes - 1}) and --rdzv-endpoint HOST:PORT (node 0's address), the same on every node`);
  }
  if (opts.nodeRank !== undefined && opts.nodeRank >= opts.nnodes) {
    throw new UsageError(`--node-rank ${opts.nodeRank} must be below --nnodes ${opts.nnodes}`);
  }
  if (opts.rdzvEndpoint !== undefined && !/^[\w.-]+:\d{1,5}$/.test(opts.rdzvEndpoint)) {
    throw new UsageError(`--rdzv-endpoint ${opts.rdzvEndpoint} must be HOST:PORT, e.g. node0.cluster:29500`);
  }
  return findPytorch();
}

/** The peephole cell and zoneout have no PyTorch module: refused, for a new run's flags and a resumed run's checkpoint alike. */
function refuseUnsupported(cell: string, zoneout: number, zoneoutCell: number | undefined, from = ''): void {
  if (!TORCH_CELLS.includes(cell)) {
    throw new UsageError(`--engine pytorch trains ${TORCH_CELLS.join(', ')}; ${from}--cell ${cell} has no PyTorch module (nn.LSTM has no peepholes): use --engine rnn`);
  }
  if (zoneout > 0 || (zoneoutCell ?? 0) > 0) {
    throw new UsageError(`--engine pytorch has no zoneout (PyTorch's nn.LSTM/nn.GRU/nn.RNN lack it); ${from}--zoneout is set: use --engine rnn`);
  }
}

/**
 * The interpreter: $RNN_PYTHON, else /usr/bin/python3 (the system's, where Debian's python3-torch
 * lives; a pyenv shim first on PATH would find another Python without torch), else python3 on PATH.
 */
function findPython(): string {
  const chosen = process.env.RNN_PYTHON;
  if (chosen) {
    if (!isExecutable(chosen)) throw new UsageError(`--engine pytorch: RNN_PYTHON=${chosen} is not an executable file; point it at a Python 3 with torch, or unset it; ${INSTALL}`);
    return chosen;
  }
  if (isExecutable('/usr/bin/python3')) return '/usr/bin/python3';
  const found = onPath('python3');
  if (!found) throw new UsageError(`--engine pytorch needs Python 3 with PyTorch, and there is no python3 (none at /usr/bin/python3 or on PATH); ${INSTALL}`);
  return found;
}

const PROBE = [
  'import json', 'r = {"torch": None}',
  'try:',
  '    import torch', '    r["torch"] = torch.__version__',
  '    import torch.distributed as d', '    r["distributed"] = bool(d.is_available())',
  '    r["cuda"] = torch.cuda.device_count() if torch.cuda.is_available() and d.is_nccl_available() else 0',
  '    from torch.distributed.elastic.multiprocessing.api import Std',
  '    r["mend"] = Std.from_str("0") is None',
  'except Exception as e:', '    r["error"] = type(e).__name__ + ": " + str(e)',
  'print(json.dumps(r))',
].join('\n');

function findPytorch(): PytorchEnvironment {
  const python = findPython();
  const probe = spawnSync(python, ['-c', PROBE], { encoding: 'utf8', timeout: 120000 });
  let found: { torch: string | null; distributed?: boolean; cuda?: number; mend?: boolean; error?: string } | null = null;
  try {
    found = JSON.parse(probe.stdout.trim().split('\n').pop() ?? '');
  } catch {
    found = null;
  }
  if (!found) {
    const why = probe.error ? probe.error.message : (probe.stderr.trim().split('\n').pop() ?? `exit ${probe.status}`);
    throw new UsageError(`--engine pytorch: ${python} could not be run to look for torch (${why}); ${INSTALL}`);
  }
  if (found.torch === null) {
    throw new UsageError(`--engine pytorch needs PyTorch, and ${python} cannot import torch (${found.error ?? 'not installed'}); ${INSTALL}`);
  }
  if (!found.distributed) {
    throw new UsageError(`--engine pytorch needs torch.distributed, and the torch ${found.torch} of ${python} was built without it; ${INSTALL}`);
  }
  const beside = path.join(path.dirname(python), 'torchrun');
  const torchrun = isExecutable(beside) ? beside : onPath('torchrun');
  if (!torchrun) {
    throw new UsageError(`--engine pytorch needs torchrun, and there is none beside ${python} or on PATH (torch ${found.torch} is there); ${INSTALL}`);
  }
  return { python, torchrun, torchVersion: found.torch, cudaDevices: found.cuda ?? 0, mendTorchrun: found.mend === true };
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir && isExecutable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** The trainer's file: beside this module in src/ (walking up to the package root from dist/ or src/). */
export function trainerScript(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return path.join(dir, 'src', 'train', 'pytorch', 'ddp_train.py');
}

/** A run `rnn train` has prepared, handed to the PyTorch engine. */
export interface PytorchRun {
  environment: PytorchEnvironment;
  opts: EngineOptions;
  config: Readonly<TrainConfig>;
  corpus: Corpus;
  corpusPrint: CheckpointMeta['corpus'];
  /** The checkpoint --resume continues, or null. */
  resumed: LoadedCheckpoint | null;
  /** --init-from's checkpoint, or null. */
  started: LoadedCheckpoint | null;
  paths: { latest: string; best: string; snapshots: string };
  /** A replaced run's files (--overwrite), removed by rank 0 once this run's first save is written. */
  replaced: string[];
  /** What `rnn train ... --resume` says on an interrupt. */
  resumeHint: string;
  /** Progress and the summary, for stderr. */
  info(line: string): void;
  /** The product (--json's summary), for stdout. */
  out(text: string): void;
}

/** What ddp_train.py leaves in its result file. */
interface TrainerResult {
  error?: string;
  reason?: string;
  progress?: TrainProgress;
  backend?: string;
  charsPerSecond?: number;
  world?: number;
}

/** Trains with PyTorch DDP under torchrun; resolves when the run has ended and its checkpoints are saved. */
export async function runPytorch(run: PytorchRun): Promise<void> {
  const { config, opts, environment, corpus, resumed } = run;
  const model = { vocabSize: corpus.vocab.size, ...config.model };
  refuseUnsupported(model.cell, model.zoneout, model.zoneoutCell, resumed ? `the checkpoint's ` : '');
  const world = opts.nproc * opts.nnodes;
  if (config.batchSize < world) {
    throw new UsageError(`--batch ${config.batchSize} gives fewer streams than the ${world} processes of --engine pytorch; give --batch ${world} or more, or fewer processes`);
  }
  if (environment.cudaDevices > 0 && opts.nproc > environment.cudaDevices) {
    throw new UsageError(`--nproc ${opts.nproc} is more processes than this machine's ${environment.cudaDevices} GPU${environment.cudaDevices === 1 ? '' : 's'} (one each, with NCCL); give --nproc ${environment.cudaDevices} or fewer`);
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-pytorch-'));
  try {
    const plan = await writePlan(run, work, model);
    const planFile = path.join(work, 'plan.json');
    fs.writeFileSync(planFile, JSON.stringify(plan));
    const device = environment.cudaDevices > 0 ? `CUDA (${environment.cudaDevices} GPU${environment.cudaDevices === 1 ? '' : 's'}, nccl)` : 'the CPU (gloo)';
    run.info(`rnn: --engine pytorch: torch ${environment.torchVersion} on ${device}, ${opts.nproc} process${opts.nproc === 1 ? '' : 'es'}` +
      `${opts.nnodes > 1 ? ` on each of ${opts.nnodes} nodes` : ''}; ${resumed ? `resuming ${resumed.path} at iteration ${resumed.meta.progress.iteration}` : 'training'}: ` +
      `${model.layers}x${model.hiddenSize} ${model.cell}, vocabulary ${model.vocabSize}, B=${config.batchSize} (${Math.floor(config.batchSize / world)}` +
      `${config.batchSize % world ? `-${Math.ceil(config.batchSize / world)}` : ''} streams a process) T=${config.seqLen}`);
    const code = await torchrun(run, planFile);
    const resultFile = path.join(work, 'result.json');
    if (!fs.existsSync(resultFile)) {
      throw new Error(`torchrun ended (${code}) before the PyTorch trainer finished; its messages are above`);
    }
    const result = JSON.parse(fs.readFileSync(resultFile, 'utf8')) as TrainerResult;
    if (result.error) throw new Error(result.error);
    finish(run, result);
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

/** The plan file's contents: config, vocabulary, token ids on disk, where to start and where to save. */
async function writePlan(run: PytorchRun, work: string, model: CheckpointMeta['model']): Promise<Record<string, unknown>> {
  const { config, corpus, resumed, started, opts } = run;
  const tokens = (name: string, ids: Corpus['train']): { path: string; dtype: string } => {
    const file = path.join(work, `${name}.ids`);
    fs.writeFileSync(file, new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
    return { path: file, dtype: ids instanceof Uint16Array ? 'uint16' : 'int32' };
  };
  const progress: TrainProgress = resumed
    ? { ...resumed.meta.progress, history: [...resumed.meta.progress.history] }
    : { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] };
  let start = resumed?.path;
  if (!start) {
    // Fresh weights come from our own initialiser (the same seed gives the same model as --engine
    // rnn), and --init-from's grow its vocabulary as ours does; the reference backend suffices.
    start = path.join(work, 'start.safetensors');
    const backend = await createBackend('reference', { threads: 1, gpuMode: 'auto', preferGpu: false });
    try {
      const fresh = new Model(backend, model);
      fresh.initialize(new Rng(config.seed), config.init);
      if (started) await restoreModelGrowingVocab(started, fresh);
      const meta: CheckpointMeta = {
        model, train: { ...config }, vocab: corpus.vocab, progress, corpus: run.corpusPrint, adamStep: 0, createdAt: new Date().toISOString(),
      };
      await saveCheckpoint(start, meta, fresh, null, null);
    } finally {
      backend.destroy();
    }
  }
  return {
    train: config, model, vocab: corpus.vocab.serialize(), corpus: run.corpusPrint, start, resume: resumed !== null,
    progress, adamStep: resumed?.meta.adamStep ?? 0, paths: run.paths, result: path.join(work, 'result.json'),
    trainTokens: tokens('train', corpus.train), valTokens: tokens('val', corpus.val),
    quiet: opts.quiet, patience: opts.patience, log: opts.log ?? null, replaced: run.replaced,
    beta1: DEFAULTS.beta1, beta2: DEFAULTS.beta2, eps: DEFAULTS.eps, torchThreads: 1,
  };
}

/**
 * Runs torchrun in its own process group, so that Ctrl-C reaches it once, from here: it passes
 * SIGTERM to the ranks, which stop at the next step and save. A second Ctrl-C ends them at once.
 */
function torchrun(run: PytorchRun, planFile: string): Promise<number | string> {
  const { opts, environment } = run;
  const rendezvous = opts.nnodes > 1
    ? ['--nnodes', String(opts.nnodes), '--node_rank', String(opts.nodeRank), '--rdzv_backend', 'static', '--rdzv_endpoint', opts.rdzvEndpoint!]
    // One machine: c10d on a free loopback port, so two runs side by side never meet.
    : ['--nnodes', '1', '--rdzv_backend', 'c10d', '--rdzv_endpoint', 'localhost:0'];
  // --monitor_interval: torchrun looks at its ranks every 5 s unless told; a run's end waited up to that.
  // --log_dir: torchrun otherwise leaves a torchelastic_* folder in the system's temporary folder
  // after every run; in the run's own work folder it goes with the rest.
  const args = ['--nproc_per_node', String(opts.nproc), '--max_restarts', '0', '--monitor_interval', '0.5',
    '--log_dir', path.join(path.dirname(planFile), 'torchrun'), ...rendezvous, trainerScript(), planFile];
  // Threads: torch's own 1 per process (measured best here); BLAS gets --threads, else the cores shared out.
  const blasThreads = opts.threads > 0 ? opts.threads : Math.max(1, Math.floor(os.availableParallelism() / opts.nproc));
  const env: NodeJS.ProcessEnv = {
    ...process.env, OMP_NUM_THREADS: '1', OPENBLAS_NUM_THREADS: String(blasThreads), PYTHONUNBUFFERED: '1',
    // gloo on one machine talks over loopback; across machines the interface is the user's to set.
    ...(opts.nnodes === 1 && !process.env.GLOO_SOCKET_IFNAME ? { GLOO_SOCKET_IFNAME: 'lo' } : {}),
  };
  return new Promise((resolve, reject) => {
    // stdout is the product's (--json): whatever torchrun or a rank prints goes to stderr.
    const [command, ...prefix] = environment.mendTorchrun ? [environment.python, path.join(path.dirname(trainerScript()), 'torchrun.py')] : [environment.torchrun];
    const child: ChildProcess = spawn(command, [...prefix, ...args], { stdio: ['ignore', 2, 2], env, detached: true });
    let signals = 0;
    const onSignal = (): void => {
      signals += 1;
      try {
        if (signals === 1) {
          run.info('\nrnn: interrupt: the PyTorch ranks stop at the next step and save (Ctrl-C again to quit at once)');
          // The ranks alone: torchrun, told nothing, sees them end well, without its own shutdown's traceback.
          const ranks = childrenOf(child.pid!);
          if (ranks.length > 0) for (const pid of ranks) process.kill(pid, 'SIGTERM');
          else process.kill(-child.pid!, 'SIGTERM');
        } else {
          process.kill(-child.pid!, 'SIGKILL');
        }
      } catch {
        // Already gone.
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const done = (): void => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
    child.on('error', (err) => {
      done();
      reject(new Error(`cannot start ${environment.torchrun}: ${err.message}`));
    });
    child.on('exit', (code, signal) => {
      done();
      if (signals > 1) reject(new InterruptedError('interrupted again; the ranks were stopped without saving'));
      else resolve(code ?? String(signal));
    });
  });
}

/** The processes whose parent is `pid` (Linux's /proc; elsewhere none, and the whole group is signalled). */
function childrenOf(pid: number): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      // stat: "pid (comm) state ppid ...": the command may hold spaces, so read after its last ')'.
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) found.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

/** The end of a run: a summary on stderr, --json on stdout, an interrupt's exit. */
function finish(run: PytorchRun, result: TrainerResult): void {
  const { config, opts, paths } = run;
  const progress = result.progress!;
  const loss = (x: number | null | undefined): string => (x === null || x === undefined ? 'n/a' : x.toFixed(4));
  run.info(`rnn: ${result.reason} after ${progress.iteration} iterations (${progress.epoch} epochs): train loss ${loss(progress.lastTrainLoss)}, ` +
    `val loss ${loss(progress.lastValLoss)}, ${Math.round(result.charsPerSecond ?? 0).toLocaleString('en-US')} chars/s; saved ${paths.latest}`);
  if (progress.endChoice) run.info(describeEndChoice(progress.endChoice));
  if (opts.json) {
    run.out(`${JSON.stringify({
      checkpoint: paths.latest, best: progress.bestValLoss === null ? null : paths.best,
      iterations: progress.iteration, epochs: progress.epoch, stop: result.reason, patience: opts.patience,
      trainLoss: progress.lastTrainLoss, valLoss: progress.lastValLoss, bestValLoss: progress.bestValLoss,
      endChoice: progress.endChoice ?? null, elapsedMs: progress.elapsedMs, backend: result.backend, engine: 'pytorch', processes: result.world, config,
    })}\n`);
  }
  if (result.reason === 'interrupted') throw new InterruptedError(`interrupted; ${run.resumeHint}`);
}
