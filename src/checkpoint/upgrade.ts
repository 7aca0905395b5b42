// Checkpoints of every earlier format read as today's: what a field meant before it existed, in one place.
//
// The formats, by the commit that added fields (all say format_version 1):
//   513ab9e  the first: an LSTM; train_config without a schedule, dropout, init or weight decay
//   90fc06f  model_config.cell and .zoneout; train_config.lrSchedule, warmupIters, minLr, dropout, init
//   4267419  train_config.weightDecay
//   5239b4a  model_config.zoneoutCell (absent: c takes zoneout's p)
//   7ba5ade  train_config.initFrom (optional)
//   318e581  train_config.snapshots (optional)
//   d70cafa  train_config.averageTail
//   674c72a  train_config.valSplit (absent: the tail was held out)
//   b49fbfc  train_config.weightDrop (optional, written only above 0; absent: no weight drop)
// Each reader here fills in what the format lacked with what those runs did, and refuses a value
// that no format could hold (the file is damaged), so nothing downstream trusts a cast.

import {
  DEFAULTS, InitSource, LR_SCHEDULES, LrSchedule, ModelConfig, RECURRENT_INITS, RecurrentInit, TrainConfig,
} from '../config';
import { CELL_NAMES, CellName, isCellName } from '../cells';
import { VAL_SPLITS, ValSplit } from '../data/split';
import { CheckpointError } from './safetensors';

/** model_config as any format wrote it: validated and completed. */
export function upgradeModelConfig(file: string, model: Partial<ModelConfig>): ModelConfig {
  for (const key of ['vocabSize', 'embeddingSize', 'hiddenSize', 'layers'] as const) {
    const value = model[key];
    if (!Number.isInteger(value) || (value as number) < 1) throw new CheckpointError(`${file}: model_config.${key} is invalid`);
  }
  // Checkpoints from before the cell family are LSTMs without zoneout.
  const cell = model.cell ?? 'lstm';
  if (!isCellName(cell)) {
    throw new CheckpointError(`${file}: model_config.cell '${cell}' is not a cell this rnn knows (${CELL_NAMES.join(', ')})`);
  }
  const probability = (key: 'zoneout' | 'zoneoutCell', p: unknown): void => {
    if (!(typeof p === 'number' && p >= 0 && p < 1)) throw new CheckpointError(`${file}: model_config.${key} is invalid`);
  };
  const zoneout = model.zoneout ?? 0;
  probability('zoneout', zoneout);
  // Checkpoints from before --zoneout-cell zoned c out with zoneout's p, as one without it still does.
  const zoneoutCell = model.zoneoutCell;
  if (zoneoutCell !== undefined) probability('zoneoutCell', zoneoutCell);
  return {
    vocabSize: model.vocabSize!, embeddingSize: model.embeddingSize!, hiddenSize: model.hiddenSize!, layers: model.layers!,
    cell: cell as CellName, zoneout, ...(zoneoutCell === undefined ? {} : { zoneoutCell }),
  };
}

/**
 * A saved run's training fields as a resumed or fine-tuned run reads them. minLr and evalEvery
 * stay optional: a format without them has no value of its own, and the new run's flags fill in.
 */
export type SavedTrainConfig = Omit<TrainConfig, 'minLr' | 'evalEvery' | 'snapshots' | 'valSplit' | 'weightDrop'> & {
  minLr?: number;
  evalEvery?: number;
  snapshots: boolean;
  valSplit: ValSplit;
  weightDrop: number;
};

/** The fields every format wrote, with the least each may hold. */
const NUMBERS_SINCE_FIRST: Array<[keyof TrainConfig, 'count' | 'whole' | 'number']> = [
  ['seqLen', 'count'], ['batchSize', 'count'], ['learningRate', 'number'], ['clipNorm', 'number'], ['clipValue', 'number'],
  ['valFraction', 'number'], ['maxIters', 'whole'], ['timeBudgetMs', 'number'], ['seed', 'whole'],
];

/** Fields added later: absent in the formats before them, and then worth what those runs did. */
const NUMBERS_ADDED: Array<[keyof TrainConfig, 'whole' | 'number']> = [
  ['warmupIters', 'whole'], ['minLr', 'number'], ['dropout', 'number'], ['weightDecay', 'number'],
  ['averageTail', 'number'], ['evalEvery', 'whole'], ['weightDrop', 'number'],
];

function checkNumber(file: string, key: string, value: unknown, kind: 'count' | 'whole' | 'number'): void {
  const least = kind === 'count' ? 1 : 0;
  const sound = typeof value === 'number' && Number.isFinite(value) && value >= least && (kind === 'number' || Number.isInteger(value));
  if (!sound) throw new CheckpointError(`${file}: train_config.${key} is invalid (${JSON.stringify(value)}); the file is damaged`);
}

function checkChoice<T extends string>(file: string, key: string, value: unknown, choices: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (!choices.includes(value as T)) {
    throw new CheckpointError(`${file}: train_config.${key} '${String(value)}' is not one of ${choices.join(', ')}; the file is damaged`);
  }
  return value as T;
}

function checkInitSource(file: string, value: unknown): InitSource | undefined {
  if (value === undefined) return undefined;
  const source = value as InitSource;
  const sound = typeof value === 'object' && value !== null && typeof source.checkpoint === 'string' &&
    typeof source.sha256 === 'string' && Number.isSafeInteger(source.iteration);
  if (!sound) throw new CheckpointError(`${file}: train_config.initFrom is not a checkpoint, a sha256 and an iteration; the file is damaged`);
  return { checkpoint: source.checkpoint, sha256: source.sha256, iteration: source.iteration };
}

/**
 * train_config as any format wrote it, checked as it is read (every checkpoint): each field a run
 * trains on is of its type where present, and those every format wrote are present. Returned as
 * written (`rnn info` shows it so); upgradeTrainConfig fills in what a format lacked.
 */
export function checkTrainConfig(file: string, train: Partial<TrainConfig>): TrainConfig {
  for (const [key, kind] of NUMBERS_SINCE_FIRST) checkNumber(file, key, train[key], kind);
  for (const [key, kind] of NUMBERS_ADDED) if (train[key] !== undefined) checkNumber(file, key, train[key], kind);
  // A probability: a mask scaled by 1/(1 − p) needs p below 1.
  if (train.weightDrop !== undefined && !(train.weightDrop < 1)) {
    throw new CheckpointError(`${file}: train_config.weightDrop is invalid (${JSON.stringify(train.weightDrop)}); the file is damaged`);
  }
  checkChoice<LrSchedule>(file, 'lrSchedule', train.lrSchedule, LR_SCHEDULES);
  checkChoice<RecurrentInit>(file, 'init', train.init, RECURRENT_INITS);
  checkChoice<ValSplit>(file, 'valSplit', train.valSplit, VAL_SPLITS);
  checkInitSource(file, train.initFrom);
  return train as TrainConfig;
}

/** train_config as any format wrote it: validated, and what a format lacked filled in. */
export function upgradeTrainConfig(file: string, written: Partial<TrainConfig>): SavedTrainConfig {
  const train = checkTrainConfig(file, written);
  const initFrom = checkInitSource(file, train.initFrom);
  return {
    ...train,
    // Runs saved before the schedule existed trained at a constant rate, without warm-up or dropout.
    lrSchedule: written.lrSchedule ?? 'constant',
    warmupIters: train.warmupIters ?? 0,
    dropout: train.dropout ?? 0,
    // Runs saved before --weight-decay existed trained without it.
    weightDecay: train.weightDecay ?? 0,
    // Runs saved before --init existed initialised the recurrent weights as the default does.
    init: written.init ?? DEFAULTS.init,
    // Runs saved before --average-tail existed did not average.
    averageTail: train.averageTail ?? 0,
    // Runs saved before --val-split existed held out the tail.
    valSplit: train.valSplit ?? 'tail',
    // Runs saved without train_config.weightDrop (before it existed, or with it off) dropped no weights.
    weightDrop: train.weightDrop ?? 0,
    // Runs saved before --snapshots existed kept none.
    snapshots: train.snapshots === true,
    ...(initFrom === undefined ? {} : { initFrom }),
  };
}
