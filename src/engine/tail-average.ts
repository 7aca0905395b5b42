// Tail weight averaging (stochastic weight averaging, Izmailov et al. 2018, over the last part of
// one run): a running mean of the weights the optimizer visits late in the run. Those points
// circle a basin; their mean sits nearer its middle than any one of them and predicts held-out
// text better (measured: docs/averaging.md). Training steps the raw weights as before;
// validation, the saved checkpoints and sampling use the mean. At the run's end the raw weights
// are measured too, and where they validate lower (a short run still learning fast: the mean
// lags it) the run ends on them instead (EndChoice, src/engine/trainer.ts).
//
// The mean lives on the host in float32, updated as mean += (w − mean) / n in float64 and
// rounded once per value: no kernel of any backend is involved (a download every STRIDE steps),
// and a resumed run that restores the saved float32 mean continues bit for bit.

import { Backend } from '../kernels/backend';
import { Param } from './model';

/** Steps between two points of the mean: sparse enough to cost under 1% of the tail's time (bench/average.js), dense enough to be smooth. */
export const AVERAGE_STRIDE = 4;

/** Whether a step's weights join the mean: in the tail (the run's last `tail` fraction), on the stride. */
export function joinsAverage(tail: number, runFraction: number, iteration: number): boolean {
  return inAverageTail(tail, runFraction) && iteration % AVERAGE_STRIDE === 0;
}

/** Whether the run has reached its last `tail` fraction (tail 0: never). */
export function inAverageTail(tail: number, runFraction: number): boolean {
  return tail > 0 && runFraction >= 1 - tail;
}

/** A run's end with an averaged tail: the mean's and the raw weights' validation losses, and which it keeps. */
export interface EndChoice {
  mean: number;
  raw: number;
  chose: 'mean' | 'raw';
}

/** What an averaged run ended on, and both validation losses, in one line for stderr. */
export function describeEndChoice(c: EndChoice): string {
  return c.chose === 'mean'
    ? `rnn: it ends on the tail's running mean of the weights: val ${c.mean.toFixed(4)}, the last step's own weights ${c.raw.toFixed(4)}`
    : `rnn: it ends on the last step's own weights: val ${c.raw.toFixed(4)}, the tail's running mean ${c.mean.toFixed(4)} (kept for --resume)`;
}

export class WeightAverage {
  /** One float32 mean per parameter, in model.params order; meaningful once count > 0. */
  readonly mean: Float32Array[];
  /** Points in the mean. */
  count = 0;

  constructor(readonly backend: Backend, readonly params: readonly Param[]) {
    this.mean = params.map((p) => new Float32Array(p.value.size));
  }

  /** Adds the parameters' current values as one more point. */
  async add(): Promise<void> {
    this.count += 1;
    const n = this.count;
    for (let i = 0; i < this.params.length; i++) {
      const w = await this.backend.download(this.params[i].value);
      const mean = this.mean[i];
      if (n === 1) mean.set(w);
      else for (let j = 0; j < mean.length; j++) mean[j] += (w[j] - mean[j]) / n;
    }
  }

  /** Forgets every point (a resumed run whose longer budget moved the tail's start past this one). */
  reset(): void {
    this.count = 0;
  }

  /** Takes a saved mean of `count` points (resume). */
  restore(mean: readonly Float32Array[], count: number): void {
    if (mean.length !== this.mean.length) throw new Error(`restore: ${mean.length} tensors for ${this.mean.length} parameters`);
    mean.forEach((m, i) => this.mean[i].set(m));
    this.count = count;
  }

  /**
   * Runs `fn` with the mean in the parameters, then puts the raw weights back exactly (they
   * are what training steps on). With no point yet, runs it on the raw weights.
   */
  async withMean<T>(fn: () => Promise<T>): Promise<T> {
    if (this.count === 0) return fn();
    const raw: Float32Array[] = [];
    for (const p of this.params) raw.push(Float32Array.from(await this.backend.download(p.value)));
    this.params.forEach((p, i) => this.backend.upload(p.value, this.mean[i]));
    try {
      return await fn();
    } finally {
      this.params.forEach((p, i) => this.backend.upload(p.value, raw[i]));
    }
  }
}
