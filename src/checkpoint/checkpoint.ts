// What a checkpoint holds (weights, optimizer moments, carried state, run metadata) and how to find one.
//
// One safetensors file per checkpoint. Parameter tensors carry PyTorch's state_dict names, so
//   model.load_state_dict(safetensors.torch.load_file(path), strict=False)
// loads them into embedding → nn.LSTM → nn.Linear (strict=False skips the optimizer.* and
// state.* tensors that resuming needs). Everything else lives in __metadata__ as strings.
// In a run's averaged tail (--average-tail) those named weights are the running mean, what
// validation measured; the raw weights training steps on are optimizer.iterate.* beside them.
// At the run's end, if the raw weights validate lower, they take the plain names and the mean
// moves to optimizer.mean.* (progress.endChoice says which).

import * as fs from 'fs';
import * as path from 'path';
import { ModelConfig, TrainConfig } from '../config';
import { UsageError } from '../errors';
import { Backend } from '../kernels/backend';
import { Model, Workspace } from '../engine/model';
import { TrainProgress } from '../engine/trainer';
import { Adam } from '../engine/optimizer';
import { WeightAverage } from '../engine/tail-average';
import { Vocab } from '../data/vocab';
import { CheckpointError, NamedTensor, encodeSafetensors, openSafetensorsFile } from './safetensors';
import { writeFileAtomic } from '../data/atomic';
import { checkTrainConfig, upgradeModelConfig } from './upgrade';

export const FORMAT = 'rnn-checkpoint';
export const FORMAT_VERSION = 1;
export const EXTENSION = '.safetensors';
/** The raw weights of an averaged run's training checkpoint, beside their mean (which takes the plain names). */
const ITERATE = 'optimizer.iterate.';
/** The tail's mean, when the run's end chose the raw weights for the plain names (progress.endChoice). */
const MEAN = 'optimizer.mean.';


export interface CorpusFingerprint {
  source: string;
  sha256: string;
  characters: number;
}

export interface CheckpointMeta {
  model: ModelConfig;
  /** As the run wrote it, its fields checked (checkTrainConfig); a run that trains on from it reads it upgraded (upgradeTrainConfig). */
  train: TrainConfig;
  vocab: Vocab;
  progress: TrainProgress;
  corpus: CorpusFingerprint;
  adamStep: number;
  createdAt: string;
  /** Set by `rnn average`: the checkpoints whose mean these weights are. */
  averagedFrom?: AveragedSource[];
}

/** One source of an averaged checkpoint, as its metadata lists it under `averaged_from`. */
export interface AveragedSource {
  checkpoint: string;
  iteration: number;
  /** The source's last validation loss, when it was measured. */
  valLoss: number | null;
}

export interface LoadedCheckpoint {
  path: string;
  meta: CheckpointMeta;
  tensors: Map<string, NamedTensor>;
}

/**
 * Reads every tensor back from the backend and writes one checkpoint file atomically. With an
 * `average` that holds a point, the weights written under the model's names are its mean and,
 * in a training checkpoint (with the optimizer), the raw weights go under optimizer.iterate.*.
 */
export async function saveCheckpoint(
  file: string, meta: CheckpointMeta, model: Model, optimizer: Adam | null, carried: Workspace | null,
  average: WeightAverage | null = null,
): Promise<void> {
  const be = model.backend;
  const tensors: NamedTensor[] = [];
  // Yields between tensors: a backend whose download resolves at once would otherwise hold the
  // event loop for the whole save, and a second Ctrl-C (quit now) would wait for it.
  const f32 = async (t: Parameters<Backend['download']>[0]): Promise<Float32Array> => {
    const data = Float32Array.from(await be.download(t));
    await new Promise((resolve) => setImmediate(resolve));
    return data;
  };
  const averaged = average !== null && average.count > 0;
  // The run's end may have found the raw weights validating lower than the mean: those then.
  const meanNamed = averaged && meta.progress.endChoice?.chose !== 'raw';
  for (let i = 0; i < model.params.length; i++) {
    const p = model.params[i];
    tensors.push({ name: p.name, shape: p.shape, data: meanNamed ? average.mean[i] : await f32(p.value) });
  }
  if (optimizer) {
    for (let i = 0; i < model.params.length; i++) {
      const p = model.params[i];
      if (averaged) tensors.push({ name: `${ITERATE}${p.name}`, shape: p.shape, data: await f32(p.value) });
      if (averaged && !meanNamed) tensors.push({ name: `${MEAN}${p.name}`, shape: p.shape, data: average.mean[i] });
      tensors.push({ name: `optimizer.exp_avg.${p.name}`, shape: p.shape, data: await f32(optimizer.moments[i].m) });
      tensors.push({ name: `optimizer.exp_avg_sq.${p.name}`, shape: p.shape, data: await f32(optimizer.moments[i].v) });
    }
  }
  if (carried) {
    const { h, c } = carried.stateTensors();
    for (let l = 0; l < h.length; l++) {
      tensors.push({ name: `state.h_l${l}`, shape: [h[l].rows, h[l].cols], data: await f32(h[l]) });
      if (c[l]) tensors.push({ name: `state.c_l${l}`, shape: [c[l].rows, c[l].cols], data: await f32(c[l]) });
    }
  }
  const metadata: Record<string, string> = {
    format: FORMAT,
    format_version: String(FORMAT_VERSION),
    model_config: JSON.stringify(meta.model),
    train_config: JSON.stringify(meta.train),
    vocab: meta.vocab.serialize(),
    step: String(meta.progress.iteration),
    best_val_loss: meta.progress.bestValLoss === null ? '' : String(meta.progress.bestValLoss),
    progress: JSON.stringify(meta.progress),
    corpus: JSON.stringify(meta.corpus),
    optimizer: JSON.stringify({ name: 'adam', step: meta.adamStep }),
    created_at: meta.createdAt,
  };
  const image = encodeSafetensors(tensors, metadata);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, image);
  } catch (err) {
    throw saveError(file, err);
  }
}

/** A failed save in one line, with what to do; writeFileAtomic has left the previous file as it was. */
function saveError(file: string, err: unknown): CheckpointError {
  const code = (err as NodeJS.ErrnoException).code;
  const kept = fs.existsSync(file) ? `; ${file} still holds the previous checkpoint` : '';
  const why: Record<string, string> = {
    ENOSPC: 'no space left on the device', EDQUOT: 'the disk quota is used up',
    EFBIG: 'the file is larger than this process may write (ulimit -f)', EROFS: 'the file system is read-only',
    EACCES: 'permission denied', EPERM: 'the folder or file may not be changed (immutable, or permissions)',
    EIO: 'an I/O error on the device',
  };
  const reason = (code && why[code]) ?? (err as Error).message;
  return new CheckpointError(`cannot save ${file}: ${reason}${code && why[code] ? ` (${code})` : ''}${kept}; free some space or give another --checkpoint-dir`);
}

function parseJson<T>(file: string, key: string, text: string | undefined): T {
  if (text === undefined) throw new CheckpointError(`${file} has no '${key}' in its metadata; it was not written by rnn`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CheckpointError(`${file}: metadata '${key}' is not valid JSON; the file is damaged`);
  }
  // Every structured entry is an object: `null` or `7` there would fail later as a TypeError.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CheckpointError(`${file}: metadata '${key}' is not a JSON object; the file is damaged`);
  }
  return value as T;
}

/** Which tensors loadCheckpoint reads: all, or the model's weights only (sampling, evaluation). */
export interface LoadOptions {
  /** Skip the optimizer moments and carried state (optimizer.*, state.*): two thirds of a training checkpoint. */
  weightsOnly?: boolean;
}

const isWeight = (name: string): boolean => !name.startsWith('optimizer.') && !name.startsWith('state.');

/**
 * Reads and validates a checkpoint file (format, config, vocabulary, tensor shapes). The whole
 * header is validated against the file size either way; weightsOnly only skips reading bytes.
 */
export function loadCheckpoint(file: string, opts: LoadOptions = {}): LoadedCheckpoint {
  const open = openSafetensorsFile(file);
  try {
    // Sorted by name, as written, so iteration order does not depend on the file's layout.
    const names = [...open.names()].sort();
    const meta = checkpointMeta(file, open.metadata);
    checkConfigFitsFile(file, meta.model, names.map((n) => open.shapeOf(n)));
    const tensors = new Map<string, NamedTensor>();
    for (const name of names) if (!opts.weightsOnly || isWeight(name)) tensors.set(name, open.read(name));
    return { path: file, meta, tensors };
  } finally {
    open.close();
  }
}

/** A checkpoint whose metadata is read and whose weights wait in the open file. */
export interface OpenCheckpoint {
  path: string;
  meta: CheckpointMeta;
  /**
   * Uploads the weights into a freshly built model, a block of rows at a time through one small
   * reused buffer: fresh memory is slow to touch (~3 ms/MB here), and a 2x512 model is 13 MB.
   */
  restoreModel(model: Model, blockValues?: number): void;
  close(): void;
}

/** Values per block in OpenCheckpoint.restoreModel: 256 KB, small enough to stay in cache. */
const RESTORE_BLOCK_VALUES = 1 << 16;

/** A checkpoint's metadata, validated with its header; no weight is read. */
export function readCheckpointMeta(file: string): CheckpointMeta {
  const open = openCheckpoint(file);
  open.close();
  return open.meta;
}

/** Opens a checkpoint for sampling: metadata validated now, weights read by restoreModel. */
export function openCheckpoint(file: string): OpenCheckpoint {
  const open = openSafetensorsFile(file);
  try {
    const meta = checkpointMeta(file, open.metadata);
    checkConfigFitsFile(file, meta.model, [...open.names()].map((n) => open.shapeOf(n)));
    return {
      path: file,
      meta,
      restoreModel(model: Model, blockValues = RESTORE_BLOCK_VALUES): void {
        const be = model.backend;
        const present = new Set(open.names());
        const widest = Math.max(0, ...model.params.map((p) => p.value.cols));
        const buffer = new Float32Array(Math.max(blockValues, widest)); // at least one row
        for (const p of model.params) {
          if (!present.has(p.name)) throw new CheckpointError(`${file} lacks tensor '${p.name}'`);
          checkShape(file, p.name, open.shapeOf(p.name), p.shape);
          const { rows, cols } = p.value;
          const rowsPerBlock = Math.max(1, Math.floor(buffer.length / cols));
          for (let row = 0; row < rows; row += rowsPerBlock) {
            const count = Math.min(rowsPerBlock, rows - row);
            const block = buffer.subarray(0, count * cols);
            open.readValues(p.name, row * cols, block);
            checkFinite(file, p.name, block, row * cols);
            be.upload(be.rowsOf(p.value, row, count), block); // a view shares p.value's memory
          }
        }
      },
      close: () => open.close(),
    };
  } catch (err) {
    open.close();
    throw err;
  }
}

function checkpointMeta(file: string, metadata: Record<string, string>): CheckpointMeta {
  if (metadata.format !== FORMAT) {
    throw new CheckpointError(`${file} is a safetensors file but not an rnn checkpoint (no format '${FORMAT}' in its metadata)`);
  }
  const version = Number(metadata.format_version);
  if (Number.isInteger(version) && version > FORMAT_VERSION) {
    throw new CheckpointError(`${file} has checkpoint format ${version}, newer than this rnn reads (${FORMAT_VERSION}); upgrade rnn to use it`);
  }
  if (version !== FORMAT_VERSION) {
    throw new CheckpointError(`${file} has checkpoint format ${JSON.stringify(metadata.format_version ?? null)}; this rnn reads format ${FORMAT_VERSION}; the file is damaged`);
  }
  // Every earlier format's model fields are read as today's in one place (upgrade.ts).
  const model = upgradeModelConfig(file, parseJson<Partial<ModelConfig>>(file, 'model_config', metadata.model_config));
  let vocab: Vocab;
  try {
    vocab = Vocab.deserialize(metadata.vocab ?? '');
  } catch (err) {
    throw new CheckpointError(`${file}: its vocabulary is unreadable (${(err as Error).message})`);
  }
  if (vocab.size !== model.vocabSize) throw new CheckpointError(`${file}: vocabulary has ${vocab.size} characters, model_config says ${model.vocabSize}`);
  const optimizer = parseJson<{ step: number }>(file, 'optimizer', metadata.optimizer);
  const progress = parseJson<TrainProgress>(file, 'progress', metadata.progress);
  if (typeof progress !== 'object' || progress === null || !Number.isSafeInteger(progress.iteration) || progress.iteration < 0 || !Array.isArray(progress.history)) {
    throw new CheckpointError(`${file}: metadata 'progress' is not an iteration and a history; the file is damaged`);
  }
  if (typeof optimizer !== 'object' || optimizer === null || !Number.isSafeInteger(optimizer.step) || optimizer.step < 0) {
    throw new CheckpointError(`${file}: metadata 'optimizer' has no step count; the file is damaged`);
  }
  return {
    model,
    train: checkTrainConfig(file, parseJson<Partial<TrainConfig>>(file, 'train_config', metadata.train_config)),
    vocab,
    progress,
    corpus: parseJson<CorpusFingerprint>(file, 'corpus', metadata.corpus),
    adamStep: optimizer.step,
    createdAt: metadata.created_at ?? '',
    ...(metadata.averaged_from === undefined ? {} : { averagedFrom: averagedSources(file, metadata.averaged_from) }),
  };
}

function averagedSources(file: string, text: string): AveragedSource[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = null;
  }
  const sound = (s: unknown): boolean => typeof s === 'object' && s !== null && Number.isSafeInteger((s as AveragedSource).iteration) &&
    typeof (s as AveragedSource).checkpoint === 'string';
  if (!Array.isArray(value) || value.length === 0 || !value.every(sound)) {
    throw new CheckpointError(`${file}: metadata 'averaged_from' is not a list of checkpoints and iterations; the file is damaged`);
  }
  return value as AveragedSource[];
}

/**
 * A config must describe a model the file can hold: a model is built from the config before its
 * weights are read, so `hiddenSize: 1e9` in an otherwise sound file must fail here, not in an
 * allocation. Whatever the cell, its recurrent weights hold at least H·H values, the embedding
 * V·E and the decoder H·V, and each layer at least one tensor.
 */
function checkConfigFitsFile(file: string, model: ModelConfig, shapes: number[][]): void {
  const values = shapes.reduce((sum, shape) => sum + shape.reduce((p, d) => p * d, 1), 0);
  const { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L } = model;
  if (V * E > values || H * H > values || H * V > values || L > shapes.length) {
    throw new CheckpointError(`${file}: model_config describes a ${L}x${H} model (embedding ${E}, vocabulary ${V}), ` +
      `larger than the ${values.toLocaleString('en-US')} values in its ${shapes.length} tensors; the metadata is damaged`);
  }
}

/**
 * "holds NaN at value i" (or Infinity, -Infinity) for the first value of data that is not finite,
 * numbered from first; null when all are. The one test of a weight's values, for every refusal.
 */
export function nonFinite(data: Float32Array, first = 0): string | null {
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x - x !== 0) return `holds ${Number.isNaN(x) ? 'NaN' : x > 0 ? 'Infinity' : '-Infinity'} at value ${first + i}`;
  }
  return null;
}

/** NaN or ±Infinity in a weight: refused, naming the tensor (a diverged run, or damage). */
function checkFinite(file: string, name: string, data: Float32Array, first = 0): void {
  const found = nonFinite(data, first);
  if (found !== null) {
    throw new CheckpointError(`${file}: tensor '${name}' ${found}; ` +
      'the training that wrote it diverged or the file is damaged: use another checkpoint (e.g. the .best one) or re-train');
  }
}

function tensorFor(ckpt: LoadedCheckpoint, name: string, shape: number[]): Float32Array {
  const t = ckpt.tensors.get(name);
  if (!t) throw new CheckpointError(`${ckpt.path} lacks tensor '${name}'`);
  return checkedData(ckpt.path, t, shape);
}

function checkedData(file: string, t: NamedTensor, shape: number[]): Float32Array {
  checkShape(file, t.name, t.shape, shape);
  checkFinite(file, t.name, t.data);
  return t.data;
}

function checkShape(file: string, name: string, actual: number[], expected: number[]): void {
  if (actual.length !== expected.length || actual.some((d, i) => d !== expected[i])) {
    throw new CheckpointError(`${file}: tensor '${name}' has shape [${actual}], expected [${expected}]`);
  }
}

/** Uploads the weights of a checkpoint into a freshly built model. */
export function restoreModel(ckpt: LoadedCheckpoint, model: Model): void {
  for (const p of model.params) model.backend.upload(p.value, tensorFor(ckpt, p.name, p.shape));
}

/**
 * Uploads a checkpoint's weights into a freshly initialised model whose vocabulary extends the
 * checkpoint's at its end (`rnn train --init-from`; see reencodeCorpus). The tensors indexed by
 * character (embedding [V, E], decoder [V, H] and [V]) take the checkpoint's rows for the
 * characters it knows, which come first. An added character keeps the model's fresh embedding
 * row, and starts in the decoder as likely as the rarest known one: a zero weight row and the
 * lowest known bias (fresh Glorot rows and a zero bias would give it a share near the common
 * characters', a loss the first steps would spend undoing). Every other tensor must match in
 * shape, as restoreModel requires.
 */
export async function restoreModelGrowingVocab(ckpt: LoadedCheckpoint, model: Model): Promise<void> {
  const known = ckpt.meta.model.vocabSize;
  const byCharacter = new Set([model.embedding, model.decoderWeight, model.decoderBias]);
  for (const p of model.params) {
    if (!byCharacter.has(p) || known === model.config.vocabSize) {
      model.backend.upload(p.value, tensorFor(ckpt, p.name, p.shape));
      continue;
    }
    const rows = tensorFor(ckpt, p.name, [known, ...p.shape.slice(1)]);
    const grown = p === model.embedding ? Float32Array.from(await model.backend.download(p.value)) : new Float32Array(p.value.size);
    if (p === model.decoderBias) grown.fill(rows.reduce((low, b) => Math.min(low, b), Infinity));
    grown.set(rows); // row-major: the first `known` rows
    model.backend.upload(p.value, grown);
  }
}

export function hasTrainingState(ckpt: LoadedCheckpoint): boolean {
  return ckpt.tensors.has('optimizer.exp_avg.embedding.weight');
}

/**
 * Uploads optimizer moments and the carried hidden state, for --resume, after restoreModel. In
 * an averaged tail the model's weights are the mean: the raw ones training continues from come
 * from optimizer.iterate.*, and the mean goes back into `average` (dropped when there is none),
 * from optimizer.mean.* where the run's end chose the raw weights.
 */
export function restoreTrainingState(
  ckpt: LoadedCheckpoint, model: Model, optimizer: Adam, carried: Workspace, average: WeightAverage | null = null,
): void {
  const be = model.backend;
  const averaged = ckpt.meta.progress.averaged ?? 0;
  if (averaged > 0) {
    if (!Number.isSafeInteger(averaged)) throw new CheckpointError(`${ckpt.path}: progress.averaged is not a count; the file is damaged`);
    const mean = ckpt.meta.progress.endChoice?.chose === 'raw' ? MEAN : '';
    average?.restore(model.params.map((p) => tensorFor(ckpt, `${mean}${p.name}`, p.shape)), averaged);
    for (const p of model.params) be.upload(p.value, tensorFor(ckpt, `${ITERATE}${p.name}`, p.shape));
  }
  model.params.forEach((p, i) => {
    be.upload(optimizer.moments[i].m, tensorFor(ckpt, `optimizer.exp_avg.${p.name}`, p.shape));
    be.upload(optimizer.moments[i].v, tensorFor(ckpt, `optimizer.exp_avg_sq.${p.name}`, p.shape));
  });
  optimizer.step = ckpt.meta.adamStep;
  const { h, c } = carried.stateTensors();
  for (let l = 0; l < h.length; l++) {
    be.upload(h[l], tensorFor(ckpt, `state.h_l${l}`, [h[l].rows, h[l].cols]));
    if (c[l]) be.upload(c[l], tensorFor(ckpt, `state.c_l${l}`, [c[l].rows, c[l].cols]));
  }
}

/** The file names of a run: the latest state, the best on validation kept apart, and the snapshots' folder. */
export function checkpointPaths(dir: string, name: string): { latest: string; best: string; snapshots: string } {
  return {
    latest: path.join(dir, `${name}${EXTENSION}`), best: path.join(dir, `${name}.best${EXTENSION}`),
    snapshots: path.join(dir, `${name}.snapshots`),
  };
}

/** A snapshot's file in that folder: zero-padded, so name order is iteration order. */
export function snapshotPath(snapshots: string, iteration: number): string {
  return path.join(snapshots, `iter-${String(iteration).padStart(7, '0')}${EXTENSION}`);
}

/** The name that always means the model shipped with rnn (`--checkpoint bundled`). */
export const BUNDLED = 'bundled';

/**
 * Where a checkpoint shipped with rnn lives: checkpoints/bundled/ in the package root (found
 * by walking up from this file, so it works from src/ and dist/, in a clone or an install).
 * RNN_BUNDLED_DIR replaces it (packagers, tests).
 */
export function bundledCheckpointDir(): string {
  if (process.env.RNN_BUNDLED_DIR) return process.env.RNN_BUNDLED_DIR;
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return path.join(__dirname, 'checkpoints', BUNDLED);
    dir = up;
  }
  return path.join(dir, 'checkpoints', BUNDLED);
}

/** The bundled checkpoint, or null. Chosen by name, not mtime (a clone's mtimes are arbitrary): a .best file first. */
export function bundledCheckpoint(): string | null {
  const found = listCheckpoints(bundledCheckpointDir()).map((c) => c.path);
  const rank = (p: string): number => (p.endsWith(`.best${EXTENSION}`) ? 0 : 1);
  found.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return found[0] ?? null;
}

const TRAIN_ONE = 'train one first, e.g. `rnn train tinyshakespeare --time 10m`';

/**
 * Resolves --checkpoint: an existing path, 'bundled', or a run name in dir (its best checkpoint
 * when it has one, else its latest). With nothing given: the most recently written checkpoint
 * in dir, else the bundled one.
 */
export function resolveCheckpoint(given: string | undefined, dir: string): string {
  if (given) {
    if (fs.existsSync(given) && fs.statSync(given).isFile()) return given;
    const { latest, best } = checkpointPaths(dir, given.replace(/(\.best)?\.safetensors$/, ''));
    if (fs.existsSync(best)) return best;
    if (fs.existsSync(latest)) return latest;
    if (given === BUNDLED) {
      const bundled = bundledCheckpoint();
      if (bundled) return bundled;
      throw new UsageError(`no bundled checkpoint in ${bundledCheckpointDir()}/; ${TRAIN_ONE}`);
    }
    throw new UsageError(`no checkpoint '${given}': not a file, and no ${path.basename(latest)} in ${dir}/ (see \`rnn info\`, or ${TRAIN_ONE})`);
  }
  const found = listCheckpoints(dir);
  if (found.length > 0) return found[0].path;
  const bundled = bundledCheckpoint();
  if (bundled) return bundled;
  throw new UsageError(`no checkpoint in ${dir}/ and no bundled model; ${TRAIN_ONE}, then \`rnn sample\``);
}

/** Checkpoints in dir, newest first. */
export function listCheckpoints(dir: string): Array<{ path: string; mtimeMs: number }> {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith(EXTENSION) && !n.startsWith('.'))
    .map((n) => path.join(dir, n))
    .filter((p) => fs.statSync(p).isFile())
    .map((p) => ({ path: p, mtimeMs: fs.statSync(p).mtimeMs }))
    .sort((a, b) => b.mtimeMs - a.mtimeMs);
}
