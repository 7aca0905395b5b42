// The size rule's rates for this run: read from the cache, or measured on the backend and threads the run will use.

import * as os from 'os';
import { BackendName } from '../config';
import { GpuMode, createBackend } from '../kernels';
import { MEASURE_DEFAULTS, MeasureOptions, RateShape, SizeRate, measureRates } from '../engine/rates';
import { RatesKey, lookupRates, ratesCachePath, ratesKey, storeRates } from '../engine/rates-cache';

const { version } = require('../../package.json') as { version: string };

export interface RunRates {
  rates: SizeRate[];
  /** 'measured' now, or read from the cache. */
  source: 'measured' | 'cache';
  /** The cache file, and the error that kept a measurement out of it (null when stored or read). */
  file: string;
  cacheError: Error | null;
  key: RatesKey;
  measuredAt: string;
  /** Wall time of the measurement (when read from the cache: the original one's). */
  seconds: number;
  /** Sizes estimated from a measured one rather than timed (a slow backend past the deadline). */
  estimated: number[];
  backendDescription: string;
  /** The share of its threads' time the measurement got (CPU time / (wall time × threads)); null off the wasm backend. */
  cpuShare: number | null;
  /**
   * The cores other processes kept busy, on average, while this measured, when that said the
   * machine was busy (see BUSY_SHARE_PER_CORE): the rates then read low, are used for this run,
   * and are not cached. Null when it was not (and when read from the cache).
   */
  busyCores: number | null;
}

/**
 * Share of the machine's cores that other processes may use while the rates are measured before
 * the measurement counts as taken beside other work. Measured over the measurement itself (the
 * machine's busy CPU time less this process's), not the load average: that one still counts a
 * run which ended a minute ago, so every run started right after another (a grid of runs, a
 * `--plan` before the run) read as busy and went uncached: on an idle 2-core machine at load
 * average 1.7, a minute after a run, others kept 0.004 cores busy (2026-12-05). On 2 shared
 * cores at load average 12–17 (2026-12-05) a wasm measurement with 2 threads got 12% of its
 * threads' time and read 2x256 at 2,061–2,457 chars/s, against 11,242 on an idle machine of the
 * same kind (the rule's former table).
 */
export const BUSY_SHARE_PER_CORE = 0.25;

/** CPU time the whole machine has spent busy so far (every core, every process), in seconds. */
export function machineBusySeconds(): number {
  let ms = 0;
  for (const c of os.cpus()) ms += c.times.user + c.times.nice + c.times.sys + c.times.irq;
  return ms / 1000;
}

/** `others` (cores other processes kept busy) when that makes a machine of `cores` busy, else null. */
export function busyAt(others: number, cores: number): number | null {
  return others >= BUSY_SHARE_PER_CORE * cores ? others : null;
}

/** The cores other processes kept busy on average: the machine's busy time less this process's, over the wall time. */
export function othersCores(machineSeconds: number, ownSeconds: number, wallSeconds: number): number {
  return Math.max(0, machineSeconds - ownSeconds) / Math.max(1e-9, wallSeconds);
}

/** The rates of `hiddenSizes` at `shape` for a run on `backend` with `threads` (0: one per core). */
export async function runRates(
  shape: RateShape, hiddenSizes: readonly number[], backend: BackendName, threads: number, gpuMode: GpuMode,
  options: MeasureOptions = MEASURE_DEFAULTS, machineSeconds: () => number = machineBusySeconds,
): Promise<RunRates> {
  // 0 threads: one per core, as the wasm backend resolves it; the key names the count.
  const key = ratesKey(shape, hiddenSizes, { name: backend, threads: threads > 0 ? threads : os.availableParallelism() }, version);
  const file = ratesCachePath();
  const cached = lookupRates(file, key);
  if (cached) {
    return {
      rates: cached.rates, source: 'cache', file, cacheError: null, key, measuredAt: cached.measuredAt, seconds: cached.seconds, estimated: [],
      backendDescription: cached.backendDescription ?? key.backend, cpuShare: null, busyCores: null,
    };
  }
  const be = await createBackend(backend, { threads, gpuMode, preferGpu: true });
  let measured;
  let machine;
  try {
    const before = machineSeconds();
    measured = await measureRates(be, shape, hiddenSizes, options);
    machine = machineSeconds() - before;
  } finally {
    be.destroy();
  }
  const others = othersCores(machine, measured.cpuSeconds, measured.seconds);
  const busyCores = busyAt(others, os.cpus().length || os.availableParallelism());
  const measuredAt = new Date().toISOString();
  // Only the wasm backend's threads are CPU threads to count; a GPU's time is not the process's.
  const cpuShare = be.name === 'wasm' ? measured.cpuSeconds / (measured.seconds * key.threads) : null;
  // An estimate, or a measurement beside other work, is used for this run only, not kept.
  const keep = measured.estimated.length === 0 && busyCores === null;
  const entry = { key, rates: measured.rates, measuredAt, seconds: measured.seconds, backendDescription: be.description };
  const cacheError = keep ? storeRates(file, entry) : null;
  return {
    rates: measured.rates, source: 'measured', file, cacheError, key, measuredAt, seconds: measured.seconds, estimated: measured.estimated,
    backendDescription: be.description, cpuShare, busyCores,
  };
}

/** One line for stderr: where the rates came from and what they are. */
export function describeRates(r: RunRates): string {
  const sizes = r.rates.map((s) => `${s.layers}x${s.hiddenSize} ${Math.round(s.charsPerSecond).toLocaleString('en-US')}` +
    `${r.estimated.includes(s.hiddenSize) ? ' (estimated)' : ''}`).join(', ');
  const where = `${r.backendDescription}, B=${r.key.batchSize} T=${r.key.seqLen}`;
  const how = r.source === 'measured'
    ? `measured here in ${r.seconds.toFixed(1)} s (${where})`
    : `read from ${r.file} (${where}; measured ${r.measuredAt.slice(0, 16).replace('T', ' ')} UTC; delete the file to measure again)`;
  let kept = '';
  if (r.source === 'measured') {
    if (r.busyCores !== null) {
      const share = r.cpuShare === null ? '' : `; the measurement got ${Math.round(r.cpuShare * 100)}% of its ${r.key.threads} threads' time`;
      kept = `; the machine was busy (other processes kept ${r.busyCores.toFixed(1)} of its ${os.cpus().length || r.key.cores} cores busy meanwhile${share}), so these may read low and are not cached`;
    } else if (r.estimated.length > 0) kept = '; not cached (some were estimated)';
    else if (r.cacheError) kept = `; not cached (${r.file}: ${(r.cacheError as NodeJS.ErrnoException).code ?? r.cacheError.message})`;
    else kept = `; cached in ${r.file}`;
  }
  return `rnn: training rates ${how}: ${sizes} chars/s${kept}`;
}
