// The training rate (chars/s) of the size rule's candidates, measured on the backend that will train.
//
// A rate read off a table measured on another machine is wrong by whatever separates the two
// (the table's 2x512 GRU rate was 3,384 chars/s; a faster machine ran it at ~10,000), and the rule
// then plans the wrong number of passes. So the rule measures: for each candidate, a few timed
// training steps (forward, backward, clip, Adam: the trainer's own trainStep) on random ids, at
// the run's B, T, E, cell and vocabulary size, after a warm-up. The warm-up matters on wasm: V8
// first runs a module's functions from its baseline compiler (Liftoff) and swaps in the
// optimising tier (TurboFan) once they are hot, so the first steps run slower than the rest.
// Dropout is off while timing (the rule chooses it after the size): a run with dropout draws
// and applies masks too, so its rate may be a little lower than the one measured.
// Shapes: B batch, T steps, E embedding, H hidden, L layers, V vocabulary.

import { Backend, CellName } from '../kernels/backend';
import { Window } from '../data/batcher';
import { Model } from './model';
import { Adam } from './optimizer';
import { Rng } from './rng';
import { trainStep } from './trainer';

/** A model size and its measured training rate. */
export interface SizeRate {
  layers: number;
  hiddenSize: number;
  /** Characters trained per second (B·T per step), validation not included. */
  charsPerSecond: number;
}

/** What every candidate shares: the run's shape. */
export interface RateShape {
  cell: CellName;
  layers: number;
  embeddingSize: number;
  vocabSize: number;
  batchSize: number;
  seqLen: number;
}

export interface MeasureOptions {
  /** Steps on the first (smallest) candidate for at least this long before any timing: the tier-up. */
  warmupSeconds: number;
  /** Each candidate is timed for at least this long, and at least one step. */
  secondsPerSize: number;
  /**
   * Past this much time in all, the candidates not yet measured are estimated from the largest
   * measured one by their recurrent cost, so a slow backend does not spend a minute measuring.
   */
  deadlineSeconds: number;
  /** Monotonic clock in milliseconds (a test may pass its own). */
  now?: () => number;
}

/** About 3 s in all for the four candidates on 2 cores (wasm, B=32, T=64): "a few seconds". */
export const MEASURE_DEFAULTS: MeasureOptions = { warmupSeconds: 0.5, secondsPerSize: 0.4, deadlineSeconds: 6 };

/** The rates and how they were got. */
export interface MeasuredRates {
  rates: SizeRate[];
  /** Sizes estimated from a measured one (after the deadline), by hidden size. */
  estimated: number[];
  /** Wall time of the measurement, warm-up included. */
  seconds: number;
  /**
   * CPU time this process used meanwhile, all its threads together: well under seconds × threads
   * means other work held the cores, and the rates read low.
   */
  cpuSeconds: number;
}

/**
 * The recurrent cost of a size per character, up to a constant: L·H·(H + E) multiply-adds per
 * gate dominate a step (the input and recurrent matmuls); the decoder's H·V is left out.
 */
export function recurrentCost(layers: number, hiddenSize: number, embeddingSize: number): number {
  return layers * hiddenSize * (hiddenSize + embeddingSize);
}

/** A random window of ids in [0, V): the rate does not depend on the text. */
function randomWindow(rng: Rng, shape: RateShape): Window {
  const n = shape.batchSize * shape.seqLen;
  const inputs = new Int32Array(n), targets = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    inputs[i] = rng.nextUint32() % shape.vocabSize;
    targets[i] = rng.nextUint32() % shape.vocabSize;
  }
  return { inputs, targets, steps: shape.seqLen };
}

/** One size on `backend`: steps until `minSeconds` have passed (at least one), after `warmupSeconds` of untimed steps (at least one). */
async function timeSize(
  backend: Backend, shape: RateShape, hiddenSize: number, warmupSeconds: number, minSeconds: number, now: () => number,
): Promise<number> {
  const model = new Model(backend, {
    vocabSize: shape.vocabSize, embeddingSize: shape.embeddingSize, hiddenSize, layers: shape.layers, cell: shape.cell, zoneout: 0,
  });
  const rng = new Rng(hiddenSize);
  model.initialize(rng);
  const optimizer = new Adam(backend, model.params, 2e-3);
  const ws = model.workspace(shape.batchSize, shape.seqLen, { training: true, dropout: 0 });
  const window = randomWindow(rng, shape);
  const clip = { clipNorm: 5, clipValue: 0 };
  try {
    ws.resetState();
    // The first step allocates and compiles; later ones are what a run sees.
    const warmStart = now();
    do await trainStep(model, optimizer, ws, window, clip);
    while (now() - warmStart < warmupSeconds * 1000);
    const start = now();
    let steps = 0;
    do {
      await trainStep(model, optimizer, ws, window, clip);
      steps++;
    } while (now() - start < minSeconds * 1000);
    const seconds = Math.max(1e-9, (now() - start) / 1000);
    return (steps * shape.batchSize * shape.seqLen) / seconds;
  } finally {
    ws.dispose();
    optimizer.dispose();
    model.dispose();
  }
}

/**
 * Each size's training rate at `shape` on `backend`, smallest first. The first size is also the
 * warm-up. A size reached after the deadline is estimated from the largest measured by
 * recurrentCost, and listed in `estimated`.
 */
export async function measureRates(
  backend: Backend, shape: RateShape, hiddenSizes: readonly number[], options: MeasureOptions = MEASURE_DEFAULTS,
): Promise<MeasuredRates> {
  const now = options.now ?? (() => performance.now());
  const cpuStart = process.cpuUsage();
  const start = now();
  const sizes = [...new Set(hiddenSizes)].sort((a, b) => a - b);
  const rates: SizeRate[] = [];
  const estimated: number[] = [];
  for (const [i, hiddenSize] of sizes.entries()) {
    const last = rates[rates.length - 1];
    if (last && now() - start > options.deadlineSeconds * 1000) {
      const scale = recurrentCost(shape.layers, last.hiddenSize, shape.embeddingSize) / recurrentCost(shape.layers, hiddenSize, shape.embeddingSize);
      rates.push({ layers: shape.layers, hiddenSize, charsPerSecond: last.charsPerSecond * scale });
      estimated.push(hiddenSize);
      continue;
    }
    const warmup = i === 0 ? options.warmupSeconds : 0;
    const charsPerSecond = await timeSize(backend, shape, hiddenSize, warmup, options.secondsPerSize, now);
    rates.push({ layers: shape.layers, hiddenSize, charsPerSecond });
  }
  const cpu = process.cpuUsage(cpuStart);
  return { rates, estimated, seconds: (now() - start) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}
