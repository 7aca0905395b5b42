// Training rates measured on the backend that trains, and the cache that keeps them per machine.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { RateShape, measureRates, recurrentCost } from '../../src/engine/rates';
import {
  RatesEntry, RatesKey, lookupRates, ratesCachePath, ratesKey, readRatesCache, storeRates, vocabClass,
} from '../../src/engine/rates-cache';

const SHAPE: RateShape = { cell: 'gru', layers: 2, embeddingSize: 4, vocabSize: 7, batchSize: 2, seqLen: 3 };
const QUICK = { warmupSeconds: 0.01, secondsPerSize: 0.02, deadlineSeconds: 30 };

describe('measureRates', () => {
  it('returns a positive, finite rate for each size, smallest first, each size once', async () => {
    const backend = new ReferenceBackend('float32');
    const measured = await measureRates(backend, SHAPE, [8, 5, 8], QUICK);
    expect(measured.rates.map((r) => r.hiddenSize)).toEqual([5, 8]);
    for (const r of measured.rates) {
      expect(Number.isFinite(r.charsPerSecond)).toBe(true);
      expect(r.charsPerSecond).toBeGreaterThan(0);
      expect(r.layers).toBe(2);
    }
    expect(measured.estimated).toEqual([]);
    expect(measured.seconds).toBeGreaterThan(0);
    backend.destroy();
  });

  it.each(['lstm', 'rnn-tanh'] as const)('measures the %s cell too', async (cell) => {
    const backend = new ReferenceBackend('float32');
    const measured = await measureRates(backend, { ...SHAPE, cell }, [3], QUICK);
    expect(measured.rates[0].charsPerSecond).toBeGreaterThan(0);
    backend.destroy();
  });

  it('past the deadline, estimates the larger sizes from the largest measured by recurrent cost', async () => {
    // A clock that moves 1 s a reading: the first size alone is timed before the deadline.
    let t = 0;
    const now = (): number => (t += 1000);
    const backend = new ReferenceBackend('float32');
    const measured = await measureRates(backend, SHAPE, [4, 6, 9], { warmupSeconds: 0, secondsPerSize: 0, deadlineSeconds: 2, now });
    expect(measured.estimated).toEqual([6, 9]);
    const [first, , third] = measured.rates;
    expect(third.charsPerSecond).toBeCloseTo(first.charsPerSecond * (recurrentCost(2, 4, 4) / recurrentCost(2, 9, 4)), 9);
    backend.destroy();
  });
});

describe('the rates cache', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-rates-'));
  const machine = { cpu: 'Test CPU @ 2.0GHz', cores: 2 };
  const key = ratesKey({ ...SHAPE, embeddingSize: 64, batchSize: 32, seqLen: 64, vocabSize: 65 }, [512, 128, 256, 384],
    { name: 'wasm', threads: 2 }, '0.1.0', machine);
  const entry = (k: RatesKey, rate = 1000): RatesEntry => ({
    key: k, rates: k.hiddenSizes.map((hiddenSize) => ({ layers: k.layers, hiddenSize, charsPerSecond: rate / hiddenSize })),
    measuredAt: '2026-12-05T01:00:00.000Z', seconds: 2.5,
  });
  let n = 0;
  const fresh = (): string => path.join(dir, `cache-${n++}`, 'rates.json');

  it('keys by machine, backend, threads, version and shape; the sizes sorted; the vocabulary by its power-of-two class', () => {
    expect(key.hiddenSizes).toEqual([128, 256, 384, 512]);
    expect(key.vocabClass).toBe(128);
    expect([vocabClass(1), vocabClass(128), vocabClass(129), vocabClass(5000)]).toEqual([128, 128, 256, 8192]);
  });

  it('gives back what it stored, and misses when any part of the key changes', () => {
    const file = fresh();
    expect(lookupRates(file, key)).toBeNull(); // no file yet
    expect(storeRates(file, entry(key))).toBeNull();
    expect(lookupRates(file, key)).toEqual(entry(key));
    const changed: Array<Partial<RatesKey>> = [
      { cpu: 'Other CPU' }, { cores: 4 }, { backend: 'gpujs' }, { threads: 1 }, { version: '0.2.0' }, { cell: 'lstm' },
      { layers: 3 }, { hiddenSizes: [128, 256] }, { embeddingSize: 32 }, { batchSize: 16 }, { seqLen: 128 }, { vocabClass: 256 },
    ];
    for (const part of changed) expect(lookupRates(file, { ...key, ...part })).toBeNull();
    // Another key is another entry; the first is kept beside it.
    const other = { ...key, threads: 1 };
    storeRates(file, entry(other, 7));
    expect(lookupRates(file, other)!.rates[0].charsPerSecond).toBeCloseTo(7 / 128, 12);
    expect(lookupRates(file, key)).toEqual(entry(key));
    // The same key again replaces its entry.
    storeRates(file, entry(key, 5));
    expect(readRatesCache(file)).toHaveLength(2);
    expect(lookupRates(file, key)!.rates[0].charsPerSecond).toBeCloseTo(5 / 128, 12);
  });

  it.each([
    ['not JSON', '{"format": 1, "entries": [ {'],
    ['another format', '{"format": 99, "entries": []}'],
    ['not an object', '[1, 2, 3]'],
    ['empty', ''],
  ])('ignores a file that is %s, and rewrites it on the next store', (_what, text) => {
    const file = fresh();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, text);
    expect(readRatesCache(file)).toEqual([]);
    expect(lookupRates(file, key)).toBeNull();
    expect(storeRates(file, entry(key))).toBeNull();
    expect(JSON.parse(fs.readFileSync(file, 'utf8')).format).toBe(1);
    expect(lookupRates(file, key)).toEqual(entry(key));
  });

  it('drops entries with a rate that is not a positive finite number', () => {
    const file = fresh();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const bad = { ...entry(key), rates: [{ layers: 2, hiddenSize: 128, charsPerSecond: -1 }] };
    fs.writeFileSync(file, JSON.stringify({ format: 1, entries: [bad, entry({ ...key, threads: 1 })] }));
    expect(lookupRates(file, key)).toBeNull();
    expect(lookupRates(file, { ...key, threads: 1 })).not.toBeNull();
  });

  it('returns, not throws, the error of a cache it cannot write', () => {
    const blocker = path.join(dir, 'a-file');
    fs.writeFileSync(blocker, 'x');
    const err = storeRates(path.join(blocker, 'rates.json'), entry(key));
    expect((err as NodeJS.ErrnoException | null)?.code).toMatch(/^E(NOTDIR|EXIST)$/);
  });

  it('lives at $RNN_RATES_CACHE, else $XDG_CACHE_HOME/rnn/rates.json, else ~/.cache/rnn/rates.json', () => {
    expect(ratesCachePath({ RNN_RATES_CACHE: '/tmp/x/r.json', XDG_CACHE_HOME: '/c' })).toBe('/tmp/x/r.json');
    expect(ratesCachePath({ XDG_CACHE_HOME: '/c' })).toBe('/c/rnn/rates.json');
    expect(ratesCachePath({})).toBe(path.join(os.homedir(), '.cache', 'rnn', 'rates.json'));
  });
});
