// The run's rates: measured and cached on an idle machine, read back next time, used once when busy;
// busy is what other processes did while measuring, not the load average.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BUSY_SHARE_PER_CORE, busyAt, describeRates, machineBusySeconds, othersCores, runRates } from '../../src/cli/rates';
import { RateShape } from '../../src/engine/rates';

const SHAPE: RateShape = { cell: 'gru', layers: 1, embeddingSize: 4, vocabSize: 7, batchSize: 2, seqLen: 3 };
const QUICK = { warmupSeconds: 0.01, secondsPerSize: 0.02, deadlineSeconds: 30 };
/** A machine where nothing else runs (test workers beside this one would otherwise read as other work). */
const IDLE = (): number => 0;
/** A machine where other processes add 1,000 CPU-seconds between any two looks. */
function crowded(): () => number {
  let t = 0;
  return () => (t += 1000);
}

describe('runRates', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-run-rates-'));
  const saved = process.env.RNN_RATES_CACHE;
  afterAll(() => {
    if (saved === undefined) delete process.env.RNN_RATES_CACHE;
    else process.env.RNN_RATES_CACHE = saved;
  });

  it('measures and caches on an idle machine, then reads the cache, and says which', async () => {
    process.env.RNN_RATES_CACHE = path.join(dir, 'idle', 'rates.json');
    const first = await runRates(SHAPE, [4, 6], 'reference', 1, 'auto', QUICK, IDLE);
    expect(first.source).toBe('measured');
    expect(first.busyCores).toBeNull();
    expect(describeRates(first)).toMatch(/^rnn: training rates measured here in [\d.]+ s \(plain TypeScript loops, float32, B=2 T=3\): 1x4 [\d,]+, 1x6 [\d,]+ chars\/s; cached in .*idle\/rates\.json$/);
    const second = await runRates(SHAPE, [6, 4], 'reference', 1, 'auto', QUICK, IDLE);
    expect(second.source).toBe('cache');
    expect(second.rates).toEqual(first.rates);
    expect(describeRates(second)).toMatch(/^rnn: training rates read from .*idle\/rates\.json \(.*; delete the file to measure again\): 1x4 /);
    // Another shape is another entry: measured again.
    expect((await runRates({ ...SHAPE, seqLen: 4 }, [4, 6], 'reference', 1, 'auto', QUICK, IDLE)).source).toBe('measured');
  });

  it('uses a measurement taken on a busy machine once, and does not cache it', async () => {
    process.env.RNN_RATES_CACHE = path.join(dir, 'busy', 'rates.json');
    const busy = await runRates(SHAPE, [4], 'reference', 1, 'auto', QUICK, crowded());
    expect(busy.source).toBe('measured');
    expect(busy.busyCores).toBeGreaterThan(1000);
    expect(describeRates(busy)).toMatch(/; the machine was busy \(other processes kept [\d.]+ of its \d+ cores busy meanwhile\), so these may read low and are not cached$/);
    expect(fs.existsSync(path.join(dir, 'busy', 'rates.json'))).toBe(false);
    expect((await runRates(SHAPE, [4], 'reference', 1, 'auto', QUICK, crowded())).source).toBe('measured');
  });

  it('caches a measurement when others took less than this process did meanwhile', async () => {
    // Others' time is the machine's less this process's: a machine that adds next to nothing reads as idle.
    process.env.RNN_RATES_CACHE = path.join(dir, 'light', 'rates.json');
    let looks = 0;
    const light = await runRates(SHAPE, [4], 'reference', 1, 'auto', QUICK, () => (looks++ === 0 ? 0 : 1e-6));
    expect(light.busyCores).toBeNull();
    expect(fs.existsSync(path.join(dir, 'light', 'rates.json'))).toBe(true);
  });
});

describe('busyAt', () => {
  it('counts a machine busy from a quarter of its cores taken by others, not below', () => {
    expect(BUSY_SHARE_PER_CORE).toBe(0.25);
    expect(busyAt(0.49, 2)).toBeNull();
    expect(busyAt(0.5, 2)).toBe(0.5);
    expect(busyAt(1.9, 8)).toBeNull();
    expect(busyAt(2.1, 8)).toBe(2.1);
    expect(busyAt(0, 1)).toBeNull();
  });
});

describe('othersCores', () => {
  it('is the machine busy time less this process, per second of wall time, never below 0', () => {
    expect(othersCores(10, 4, 3)).toBeCloseTo(2, 12);
    expect(othersCores(4, 4, 3)).toBe(0);
    expect(othersCores(3, 4, 3)).toBe(0); // clock ticks: the machine's count may lag this process's
    expect(othersCores(1, 0, 0)).toBeGreaterThan(1e6); // no wall time: anything else counts as busy
  });
});

describe('machineBusySeconds', () => {
  it('grows with CPU work done in this process', () => {
    const before = machineBusySeconds();
    const until = Date.now() + 300;
    let x = 0;
    while (Date.now() < until) x += Math.sqrt(x + 1);
    expect(x).toBeGreaterThan(0);
    // At least most of the 0.3 s spun (os.cpus() counts in clock ticks of 10 ms).
    expect(machineBusySeconds() - before).toBeGreaterThan(0.2);
  });
});
