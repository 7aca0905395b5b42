// `rnn sample --adapt`: the model learns from the prime before it writes (dynamic evaluation,
// src/engine/dynamic.ts, over the prime), then every row samples on from the state it left.

import { TokenIds } from '../data/batcher';
import { DynamicSettings, DynamicUpdate, StreamReader } from '../engine/dynamic';
import { Sampler } from './sampler';

/**
 * Reads the prime `passes` times, each from a zero state, scoring then updating segment by
 * segment, and leaves the weights adapted (the caller's model; its checkpoint is not touched).
 * Then every sampler row takes the state the last pass carried, and the prime's last character
 * is the next input, as Sampler.prime would leave it. rms: the RMS rule's statistics (gradientRms). Returns each pass's mean loss (nats/char)
 * over the prime, counted before the updates that used it. The prime needs 2 characters or more.
 */
export async function adaptToPrime(sampler: Sampler, prime: TokenIds, primeText: string,
  settings: Readonly<DynamicSettings>, passes: number, rms: Float64Array[] | null = null): Promise<number[]> {
  const model = sampler.model;
  const be = model.backend;
  const update = new DynamicUpdate(model, settings, rms);
  const reader = new StreamReader(model, settings.seqLen);
  const losses: number[] = [];
  try {
    for (let k = 0; k < passes; k++) {
      const { lossNats, predictions } = await reader.read(prime, update);
      losses.push(lossNats / predictions);
    }
    // The carried state [1, H] → every row of the sampler's state [R, H].
    const from = reader.stateTensors(), to = sampler.rows.ws.stateTensors();
    const pairs = [...from.h.map((t, l) => [t, to.h[l]]), ...from.c.map((t, l) => [t, to.c[l]])];
    for (const [src, dst] of pairs) {
      for (let r = 0; r < dst.rows; r++) be.copy(src, be.rowsOf(dst, r, 1));
    }
  } finally {
    update.dispose(); // the adapted weights stay in the model
    reader.dispose();
  }
  const last = [...primeText].pop()!;
  await sampler.prime(last);
  return losses;
}
