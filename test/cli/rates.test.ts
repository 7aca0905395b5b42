// The run's rates: measured and cached on an idle machine, read back next time, used once when busy.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeRates, runRates } from '../../src/cli/rates';
import { RateShape } from '../../src/engine/rates';

const SHAPE: RateShape = { cell: 'gru', layers: 1, embeddingSize: 4, vocabSize: 7, batchSize: 2, seqLen: 3 };
const QUICK = { warmupSeconds: 0.01, secondsPerSize: 0.02, deadlineSeconds: 30 };

describe('runRates', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-run-rates-'));
  const saved = process.env.RNN_RATES_CACHE;
  afterAll(() => {
    if (saved === undefined) delete process.env.RNN_RATES_CACHE;
    else process.env.RNN_RATES_CACHE = saved;
  });

  it('measures and caches on an idle machine, then reads the cache, and says which', async () => {
    process.env.RNN_RATES_CACHE = path.join(dir, 'idle', 'rates.json');
    const first = await runRates(SHAPE, [4, 6], 'reference', 1, 'auto', QUICK, 0);
    expect(first.source).toBe('measured');
    expect(first.busyLoad).toBeNull();
    expect(describeRates(first)).toMatch(/^rnn: training rates measured here in [\d.]+ s \(plain TypeScript loops, float32, B=2 T=3\): 1x4 [\d,]+, 1x6 [\d,]+ chars\/s; cached in .*idle\/rates\.json$/);
    const second = await runRates(SHAPE, [6, 4], 'reference', 1, 'auto', QUICK, 0);
    expect(second.source).toBe('cache');
    expect(second.rates).toEqual(first.rates);
    expect(describeRates(second)).toMatch(/^rnn: training rates read from .*idle\/rates\.json \(.*; delete the file to measure again\): 1x4 /);
    // Another shape is another entry: measured again.
    expect((await runRates({ ...SHAPE, seqLen: 4 }, [4, 6], 'reference', 1, 'auto', QUICK, 0)).source).toBe('measured');
  });

  it('uses a measurement taken on a busy machine once, and does not cache it', async () => {
    process.env.RNN_RATES_CACHE = path.join(dir, 'busy', 'rates.json');
    const busy = await runRates(SHAPE, [4], 'reference', 1, 'auto', QUICK, 100);
    expect(busy.source).toBe('measured');
    expect(busy.busyLoad).toBe(100);
    expect(describeRates(busy)).toMatch(/; the machine was busy \(load average 100\.0 on \d+ cores\), so these may read low and are not cached$/);
    expect(fs.existsSync(path.join(dir, 'busy', 'rates.json'))).toBe(false);
    expect((await runRates(SHAPE, [4], 'reference', 1, 'auto', QUICK, 100)).source).toBe('measured');
  });
});
