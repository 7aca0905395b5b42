// Carries a training plan out: the lock, the checkpoints it starts from, backend, model, trainer, saves and signals.
//
// Nothing here decides (src/train/plan.ts did) and nothing prints: what a person should hear
// comes back through the callbacks the command passes in.

import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { TrainConfig } from '../config';
import { UsageError } from '../errors';
import { Corpus } from '../data/corpus';
import { Vocab } from '../data/vocab';
import { Backend } from '../kernels/backend';
import { GpuMode, createBackend } from '../kernels';
import { Model } from '../engine/model';
import { Adam } from '../engine/optimizer';
import { Rng } from '../engine/rng';
import { StopReason, Trainer, TrainerHooks, TrainProgress } from '../engine/trainer';
import {
  CheckpointMeta, CorpusFingerprint, EXTENSION, LoadedCheckpoint, checkpointPaths, hasTrainingState, loadCheckpoint, readCheckpointMeta,
  resolveCheckpoint, restoreModel, restoreModelGrowingVocab, restoreTrainingState, saveCheckpoint, snapshotPath,
} from '../checkpoint/checkpoint';
import { lockCheckpoint } from '../checkpoint/lock';
import { InitFromSource, ResumeSource } from './plan';

export type RunPaths = ReturnType<typeof checkpointPaths>;

/** Runs fn holding the lock on the run's name: no other run may write it meanwhile. */
export async function withRunLock<T>(config: Pick<TrainConfig, 'checkpointDir' | 'name'>, warn: (message: string) => void, fn: () => Promise<T>): Promise<T> {
  // Before any work: the folder must take files, and no other run may be writing this name.
  const lock = lockCheckpoint(config.checkpointDir, config.name, warn);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}

/** The checkpoints a run starts from, loaded: the one --resume continues, or --init-from's. */
export interface StartingPoints {
  resumed?: ResumeSource & { checkpoint: LoadedCheckpoint };
  initFrom?: InitFromSource & { checkpoint: LoadedCheckpoint };
}

/** Loads what --resume or --init-from names, refusing what cannot be loaded as asked. */
export function loadStartingPoints(
  flags: { resume: boolean; initFrom?: string }, config: Pick<TrainConfig, 'checkpointDir' | 'name'>,
): StartingPoints {
  const paths = checkpointPaths(config.checkpointDir, config.name);
  if (flags.resume) {
    // Checked here: loadCheckpoint's own ENOENT message is about a path, not about a run to resume.
    if (!fs.existsSync(paths.latest)) {
      throw new UsageError(`--resume: no checkpoint ${paths.latest}; train without --resume first (or pass the run's --name)`);
    }
    const checkpoint = loadCheckpoint(paths.latest);
    return { resumed: { path: paths.latest, meta: checkpoint.meta, hasTrainingState: hasTrainingState(checkpoint), checkpoint } };
  }
  if (flags.initFrom === undefined) return {};
  const file = resolveCheckpoint(flags.initFrom, config.checkpointDir);
  if ([paths.latest, paths.best].some((own) => path.resolve(own) === path.resolve(file))) {
    throw new UsageError(`--init-from ${flags.initFrom} is ${file}, which this run (--name ${config.name}) would overwrite; give the new run another --name`);
  }
  const checkpoint = loadCheckpoint(file, { weightsOnly: true });
  const sha256 = createHash('sha256').update(fs.readFileSync(file)).digest('hex');
  return { initFrom: { path: file, sha256, meta: checkpoint.meta, checkpoint } };
}

/**
 * A new run under a name that holds one already would replace its checkpoints at the first save
 * and mix its snapshots with the old run's: refused unless --overwrite, which returns the old
 * run's files that this run's saves would not replace (its best checkpoint, its snapshots).
 */
export function replacedRun(paths: RunPaths, name: string, overwrite: boolean): string[] {
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

/**
 * Starts the plan's backend. fits(name) refuses a model too large for a backend: asked first of
 * the backend 'auto' most likely gives, before anything starts, and again of the one it gave.
 */
export async function startBackend(
  config: Readonly<TrainConfig>, gpuMode: GpuMode, fits: (backendName: string) => void = () => undefined,
): Promise<Backend> {
  const likelyBackend = config.backend === 'auto' ? 'wasm' : config.backend;
  fits(likelyBackend);
  const backend = await createBackend(config.backend, { threads: config.threads, gpuMode, preferGpu: true });
  if (backend.name !== likelyBackend) {
    try {
      fits(backend.name);
    } catch (err) {
      backend.destroy();
      throw err;
    }
  }
  return backend;
}

/** What a run trains with, built from a plan: the model, its optimizer and the trainer over the corpus. */
export interface TrainingRun {
  config: Readonly<TrainConfig>;
  vocab: Vocab;
  model: Model;
  optimizer: Adam;
  trainer: Trainer;
  progress: TrainProgress;
}

/** Builds the model (fresh, from --init-from's weights, or resumed whole), the optimizer and the trainer. */
export async function buildTraining(
  backend: Backend, config: Readonly<TrainConfig>, corpus: Pick<Corpus, 'train' | 'val' | 'vocab'>, start: StartingPoints = {},
): Promise<TrainingRun> {
  const model = new Model(backend, { vocabSize: corpus.vocab.size, ...config.model });
  const optimizer = new Adam(backend, model.params, config.learningRate, { weightDecay: config.weightDecay });
  let progress: TrainProgress;
  const resumed = start.resumed?.checkpoint;
  if (resumed) {
    restoreModel(resumed, model);
    progress = { ...resumed.meta.progress, history: [...resumed.meta.progress.history] };
  } else {
    model.initialize(new Rng(config.seed), config.init); // with --init-from, what its checkpoint lacks keeps this
    if (start.initFrom) await restoreModelGrowingVocab(start.initFrom.checkpoint, model);
    progress = { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] };
  }
  const trainer = new Trainer(model, optimizer, config, corpus.train, corpus.val, progress);
  if (resumed) restoreTrainingState(resumed, model, optimizer, trainer.workspace, trainer.average);
  return { config, vocab: corpus.vocab, model, optimizer, trainer, progress };
}

/** Where and what a run saves: its files, the text's fingerprint, and the replaced run's files to remove. */
export interface SavePlan {
  paths: RunPaths;
  corpus: CorpusFingerprint;
  /** --overwrite: the replaced run's files this run's saves do not replace, removed after the first save. */
  replaced: string[];
  onReplacedRemoved?: (count: number) => void;
}

/** The trainer's save hook: the latest checkpoint, the best one, and a snapshot where asked. */
export function checkpointSaver(run: TrainingRun, where: SavePlan): (p: TrainProgress, best: boolean) => Promise<void> {
  const { model, optimizer, trainer, config } = run;
  const modelConfig = model.config;
  let replaced = where.replaced;
  return async (p, best) => {
    const meta: CheckpointMeta = {
      model: modelConfig, train: { ...config }, vocab: run.vocab, progress: p, corpus: where.corpus,
      adamStep: optimizer.step, createdAt: new Date().toISOString(),
    };
    await saveCheckpoint(where.paths.latest, meta, model, optimizer, trainer.workspace, trainer.average);
    // --overwrite: the replaced run's latest checkpoint is this run's now; its other files go
    // (not before: a first save that fails, say on a full disk, leaves the old run whole).
    if (replaced.length > 0) {
      for (const file of replaced) fs.rmSync(file, { force: true });
      where.onReplacedRemoved?.(replaced.length);
      replaced = [];
    }
    if (best) await saveCheckpoint(where.paths.best, meta, model, optimizer, trainer.workspace, trainer.average);
    // Weights only (a third of a training checkpoint): a snapshot is for averaging, not resuming,
    // so it holds the raw weights the optimizer visited, not the tail's running mean of them.
    // (Validation measured the mean then, so a snapshot of an averaged tail has no figure of its own.)
    if (config.snapshots) {
      const own = p.averaged ? { ...p, averaged: 0, lastValLoss: null, endChoice: undefined } : p;
      await saveCheckpoint(snapshotPath(where.paths.snapshots, p.iteration), { ...meta, progress: own }, model, null, null);
    }
  };
}

/**
 * Ctrl-C or SIGTERM while training: the first asks the trainer to save a resumable checkpoint
 * and stop; onSignal hears every one (the command says what happens, and may quit on a second).
 */
export function catchInterrupts(onSignal: (count: number) => void): { requested(): boolean; release(): void } {
  let count = 0;
  const handler = (): void => {
    count += 1;
    onSignal(count);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    requested: () => count > 0,
    release: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

/** What the command hears while a plan is carried out. */
export interface RunCallbacks {
  /** The model is built and about to train (resumed: at progress.iteration). */
  ready(run: TrainingRun, backend: Backend): void;
  /** Every step and evaluation, as the trainer reports them; patience as TrainerHooks. */
  hooks: Omit<TrainerHooks, 'save' | 'stopRequested'>;
  /** A signal arrived (see catchInterrupts). */
  onSignal(count: number): void;
  /** The model is too large for this backend: throws (see startBackend). */
  fits?(backendName: string): void;
}

/**
 * Carries a frozen plan out: starts the backend, builds the run, trains until the plan's bounds, a
 * signal or patience stop it, saving as it goes; always releases the backend and the handlers.
 */
export async function carryOut(
  config: Readonly<TrainConfig>, corpus: Pick<Corpus, 'train' | 'val' | 'vocab'>, start: StartingPoints, where: SavePlan,
  gpuMode: GpuMode, callbacks: RunCallbacks,
): Promise<{ reason: StopReason; run: TrainingRun; backend: string }> {
  const backend = await startBackend(config, gpuMode, callbacks.fits);
  const interrupts = catchInterrupts(callbacks.onSignal);
  try {
    const run = await buildTraining(backend, config, corpus, start);
    callbacks.ready(run, backend);
    const reason = await run.trainer.run({ ...callbacks.hooks, save: checkpointSaver(run, where), stopRequested: interrupts.requested });
    run.trainer.dispose();
    return { reason, run, backend: backend.name };
  } finally {
    interrupts.release();
    backend.destroy();
  }
}
