// The runner carries a plan out without the command: it trains, saves, stops on a signal, and a run it
// resumes goes on to the weights an uninterrupted one reaches.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DEFAULTS, TrainConfig } from '../../src/config';
import { readCorpusFile, splitCorpus } from '../../src/data/corpus';
import { checkpointPaths, loadCheckpoint } from '../../src/checkpoint/checkpoint';
import { TrainFlags, checkpointPlan, corpusPlan, flagsPlan } from '../../src/train/plan';
import { RunCallbacks, carryOut, loadStartingPoints, replacedRun, withRunLock } from '../../src/train/run';

const TEXT = 'the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs.\n'.repeat(40);

const FLAGS: TrainFlags = {
  cell: 'gru', layers: 1, hidden: 12, embedding: 6, seqLen: 12, batch: 4, lr: 0.01, lrSchedule: 'cosine', warmup: 0, dropout: 0.1,
  averageTail: 0.3, weightDecay: 0, zoneout: 0, init: 'orthogonal', clipNorm: 5, clipValue: 0, valFraction: 0.1, valSplit: 'tail', maxIters: 30,
  evalEvery: 10, saveEvery: 0, checkpointDir: '', seed: 5, backend: 'reference', threads: 0, resume: false, overwrite: false, snapshots: true,
};

describe('the runner', () => {
  let dir: string;
  let corpusFile: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-run-'));
    corpusFile = path.join(dir, 'text.txt');
    fs.writeFileSync(corpusFile, TEXT);
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  /** What `rnn train` does with these flags, minus what it prints; stops after `stopAt` steps when given. */
  async function train(flags: TrainFlags, given: string[], stopAt?: number): Promise<{ reason: string; config: Readonly<TrainConfig> }> {
    const givenSet = new Set(given);
    const config = flagsPlan(corpusFile, flags, givenSet);
    return withRunLock(config, () => undefined, async () => {
      const start = loadStartingPoints(flags, config);
      const merged = checkpointPlan(config, flags, givenSet, start);
      const paths = checkpointPaths(merged.checkpointDir, merged.name);
      const replaced = flags.resume ? [] : replacedRun(paths, merged.name, flags.overwrite);
      const encoded = readCorpusFile(corpusFile);
      const corpus = splitCorpus(encoded, merged.valFraction, merged.seqLen + 1);
      const fingerprint = { source: encoded.source, sha256: encoded.sha256, characters: encoded.characters };
      const plan = corpusPlan(merged, givenSet, { fingerprint, trainChars: corpus.train.length, valChars: corpus.val.length },
        null, start.resumed);
      let steps = 0;
      const callbacks: RunCallbacks = {
        ready: () => undefined,
        onSignal: () => undefined,
        hooks: {
          onStep: () => {
            steps += 1;
            if (stopAt !== undefined && steps === stopAt) process.emit('SIGINT', 'SIGINT');
          },
          patience: DEFAULTS.patience,
        },
      };
      const { reason } = await carryOut(plan.config, corpus, start, { paths, corpus: fingerprint, replaced }, 'auto', callbacks);
      return { reason, config: plan.config };
    });
  }

  it('trains a plan, saves the latest, best and snapshots, and a resumed run ends where an uninterrupted one does', async () => {
    const whole = { ...FLAGS, checkpointDir: path.join(dir, 'whole') };
    expect((await train(whole, [])).reason).toBe('max-iters');
    const paths = checkpointPaths(whole.checkpointDir, 'text');
    expect(fs.existsSync(paths.best)).toBe(true);
    expect(fs.readdirSync(paths.snapshots).length).toBe(3);

    const split = { ...FLAGS, checkpointDir: path.join(dir, 'split') };
    expect((await train(split, [], 17)).reason).toBe('interrupted');
    const stopped = loadCheckpoint(checkpointPaths(split.checkpointDir, 'text').latest);
    expect(stopped.meta.progress.iteration).toBe(17);
    const resumed = await train({ ...split, resume: true }, ['resume']);
    expect(resumed.reason).toBe('max-iters');
    expect(resumed.config.snapshots).toBe(true);

    const a = loadCheckpoint(paths.latest), b = loadCheckpoint(checkpointPaths(split.checkpointDir, 'text').latest);
    expect(b.meta.progress.iteration).toBe(30);
    for (const [name, tensor] of a.tensors) expect(Array.from(b.tensors.get(name)!.data)).toEqual(Array.from(tensor.data));
  });

  it('--overwrite removes the replaced run\'s best checkpoint and snapshots after its first save', async () => {
    const flags = { ...FLAGS, checkpointDir: path.join(dir, 'over'), valFraction: 0, maxIters: 10, snapshots: false };
    await train({ ...flags, valFraction: 0.1, snapshots: true }, []);
    const paths = checkpointPaths(flags.checkpointDir, 'text');
    expect(fs.existsSync(paths.best)).toBe(true);
    await expect(train(flags, [])).rejects.toThrow(/a run is saved under --name text already/);
    await train({ ...flags, overwrite: true }, ['overwrite']);
    expect(fs.existsSync(paths.best)).toBe(false);
    expect(fs.readdirSync(paths.snapshots)).toEqual([]);
    expect(loadCheckpoint(paths.latest).meta.progress.iteration).toBe(10);
  });
});
