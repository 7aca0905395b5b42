// Refuses a model that cannot fit before anything is allocated: an estimate of what training
// holds, against what the backend and the machine can give, named in flags the user can change.
//
// Bytes counted (float32 throughout, as every backend stores tensors):
//   parameters P = V·E + Σ_l G·H·(in_l + H + 2) (+ 3H peepholes) + H·V + V, G the cell's gate
//   blocks (4 LSTMs, 3 GRU, 1 RNN), held 4 times (weights, gradients, Adam's two moments), plus 6P
//   for a save (downloaded copies and the file image);
//   a workspace (B streams × T steps) = T·B·(2E + 2V + R·G·H) + L·(T·B·(R·G·H + H) + S·(T+1)·B·H)
//   + 2·B·H, R = 2 for the GRU (its recurrent projection apart) else 1, S = 2 for the LSTMs (h and
//   c) else 1, held twice (training, and validation at the same B and T). Dropout and zoneout
//   buffers are left out.
// These are the engine's allocations (src/engine/model.ts) summed; kernels' scratch is small
// beside them. The estimate is a floor, so a refusal is never a false alarm.

import * as os from 'os';
import { ModelConfig } from '../config';
import { UsageError } from '../errors';
import { cellSpec } from '../engine/cells';

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
  const { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L } = m;
  const spec = cellSpec(m.cell);
  let count = V * E + H * V + V;
  for (let l = 0; l < L; l++) count += spec.gates * H * ((l === 0 ? E : H) + H + 2) + (spec.peepholes ? 3 * H : 0);
  return count;
}

export function estimateTraining(m: ModelConfig, batchSize: number, seqLen: number): TrainingEstimate {
  const { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L } = m;
  const B = batchSize, T = seqLen;
  const P = parameterCount(m);
  const spec = cellSpec(m.cell);
  const gates = (spec.separateRecurrent ? 2 : 1) * spec.gates * H;
  const states = spec.carriesCell ? 2 : 1;
  const workspace = T * B * (2 * E + 2 * V + gates) + L * (T * B * (gates + H) + states * (T + 1) * B * H) + 2 * B * H;
  return { parameterBytes: 4 * P * F32_BYTES, activationBytes: 2 * workspace * F32_BYTES, saveBytes: 6 * P * F32_BYTES };
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
 * Throws a UsageError when training m at B, T cannot fit: on the wasm backend its 4 GiB, on
 * any backend the machine's available memory.
 */
export function checkTrainingFits(
  m: ModelConfig, batchSize: number, seqLen: number, backendName: string, available = availableBytes(),
): void {
  const e = estimateTraining(m, batchSize, seqLen);
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
