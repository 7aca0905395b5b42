// Refuses a model that cannot fit before anything is allocated: an estimate of what training
// holds, against what the backend and the machine can give, named in flags the user can change.
//
// Bytes counted (float32 throughout, as every backend stores tensors), from the engine's own
// layouts rather than a formula of their own:
//   parameters P (src/cells.ts's modelParameters, what the Model allocates), held 4 times
//   (weights, gradients, Adam's two moments), plus 6P for a save (downloaded copies and the file
//   image);
//   two workspaces of B streams × T steps (src/engine/workspace.ts's workspaceLayout, what the
//   Workspace allocates): training's, with its dropout, zoneout and weight-drop buffers, and validation's.
// Kernels' scratch is small beside them. The estimate is a floor, so a refusal is never a false
// alarm; test/cli/memory.test.ts checks it against what the engine allocates, for every cell.

import * as os from 'os';
import { cellSpec, parameterCount as specParameterCount } from '../cells';
import { ModelConfig } from '../config';
import { UsageError } from '../errors';
import { trainingMode, workspaceBytes, workspaceLayout } from '../engine/workspace';

const F32_BYTES = 4;
/** wasm32 addresses at most 4 GiB: the wasm backend's memory cannot grow past it. */
export const WASM_MAX_BYTES = 4 * 2 ** 30;

export interface TrainingEstimate {
  /** Weights, gradients and Adam moments. */
  parameterBytes: number;
  /** Activations and their gradients for the training and validation workspaces. */
  activationBytes: number;
  /** What a save copies out of the backend. */
  saveBytes: number;
}

export function parameterCount(m: ModelConfig): number {
  return specParameterCount(cellSpec(m.cell), m);
}

/**
 * What training m on B streams × T steps holds; dropout p > 0 adds the training workspace's
 * masks, and weight drop > 0 each layer's W_hh mask and masked copy.
 */
export function estimateTraining(m: ModelConfig, batchSize: number, seqLen: number, dropout = 0, weightDrop = 0): TrainingEstimate {
  const P = parameterCount(m);
  const spec = cellSpec(m.cell);
  const training = workspaceLayout(m, spec, batchSize, seqLen, trainingMode({ dropout, weightDrop }));
  const validation = workspaceLayout(m, spec, batchSize, seqLen);
  return {
    parameterBytes: 4 * P * F32_BYTES,
    activationBytes: workspaceBytes(training) + workspaceBytes(validation),
    saveBytes: 6 * P * F32_BYTES,
  };
}

/** Memory this process may still take: the machine's available memory, within a cgroup limit. */
export function availableBytes(): number {
  let free = os.freemem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  if (constrained && constrained > 0 && constrained < os.totalmem()) free = Math.min(free, constrained - process.memoryUsage().rss);
  return Math.max(0, free);
}

function gib(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(1)} GiB` : `${Math.ceil(bytes / 2 ** 20)} MiB`;
}

/**
 * Throws a UsageError when training m at B, T (with dropout and weight drop) cannot fit: on the wasm backend
 * its 4 GiB, on any backend the machine's available memory.
 */
export function checkTrainingFits(
  m: ModelConfig, batchSize: number, seqLen: number, backendName: string, available = availableBytes(), dropout = 0, weightDrop = 0,
): void {
  const e = estimateTraining(m, batchSize, seqLen, dropout, weightDrop);
  const onBackend = e.parameterBytes + e.activationBytes;
  const total = onBackend + e.saveBytes;
  const what = `a ${m.layers}x${m.hiddenSize} ${cellSpec(m.cell).title} (embedding ${m.embeddingSize}, vocabulary ${m.vocabSize}) at --batch ${batchSize} --seq-len ${seqLen} ` +
    `needs about ${gib(total)} to train (${gib(e.parameterBytes)} weights, gradients and Adam state, ${gib(e.activationBytes)} activations, ${gib(e.saveBytes)} to save)`;
  const fix = 'lower --hidden, --layers or --embedding, or --batch or --seq-len';
  if (backendName === 'wasm' && onBackend > WASM_MAX_BYTES) {
    throw new UsageError(`${what}; the wasm backend holds at most ${gib(WASM_MAX_BYTES)}: ${fix}`);
  }
  if (total > available) {
    throw new UsageError(`${what}; this machine has ${gib(available)} available: ${fix}`);
  }
}
