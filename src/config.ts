// The typed configuration of a run: DEFAULTS live here once, and validateConfig() checks them once.

import { UsageError } from './errors';
import { CELL_NAMES, CellName, cellSpec, isCellName } from './cells';
import { BACKEND_NAMES, BackendName } from './kernels/backend';
import { VAL_SPLITS, ValSplit } from './data/split';

export { BACKEND_NAMES } from './kernels/backend';
export type { BackendName } from './kernels/backend';

/** The architecture; stored in every checkpoint and taken from it on resume. */
export interface ModelConfig {
  /** V: distinct code points in the corpus. */
  vocabSize: number;
  /** E */
  embeddingSize: number;
  /** H */
  hiddenSize: number;
  /** L */
  layers: number;
  /** The recurrent cell (src/cells.ts). */
  cell: CellName;
  /**
   * Zoneout probability of the recurrent state (0: off). Part of the model, not only of
   * training: evaluation and sampling use its expectation, h = p·h_{t-1} + (1-p)·h̃.
   */
  zoneout: number;
  /**
   * Zoneout of the LSTMs' cell state c where it differs from h's (`--zoneout-cell`; absent: c
   * takes `zoneout` too). Krueger et al.'s best character-level LSTM kept c far more (0.5) than h (0.05).
   */
  zoneoutCell?: number;
}

/** The zoneout probability of the LSTMs' cell state c. */
export function cellZoneout(model: Pick<ModelConfig, 'zoneout' | 'zoneoutCell'>): number {
  return model.zoneoutCell ?? model.zoneout;
}

/** Whether training zones any state out: h, or (the LSTMs) c. */
export function zonesOut(model: Pick<ModelConfig, 'cell' | 'zoneout' | 'zoneoutCell'>): boolean {
  return model.zoneout > 0 || (cellSpec(model.cell).carriesCell && cellZoneout(model) > 0);
}

/** The recurrent weights' DropConnect probability of a run (absent: 0, off). */
export function weightDropOf(config: Pick<TrainConfig, 'weightDrop'>): number {
  return config.weightDrop ?? 0;
}

/** "zoneout 0.1", or "zoneout h 0.05, c 0.5" where an LSTM's c has its own; '' for none. */
export function zoneoutSummary(model: Pick<ModelConfig, 'cell' | 'zoneout' | 'zoneoutCell'>): string {
  const h = model.zoneout, c = cellSpec(model.cell).carriesCell ? cellZoneout(model) : h;
  if (c === h) return h > 0 ? `zoneout ${h}` : '';
  return `zoneout h ${h}, c ${c}`;
}

export type LrSchedule = 'constant' | 'cosine' | 'step';
export const LR_SCHEDULES: readonly LrSchedule[] = ['constant', 'cosine', 'step'];
export type RecurrentInit = 'orthogonal' | 'glorot' | 'identity' | 'pytorch';
export const RECURRENT_INITS: readonly RecurrentInit[] = ['orthogonal', 'glorot', 'identity', 'pytorch'];

/** The checkpoint a run started from (`rnn train --init-from`), as its metadata records it. */
export interface InitSource {
  checkpoint: string;
  /** SHA-256 (hex) of the checkpoint file. */
  sha256: string;
  /** The iteration its weights were saved at. */
  iteration: number;
}

export interface TrainConfig {
  model: Omit<ModelConfig, 'vocabSize'>;
  /** T: characters per truncated-BPTT window. */
  seqLen: number;
  /** B: parallel contiguous streams over the training text. */
  batchSize: number;
  learningRate: number;
  /** How the learning rate moves over the run (src/engine/schedule.ts). */
  lrSchedule: LrSchedule;
  /** Linear warm-up from 0 over this many iterations. */
  warmupIters: number;
  /** Where cosine ends and step stops: the rate at the end of the run. */
  minLr: number;
  /** Dropout between layers and before the decoder (training only). */
  dropout: number;
  /** Decoupled weight decay λ of the weight matrices (AdamW); 0 turns it off. */
  weightDecay: number;
  /**
   * DropConnect on the recurrent weights (`--weight-drop`; AWD-LSTM's WeightDrop): in training,
   * each layer's W_hh is masked, once per window, keeping each weight with probability 1 − p and
   * scaling it by 1/(1 − p). Written only when above 0, so a run without it saves what it did
   * before it existed; absent: 0 (weightDropOf).
   */
  weightDrop?: number;
  /** The recurrent weights' initialisation. */
  init: RecurrentInit;
  /** Global-norm gradient clipping threshold; 0 turns it off. */
  clipNorm: number;
  /** Elementwise gradient clipping threshold; 0 turns it off. */
  clipValue: number;
  /** The fraction of the corpus held out for validation. */
  valFraction: number;
  /**
   * Which characters are held out (src/data/split.ts): the last valFraction ('tail'), or blocks
   * spread over the text ('blocks'). Absent in runs saved before it existed: 'tail'.
   */
  valSplit?: ValSplit;
  /** Stop after this many iterations (0: no limit; then --time must bound the run). */
  maxIters: number;
  /** Stop after this much wall-clock time (0: no limit). */
  timeBudgetMs: number;
  /** Evaluate on the validation split every this many iterations. */
  evalEvery: number;
  /** Save every this many iterations; 0 means at every evaluation (and always at the end). */
  saveEvery: number;
  seed: number;
  backend: BackendName;
  /** Worker threads for the wasm backend; 0 means one per available core. */
  threads: number;
  checkpointDir: string;
  /** Checkpoint name; '' means the corpus file's base name. */
  name: string;
  /** Set when the weights started from a checkpoint's rather than from --init. */
  initFrom?: InitSource;
  /** Keep every save's weights in NAME.snapshots/ (`--snapshots`), as a resumed run goes on doing. */
  snapshots?: boolean;
  /**
   * Tail weight averaging (`--average-tail`): the last fraction of the run keeps a running mean
   * of the weights, which validation, checkpoints and sampling use (src/engine/tail-average.ts); 0 is
   * off, as in runs saved before it existed.
   */
  averageTail: number;
}

export const DEFAULTS = {
  layers: 2,
  hiddenSize: 128,
  embeddingSize: 64,
  seqLen: 64,
  batchSize: 32,
  learningRate: 2e-3,
  cell: 'lstm' as CellName,
  lrSchedule: 'cosine' as LrSchedule,
  warmupIters: 0,
  /** --min-lr is this fraction of --lr unless given. */
  minLrFraction: 0.1,
  dropout: 0,
  /** The last 30% of a run: in a 15-minute run any tail from the last 10% to 35% gave the same mean (docs/averaging.md). */
  averageTail: 0.3,
  weightDecay: 0,
  weightDrop: 0,
  zoneout: 0,
  init: 'orthogonal' as RecurrentInit,
  clipNorm: 5,
  clipValue: 0,
  valFraction: 0.1,
  valSplit: 'tail' as ValSplit,
  maxIters: 2000,
  timeBudgetMs: 0,
  evalEvery: 200,
  saveEvery: 0,
  seed: 1337,
  backend: 'auto' as BackendName,
  threads: 0,
  /** The training engine: ours, or PyTorch's DDP under torchrun (src/train/pytorch/). */
  engine: 'rnn' as 'rnn' | 'pytorch',
  /** --engine pytorch: processes per machine (torchrun --nproc_per_node) and machines. */
  nproc: 1,
  nnodes: 1,
  checkpointDir: 'checkpoints',
  name: '',
  /** Where named corpora (`rnn train tinyshakespeare`) are looked for and fetched to. */
  corporaDir: 'corpora',
  // Sampling
  temperature: 0.8,
  length: 1000,
  topK: 0,
  topP: 1,
  // `rnn train`'s feedback: --sample-every's samples and --patience.
  /** Characters in each --sample-every sample. */
  sampleLength: 200,
  /** --sample-every's temperature (as --temp's default in `rnn sample`): safe enough to read, varied enough to show the model. */
  sampleEveryTemperature: 0.8,
  /** Evaluations without improvement before a run stops; 0: never. */
  patience: 0,
  // Dynamic evaluation (`rnn eval --dynamic`, `rnn sample --adapt`; src/engine/dynamic.ts):
  // chosen on the first half of tiny-shakespeare's validation split (docs/dynamic-evaluation.md).
  dynamicRule: 'rms' as 'sgd' | 'rms',
  /** The SGD rule's step. */
  dynamicLearningRate: 0.1,
  /** The RMS rule's step (a gradient divided by its RMS is ~10⁴ times larger). */
  dynamicRmsLearningRate: 2.5e-5,
  dynamicDecay: 0,
  dynamicSeqLen: 25,
  /** Training windows (--batch × --seq-len of the checkpoint) whose gradients give the RMS rule's statistics. */
  dynamicStatsWindows: 20,
  /** Passes of --adapt over the prime. */
  adaptPasses: 1,
  // Adam's β1, β2, ε as in torch.optim.Adam.
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
} as const;

/** Upper bounds that keep a typo from allocating the machine away. */
export const LIMITS = {
  hiddenSize: 8192,
  embeddingSize: 8192,
  layers: 16,
  seqLen: 100000,
  batchSize: 100000,
  /** Worker threads of the wasm backend. */
  threads: 256,
  /** `rnn sample --beam`: beams, each a row of the batch. */
  beamWidth: 256,
  /** `rnn sample --num`: samples drawn together, each a row of the batch. */
  samples: 4096,
};

export function defaultTrainConfig(): TrainConfig {
  return {
    model: {
      layers: DEFAULTS.layers, hiddenSize: DEFAULTS.hiddenSize, embeddingSize: DEFAULTS.embeddingSize,
      cell: DEFAULTS.cell, zoneout: DEFAULTS.zoneout,
    },
    seqLen: DEFAULTS.seqLen,
    batchSize: DEFAULTS.batchSize,
    learningRate: DEFAULTS.learningRate,
    lrSchedule: DEFAULTS.lrSchedule,
    warmupIters: DEFAULTS.warmupIters,
    minLr: DEFAULTS.learningRate * DEFAULTS.minLrFraction,
    dropout: DEFAULTS.dropout,
    averageTail: DEFAULTS.averageTail,
    weightDecay: DEFAULTS.weightDecay,
    init: DEFAULTS.init,
    clipNorm: DEFAULTS.clipNorm,
    clipValue: DEFAULTS.clipValue,
    valFraction: DEFAULTS.valFraction,
    maxIters: DEFAULTS.maxIters,
    timeBudgetMs: DEFAULTS.timeBudgetMs,
    evalEvery: DEFAULTS.evalEvery,
    saveEvery: DEFAULTS.saveEvery,
    seed: DEFAULTS.seed,
    backend: DEFAULTS.backend,
    threads: DEFAULTS.threads,
    checkpointDir: DEFAULTS.checkpointDir,
    name: DEFAULTS.name,
  };
}

function positiveInt(value: number, flag: string, max: number): void {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new UsageError(`${flag} must be a whole number from 1 to ${max}, got ${value}`);
  }
}

/** Checks the whole config once; the engine receives it frozen. */
export function validateConfig(config: TrainConfig): Readonly<TrainConfig> {
  positiveInt(config.model.layers, '--layers', LIMITS.layers);
  positiveInt(config.model.hiddenSize, '--hidden', LIMITS.hiddenSize);
  positiveInt(config.model.embeddingSize, '--embedding', LIMITS.embeddingSize);
  positiveInt(config.seqLen, '--seq-len', LIMITS.seqLen);
  positiveInt(config.batchSize, '--batch', LIMITS.batchSize);
  positiveInt(config.evalEvery, '--eval-every', Number.MAX_SAFE_INTEGER);
  if (!(config.learningRate > 0 && config.learningRate < 10)) {
    throw new UsageError(`--lr must be a number above 0 (and below 10), got ${config.learningRate}`);
  }
  if (!isCellName(config.model.cell)) {
    throw new UsageError(`--cell must be one of ${CELL_NAMES.join(', ')}, got '${config.model.cell}'`);
  }
  if (!LR_SCHEDULES.includes(config.lrSchedule)) {
    throw new UsageError(`--lr-schedule must be one of ${LR_SCHEDULES.join(', ')}, got '${config.lrSchedule}'`);
  }
  if (!(Number.isInteger(config.warmupIters) && config.warmupIters >= 0)) {
    throw new UsageError(`--warmup must be a whole number of iterations (0: none), got ${config.warmupIters}`);
  }
  if (!(config.minLr >= 0 && config.minLr <= config.learningRate)) {
    throw new UsageError(`--min-lr must be from 0 to --lr (${config.learningRate}), got ${config.minLr}`);
  }
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new UsageError(`--dropout must be at least 0 and below 1, got ${config.dropout}`);
  if (!(config.averageTail >= 0 && config.averageTail < 1)) {
    throw new UsageError(`--average-tail must be at least 0 (off) and below 1, got ${config.averageTail}`);
  }
  if (!(config.weightDecay >= 0)) throw new UsageError(`--weight-decay must be 0 (off) or positive, got ${config.weightDecay}`);
  if (config.weightDecay * config.learningRate >= 1) {
    throw new UsageError(`--weight-decay ${config.weightDecay} at --lr ${config.learningRate} would scale the weights by ` +
      `1 − lr × λ ≤ 0 each step; give a λ below ${1 / config.learningRate}`);
  }
  if (config.weightDrop !== undefined && !(config.weightDrop >= 0 && config.weightDrop < 1)) {
    throw new UsageError(`--weight-drop must be at least 0 (off) and below 1, got ${config.weightDrop}`);
  }
  if (!(config.model.zoneout >= 0 && config.model.zoneout < 1)) {
    throw new UsageError(`--zoneout must be at least 0 and below 1, got ${config.model.zoneout}`);
  }
  if (config.model.zoneoutCell !== undefined) {
    if (!(config.model.zoneoutCell >= 0 && config.model.zoneoutCell < 1)) {
      throw new UsageError(`--zoneout-cell must be at least 0 and below 1, got ${config.model.zoneoutCell}`);
    }
    if (!cellSpec(config.model.cell).carriesCell) {
      throw new UsageError(`--zoneout-cell is the zoneout of an LSTM's cell state c; --cell ${config.model.cell} has none: use --zoneout`);
    }
  }
  if (!RECURRENT_INITS.includes(config.init)) {
    throw new UsageError(`--init must be one of ${RECURRENT_INITS.join(', ')}, got '${config.init}'`);
  }
  if (config.init === 'identity' && !cellSpec(config.model.cell).allowsIdentityInit) {
    throw new UsageError(`--init identity is for the vanilla RNNs (--cell rnn-relu or rnn-tanh), not ${config.model.cell}`);
  }
  if (!(config.clipNorm >= 0)) throw new UsageError(`--clip-norm must be 0 (off) or positive, got ${config.clipNorm}`);
  if (!(config.clipValue >= 0)) throw new UsageError(`--clip-value must be 0 (off) or positive, got ${config.clipValue}`);
  if (!(config.valFraction >= 0 && config.valFraction < 1)) {
    throw new UsageError(`--val-fraction must be at least 0 and below 1, got ${config.valFraction}`);
  }
  if (config.valSplit !== undefined && !VAL_SPLITS.includes(config.valSplit)) {
    throw new UsageError(`--val-split must be one of ${VAL_SPLITS.join(', ')}, got '${config.valSplit}'`);
  }
  if (!(Number.isInteger(config.maxIters) && config.maxIters >= 0)) {
    throw new UsageError(`--max-iters must be a whole number (0 for no limit), got ${config.maxIters}`);
  }
  if (!(Number.isInteger(config.saveEvery) && config.saveEvery >= 0)) {
    throw new UsageError(`--save-every must be a whole number (0: at every evaluation), got ${config.saveEvery}`);
  }
  if (config.maxIters === 0 && config.timeBudgetMs === 0) {
    throw new UsageError('--max-iters 0 needs a --time limit, or training would never stop');
  }
  if (!Number.isInteger(config.seed) || config.seed < 0 || config.seed > 0xffffffff) {
    throw new UsageError(`--seed must be a whole number from 0 to 4294967295, got ${config.seed}`);
  }
  if (!BACKEND_NAMES.includes(config.backend)) {
    throw new UsageError(`--backend must be one of ${BACKEND_NAMES.join(', ')}, got '${config.backend}'`);
  }
  if (!Number.isInteger(config.threads) || config.threads < 0 || config.threads > LIMITS.threads) {
    throw new UsageError(`--threads must be a whole number from 0 (one per core) to ${LIMITS.threads}, got ${config.threads}`);
  }
  return Object.freeze({ ...config, model: Object.freeze({ ...config.model }) });
}
