// A small JSON file of measured training rates, so the next `--time` run on this machine plans at once.
//
// An entry is keyed by everything a rate depends on: the machine (CPU model, core count), the
// backend and its thread count, rnn's version (kernels change between versions), and the shape
// measured (cell, layers, sizes, E, B, T, the vocabulary's size class). Any part that differs is
// another entry; nothing expires otherwise. A file that does not parse, or holds something else,
// is ignored and rewritten. Where it lives: $RNN_RATES_CACHE if set, else
// $XDG_CACHE_HOME/rnn/rates.json, else ~/.cache/rnn/rates.json; deleting it clears it.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '../data/atomic';
import { RateShape, SizeRate } from './rates';

/** Bumped when an entry's layout changes; a file of another format is ignored and rewritten. */
const FORMAT = 1;
/** The newest entries kept: a machine sees few (backend × threads × shape) combinations. */
const MAX_ENTRIES = 64;

export interface RatesKey {
  cpu: string;
  cores: number;
  backend: string;
  threads: number;
  version: string;
  cell: string;
  layers: number;
  hiddenSizes: number[];
  embeddingSize: number;
  batchSize: number;
  seqLen: number;
  /** The vocabulary's size rounded up to a power of two (at least 128): the decoder's cost, not every corpus its own entry. */
  vocabClass: number;
}

export interface RatesEntry {
  key: RatesKey;
  rates: SizeRate[];
  /** ISO time of the measurement. */
  measuredAt: string;
  /** Wall time the measurement took. */
  seconds: number;
  /** The backend as it described itself, e.g. 'wasm simd, 2 threads'. */
  backendDescription?: string;
}

interface RatesFile {
  format: number;
  entries: RatesEntry[];
}

/** Where the cache lives (see the file comment). */
export function ratesCachePath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RNN_RATES_CACHE) return path.resolve(env.RNN_RATES_CACHE);
  const base = env.XDG_CACHE_HOME ? env.XDG_CACHE_HOME : path.join(os.homedir(), '.cache');
  return path.join(base, 'rnn', 'rates.json');
}

export function vocabClass(vocabSize: number): number {
  let size = 128;
  while (size < vocabSize) size *= 2;
  return size;
}

/** The key of a measurement of `shape` at `hiddenSizes` on this machine. */
export function ratesKey(
  shape: RateShape, hiddenSizes: readonly number[], backend: { name: string; threads: number }, version: string,
  machine: { cpu: string; cores: number } = thisMachine(),
): RatesKey {
  return {
    cpu: machine.cpu, cores: machine.cores, backend: backend.name, threads: backend.threads, version,
    cell: shape.cell, layers: shape.layers, hiddenSizes: [...new Set(hiddenSizes)].sort((a, b) => a - b),
    embeddingSize: shape.embeddingSize, batchSize: shape.batchSize, seqLen: shape.seqLen, vocabClass: vocabClass(shape.vocabSize),
  };
}

export function thisMachine(): { cpu: string; cores: number } {
  return { cpu: os.cpus()[0]?.model.trim() || 'unknown CPU', cores: os.availableParallelism() };
}

/** Key fields in a fixed order, so two equal keys give one string. */
function keyString(key: RatesKey): string {
  return JSON.stringify([key.cpu, key.cores, key.backend, key.threads, key.version, key.cell, key.layers, key.hiddenSizes,
    key.embeddingSize, key.batchSize, key.seqLen, key.vocabClass]);
}

function isRate(value: unknown): value is SizeRate {
  const r = value as SizeRate;
  return typeof r === 'object' && r !== null && Number.isInteger(r.layers) && Number.isInteger(r.hiddenSize) &&
    Number.isFinite(r.charsPerSecond) && r.charsPerSecond > 0;
}

function isEntry(value: unknown): value is RatesEntry {
  const e = value as RatesEntry;
  return typeof e === 'object' && e !== null && typeof e.key === 'object' && e.key !== null && Array.isArray(e.key.hiddenSizes) &&
    Array.isArray(e.rates) && e.rates.length > 0 && e.rates.every(isRate) && typeof e.measuredAt === 'string';
}

/** The file's entries; [] when it is absent, does not parse, or holds another format (it is then rewritten whole). */
export function readRatesCache(file: string): RatesEntry[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  try {
    const parsed = JSON.parse(text) as RatesFile;
    if (typeof parsed !== 'object' || parsed === null || parsed.format !== FORMAT || !Array.isArray(parsed.entries)) return [];
    return parsed.entries.filter(isEntry);
  } catch {
    return [];
  }
}

/** The cached rates of `key`, or null. */
export function lookupRates(file: string, key: RatesKey): RatesEntry | null {
  const wanted = keyString(key);
  return readRatesCache(file).find((e) => keyString(e.key) === wanted) ?? null;
}

/**
 * Adds (or replaces) `entry`, keeping the newest MAX_ENTRIES, written atomically. A cache that
 * cannot be written (a read-only home) costs the next run a measurement, nothing more: the
 * error is returned, not thrown.
 */
export function storeRates(file: string, entry: RatesEntry): Error | null {
  const wanted = keyString(entry.key);
  const entries = [...readRatesCache(file).filter((e) => keyString(e.key) !== wanted), entry].slice(-MAX_ENTRIES);
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    writeFileAtomic(file, Buffer.from(`${JSON.stringify({ format: FORMAT, entries } satisfies RatesFile, null, 1)}\n`));
    return null;
  } catch (err) {
    return err as Error;
  }
}
