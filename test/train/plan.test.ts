// The training plan as a table: flags given, a checkpoint resumed or started from, the corpus's size and this
// machine's rates in; the TrainConfig `rnn train` would train, or the refusal, out. No command line is spawned.

import * as fs from 'fs';
import * as path from 'path';
import { DEFAULTS, ModelConfig, TrainConfig, defaultTrainConfig } from '../../src/config';
import { UsageError } from '../../src/errors';
import { Vocab } from '../../src/data/vocab';
import { MAX_PASSES, RECIPE_HIDDEN_SIZES, RULE_DROPOUT, itersForPasses } from '../../src/engine/recipe';
import { SizeRate } from '../../src/engine/rates';
import { CheckpointMeta, readCheckpointMeta } from '../../src/checkpoint/checkpoint';
import { CheckpointError } from '../../src/checkpoint/safetensors';
import { upgradeModelConfig } from '../../src/checkpoint/upgrade';
import {
  CorpusFacts, InitFromSource, PlanInput, PlanRefusal, RefusalKind, ResumeSource, TrainFlags, TrainPlan, checkpointPlan, corpusPlan,
  flagsPlan, planTraining, ratesWanted,
} from '../../src/train/plan';

/** The flags as commander parses `rnn train corpus.txt` with nothing else: every default. */
const DEFAULT_FLAGS: TrainFlags = {
  cell: DEFAULTS.cell, layers: DEFAULTS.layers, hidden: DEFAULTS.hiddenSize, embedding: DEFAULTS.embeddingSize, seqLen: DEFAULTS.seqLen,
  batch: DEFAULTS.batchSize, lr: DEFAULTS.learningRate, lrSchedule: DEFAULTS.lrSchedule, warmup: DEFAULTS.warmupIters,
  dropout: DEFAULTS.dropout, averageTail: DEFAULTS.averageTail, weightDecay: DEFAULTS.weightDecay, zoneout: DEFAULTS.zoneout,
  init: DEFAULTS.init, clipNorm: DEFAULTS.clipNorm, clipValue: DEFAULTS.clipValue, valFraction: DEFAULTS.valFraction,
  valSplit: DEFAULTS.valSplit, maxIters: DEFAULTS.maxIters, evalEvery: DEFAULTS.evalEvery, saveEvery: DEFAULTS.saveEvery, checkpointDir: DEFAULTS.checkpointDir,
  seed: DEFAULTS.seed, backend: DEFAULTS.backend, threads: DEFAULTS.threads, resume: false, overwrite: false, snapshots: false,
};

const SHA = 'c0ffee'.padEnd(64, '0');
const OTHER_SHA = 'beef'.padEnd(64, '1');
/** tiny-shakespeare's size, split 90/10: what the size rule was measured on. */
const SHAKESPEARE: CorpusFacts = {
  fingerprint: { source: 'corpora/tinyshakespeare.txt', sha256: SHA, characters: 1115394 }, trainChars: 1003855, valChars: 111539,
};
/** A text 30 times tiny-shakespeare's size, split 90/10 (the grid's large corpus, bench/grid.js). */
const LARGE: CorpusFacts = {
  fingerprint: { source: 'large.txt', sha256: SHA, characters: 33169841 }, trainChars: 29852857, valChars: 3316984,
};
/**
 * Fixed rates, as a run's measurement would give them: the GRU rates the rule once read from a
 * static table (`node bench/recipe.js --seconds 15 --threads 2`, 2 vCPUs AMD EPYC, wasm, 2026-12-01).
 */
const RATES: SizeRate[] = [
  { layers: 2, hiddenSize: 128, charsPerSecond: 32518 },
  { layers: 2, hiddenSize: 256, charsPerSecond: 11242 },
  { layers: 2, hiddenSize: 384, charsPerSecond: 4103 },
  { layers: 2, hiddenSize: 512, charsPerSecond: 3384 },
];
/** A machine ten times as fast as the one the table was measured on. */
const FAST_RATES: SizeRate[] = RATES.map((r) => ({ ...r, charsPerSecond: 10 * r.charsPerSecond }));

interface FormatFixture { commit: string; what: string; model_config: Partial<ModelConfig>; train_config: Partial<TrainConfig> }
const FORMATS: FormatFixture[] = JSON.parse(
  fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'checkpoint_formats', 'formats.json'), 'utf8'),
).formats;

/** Checkpoint metadata as loadCheckpoint returns it: the model fields upgraded, train_config as written. */
function meta(train: Partial<TrainConfig>, model: Partial<ModelConfig>, elapsedMs = 60000, sha256 = SHA): CheckpointMeta {
  const upgraded = upgradeModelConfig('saved.safetensors', model);
  return {
    model: upgraded, train: train as TrainConfig, vocab: new Vocab(Array.from({ length: upgraded.vocabSize }, (_, i) => String.fromCharCode(65 + i))),
    progress: { iteration: 500, epoch: 1, window: 3, bestValLoss: 1.9, lastValLoss: 2, lastTrainLoss: 1.8, elapsedMs, history: [] },
    corpus: { source: 'corpora/tinyshakespeare.txt', sha256, characters: 1115394 }, adamStep: 500, createdAt: '2026-12-01T00:00:00Z',
  };
}

/** Today's format: a 2x16 LSTM trained with --seed 7, B=8, T=16 and a few non-defaults. */
const TODAY = FORMATS[FORMATS.length - 1];
const saved = (train: Partial<TrainConfig> = {}, model: Partial<ModelConfig> = {}, elapsedMs?: number, sha?: string): CheckpointMeta =>
  meta({ ...TODAY.train_config, ...train }, { ...TODAY.model_config, ...model }, elapsedMs, sha);
const resumeOf = (m: CheckpointMeta, hasTrainingState = true): ResumeSource => ({ path: 'checkpoints/run.safetensors', meta: m, hasTrainingState });
const initFromOf = (m: CheckpointMeta, file = 'checkpoints/base.best.safetensors'): InitFromSource => ({ path: file, sha256: 'f00d', meta: m });

/** Fields the planned config must hold; its model's, any part of them. */
type Expected = Partial<Omit<TrainConfig, 'model'>> & { model?: Partial<ModelConfig> };

interface Case {
  name: string;
  flags?: Partial<TrainFlags>;
  /** Flags typed on the command line; each key of `flags` counts as typed unless listed in `defaulted`. */
  given?: string[];
  resumed?: ResumeSource;
  initFrom?: InitFromSource;
  corpus?: CorpusFacts;
  rates?: PlanInput['rates'];
  corpusArg?: string;
  /** Fields the planned config must hold. */
  expect?: Expected;
  check?: (plan: TrainPlan) => void;
  refused?: RefusalKind;
  /** Another error: its class and a part of its message. */
  fails?: [new (...args: never[]) => Error, string];
}

function plan(c: Case): TrainPlan {
  const flags = { ...DEFAULT_FLAGS, ...c.flags };
  const given = new Set([...Object.keys(c.flags ?? {}), ...(c.given ?? [])]);
  return planTraining({
    corpusArg: c.corpusArg ?? 'corpora/tinyshakespeare.txt', flags, given, resumed: c.resumed, initFrom: c.initFrom,
    corpus: c.corpus ?? SHAKESPEARE, rates: c.rates ?? RATES,
  });
}

const FRESH: Case[] = [
  {
    name: 'fresh, no flags: every default, capped at --max-iters, named for the corpus',
    expect: { ...defaultTrainConfig(), name: 'tinyshakespeare', snapshots: false },
    check: (p) => expect(p.recipe).toBeNull(),
  },
  { name: 'fresh: --min-lr defaults to a tenth of --lr', flags: { lr: 0.01 }, expect: { learningRate: 0.01, minLr: 0.001 } },
  { name: 'fresh: --min-lr given is kept', flags: { lr: 0.01, minLr: 0.0005 }, expect: { minLr: 0.0005 } },
  {
    name: 'fresh --time alone: no iteration cap, and the size rule picks a GRU with PyTorch\'s init',
    flags: { time: 15 * 60000 },
    expect: { timeBudgetMs: 900000, maxIters: 0, init: 'pytorch', model: { cell: 'gru' } },
    check: (p) => {
      expect(p.recipe?.recipe.cell).toBe('gru');
      expect(p.recipe?.init).toBe('pytorch');
      expect(p.config.model.hiddenSize).toBe(p.recipe?.recipe.hiddenSize);
      expect(p.config.dropout).toBe(p.recipe?.recipe.dropout);
    },
  },
  {
    name: 'fresh --time on a faster machine: the rates given choose a larger model than the table\'s',
    flags: { time: 5 * 60000 }, rates: FAST_RATES,
    check: (p) => {
      const onTable = plan({ name: '', flags: { time: 5 * 60000 } });
      expect(p.config.model.hiddenSize).toBeGreaterThan(onTable.config.model.hiddenSize);
    },
  },
  // The size rule under two rate tables: 5 minutes buy 2x256 at the table's rates (3.1 passes;
  // 2x384 would see 1.1), and 2x512 on a machine ten times as fast (9.3 passes).
  { name: 'fresh --time 5m at the table\'s rates: 2x256', flags: { time: 5 * 60000 }, rates: RATES, expect: { model: { hiddenSize: 256 } } },
  {
    name: 'fresh --time 5m at ten times the table\'s rates: 2x512, and the rates it planned by', flags: { time: 5 * 60000 }, rates: FAST_RATES,
    expect: { model: { hiddenSize: 512 } },
    check: (p) => expect(p.estimate!.charsPerSecond).toBeLessThan(FAST_RATES[3].charsPerSecond),
  },
  {
    name: 'fresh --time: the rule\'s rate is the one given for the size trained, less validation\'s share and the end\'s two passes',
    flags: { time: 5 * 60000, hidden: 256 }, rates: [{ layers: 2, hiddenSize: 256, charsPerSecond: 5000 }],
    check: (p) => {
      const endMs = 2 * (1000 * 111539) / (3 * 5000); // the mean's and the raw weights' passes, each a third of training's time
      expect(p.recipe!.recipe.charsPerSecond).toBeCloseTo((5000 / (1 + 111539 / (3 * 200 * 32 * 64))) * (1 - endMs / (5 * 60000)), 6);
    },
  },
  { name: 'fresh: --val-split defaults to the tail', expect: { valSplit: 'tail' } },
  // A large text: 30 M training characters, 3.3 M held out. At the default interval a validation
  // pass (≈ 1.1 M characters' worth of training) would come every 409,600 trained characters.
  {
    name: 'fresh on a large text without --eval-every: validation rarer, to about a tenth of the run; saves as often as before',
    corpus: LARGE,
    expect: { evalEvery: 5000, saveEvery: 200 },
    check: (p) => {
      expect(p.evalEveryRaised).toEqual({ from: 200, to: 5000 });
      const share = (v: number, n: number): number => v / 3 / (n * 32 * 64 + v / 3);
      expect(share(LARGE.valChars, 5000)).toBeLessThanOrEqual(0.1);
      expect(share(LARGE.valChars, 4800)).toBeGreaterThan(0.1);
    },
  },
  { name: 'fresh on a large text with --eval-every given: kept', corpus: LARGE, flags: { evalEvery: 300 }, expect: { evalEvery: 300, saveEvery: 0 }, check: (p) => expect(p.evalEveryRaised).toBeNull() },
  { name: 'fresh on a large text with --save-every given: kept', corpus: LARGE, flags: { saveEvery: 1000 }, expect: { evalEvery: 5000, saveEvery: 1000 } },
  { name: 'fresh on tiny-shakespeare: the default interval stands', expect: { evalEvery: 200, saveEvery: 0 }, check: (p) => expect(p.evalEveryRaised).toBeNull() },
  {
    // 2x512 would see 2.1 M characters (its end's two passes over 3.3 M take a quarter of the budget, the most kept back).
    name: 'fresh --time on a large text: the rule\'s size by the characters it sees (2x256: 7.1 M at 15 minutes, 0.24 passes), no dropout',
    corpus: LARGE, flags: { time: 15 * 60000 },
    expect: { model: { hiddenSize: 256 }, dropout: 0, evalEvery: 5000 },
    check: (p) => expect(p.recipe!.recipe.passes).toBeLessThan(0.3),
  },
  { name: 'fresh --val-split blocks is recorded', flags: { valSplit: 'blocks' }, expect: { valSplit: 'blocks' } },
  {
    name: 'fresh --time 60m at ten times the table\'s rates: the rule\'s 2x512 stops at MAX_PASSES by iterations, --time the upper bound',
    flags: { time: 60 * 60000 }, rates: FAST_RATES,
    expect: { timeBudgetMs: 3600000, maxIters: itersForPasses(MAX_PASSES, SHAKESPEARE.trainChars, 32, 64), dropout: RULE_DROPOUT, model: { hiddenSize: 512 } },
    check: (p) => expect(p.recipe!.recipe.budgetPasses).toBeGreaterThan(MAX_PASSES),
  },
  {
    name: 'fresh --time 60m and 120m at ten times the table\'s rates: past the stop, one plan',
    flags: { time: 120 * 60000 }, rates: FAST_RATES,
    check: (p) => {
      const shorter = plan({ flags: { time: 60 * 60000 }, rates: FAST_RATES, name: '' });
      expect({ ...p.config, timeBudgetMs: 0 }).toEqual({ ...shorter.config, timeBudgetMs: 0 });
    },
  },
  {
    name: 'fresh --time 60m --dropout 0.3: a dropout given trains to the end of the budget, no stop',
    flags: { time: 60 * 60000, dropout: 0.3 }, rates: FAST_RATES,
    expect: { maxIters: 0, dropout: 0.3, model: { hiddenSize: 512 } },
  },
  {
    name: 'fresh --time 60m --hidden 512: a size given trains to the end of the budget at the passes\' dropout',
    flags: { time: 60 * 60000, hidden: 512 }, rates: FAST_RATES,
    expect: { maxIters: 0, dropout: 0.3, model: { hiddenSize: 512 } },
  },
  { name: 'fresh --time with --max-iters given: both bound it, no size rule', flags: { time: 60000, maxIters: 300 }, expect: { maxIters: 300, model: { cell: 'lstm', hiddenSize: 128 } }, check: (p) => expect(p.recipe).toBeNull() },
  { name: 'fresh --time on the reference backend: no size rule', flags: { time: 60000, backend: 'reference' }, check: (p) => expect(p.recipe).toBeNull() },
  {
    name: 'fresh --time with --cell, --hidden and --dropout given: nothing left to choose',
    flags: { time: 60000, cell: 'lstm', hidden: 64, dropout: 0.1 }, expect: { model: { cell: 'lstm', hiddenSize: 64 }, dropout: 0.1, init: 'orthogonal' },
    check: (p) => expect(p.recipe).toBeNull(),
  },
  {
    name: 'fresh --time with --init given: the rule keeps it and does not name one',
    flags: { time: 15 * 60000, init: 'glorot' }, expect: { init: 'glorot', model: { cell: 'gru' } }, check: (p) => expect(p.recipe?.init).toBeNull(),
  },
  {
    name: 'fresh --time with --cell given: the rule sizes that cell, which keeps --init\'s default',
    flags: { time: 15 * 60000, cell: 'lstm' }, expect: { init: 'orthogonal', model: { cell: 'lstm' } },
  },
  { name: 'fresh, name from a file name with spaces', corpusArg: 'data/my plays.txt', expect: { name: 'my_plays' } },
  { name: 'fresh, name from stdin', corpusArg: '-', expect: { name: 'stdin' } },
  { name: 'fresh, a corpus named only dots is named corpus', corpusArg: '...', expect: { name: 'corpus' } },
  { name: 'fresh --name given wins', flags: { name: 'notes' }, expect: { name: 'notes' } },
  {
    name: 'fresh on a short text: fewer streams than --batch, said so',
    corpus: { ...SHAKESPEARE, trainChars: 650, valChars: 72 }, expect: { batchSize: 10 },
    check: (p) => expect(p.batchFitted).toEqual({ wanted: 32, fitted: 10 }),
  },
  { name: 'fresh --snapshots is recorded', flags: { snapshots: true }, expect: { snapshots: true } },
];

const RESUMED: Case[] = [
  {
    name: 'resume: architecture, data order and settings from the checkpoint',
    flags: { resume: true }, resumed: resumeOf(saved()),
    expect: {
      model: { cell: 'lstm', layers: 2, hiddenSize: 16, embeddingSize: 8, zoneout: 0 }, seqLen: 16, batchSize: 8, valFraction: 0.1, seed: 7,
      learningRate: 0.01, minLr: 0.001, maxIters: 60, timeBudgetMs: 0, evalEvery: 20, averageTail: 0.2, lrSchedule: 'cosine',
    },
  },
  {
    name: 'resume with a longer --time: the budget is what was spent plus it, with no iteration cap',
    flags: { resume: true, time: 5 * 60000 }, resumed: resumeOf(saved({ maxIters: 0, timeBudgetMs: 600000 }, {}, 600000)),
    expect: { timeBudgetMs: 900000, maxIters: 0 }, check: (p) => expect(p.recipe).toBeNull(),
  },
  {
    name: 'resume without --time: the rest of the saved budget',
    flags: { resume: true }, resumed: resumeOf(saved({ maxIters: 0, timeBudgetMs: 600000 }, {}, 300000)), expect: { timeBudgetMs: 600000, maxIters: 0 },
  },
  { name: 'resume with --max-iters given: the new cap', flags: { resume: true, maxIters: 900 }, resumed: resumeOf(saved()), expect: { maxIters: 900 } },
  {
    name: 'resume with --lr, --dropout, --eval-every and --clip-norm given: those change',
    flags: { resume: true, lr: 0.005, dropout: 0.3, evalEvery: 50, clipNorm: 1 }, resumed: resumeOf(saved()),
    expect: { learningRate: 0.005, dropout: 0.3, evalEvery: 50, clipNorm: 1, minLr: 0.001 },
  },
  { name: 'resume: a run that kept snapshots goes on keeping them', flags: { resume: true }, resumed: resumeOf(saved({ snapshots: true })), expect: { snapshots: true } },
  {
    name: 'resume: a run started by --init-from keeps saying so',
    flags: { resume: true }, resumed: resumeOf(meta(FORMATS[4].train_config, FORMATS[4].model_config)),
    expect: { initFrom: { checkpoint: 'checkpoints/base.safetensors', sha256: 'ab12', iteration: 900 } },
  },
  {
    name: 'resume: given flags equal to the saved ones are no conflict',
    flags: { resume: true, hidden: 16, seed: 7, batch: 8, seqLen: 16 }, resumed: resumeOf(saved()), expect: { seed: 7 },
  },
  { name: 'resume: a blocks run keeps its --val-split', flags: { resume: true }, resumed: resumeOf(saved({ valSplit: 'blocks' })), expect: { valSplit: 'blocks' } },
  {
    name: 'resume with --val-split given as saved: no conflict', flags: { resume: true, valSplit: 'blocks' },
    resumed: resumeOf(saved({ valSplit: 'blocks' })), expect: { valSplit: 'blocks' },
  },
  { name: 'resume: a checkpoint saved before --val-split held out the tail', flags: { resume: true }, resumed: resumeOf(saved()), expect: { valSplit: 'tail' } },
  {
    name: 'resume: a checkpoint saved before --val-split, --val-split tail given: no conflict', flags: { resume: true, valSplit: 'tail' },
    resumed: resumeOf(saved()), expect: { valSplit: 'tail' },
  },
];

const INIT_FROM: Case[] = [
  {
    name: '--init-from: its architecture, dropout and weight decay; this run\'s schedule and data order',
    flags: { initFrom: 'base', lr: 5e-4 }, initFrom: initFromOf(saved({ dropout: 0.25, weightDecay: 0.01, seed: 99 }, { hiddenSize: 16, cell: 'gru' })),
    expect: {
      model: { cell: 'gru', hiddenSize: 16, layers: 2, embeddingSize: 8 }, dropout: 0.25, weightDecay: 0.01, seed: DEFAULTS.seed, learningRate: 5e-4,
      seqLen: DEFAULTS.seqLen, batchSize: DEFAULTS.batchSize, initFrom: { checkpoint: 'checkpoints/base.best.safetensors', sha256: 'f00d', iteration: 500 },
    },
  },
  {
    name: '--init-from with --dropout and --weight-decay given: those win',
    flags: { initFrom: 'base', dropout: 0.1, weightDecay: 0 }, initFrom: initFromOf(saved({ dropout: 0.25, weightDecay: 0.01 })),
    expect: { dropout: 0.1, weightDecay: 0 },
  },
  {
    name: '--init-from a text with new characters: the model\'s vocabulary is the corpus\'s, not the checkpoint\'s',
    flags: { initFrom: 'base' }, initFrom: initFromOf(saved()), corpus: { ...SHAKESPEARE, fingerprint: { ...SHAKESPEARE.fingerprint, sha256: OTHER_SHA } },
    check: (p) => expect(Object.keys(p.config.model)).not.toContain('vocabSize'),
  },
  {
    name: '--init-from --time: the size rule stays out, the architecture is the checkpoint\'s',
    flags: { initFrom: 'base', time: 15 * 60000 }, initFrom: initFromOf(saved()), expect: { maxIters: 0, model: { cell: 'lstm', hiddenSize: 16 } },
    check: (p) => expect(p.recipe).toBeNull(),
  },
];

/** The bundled model, as shipped: a checkpoint that itself began with --init-from and kept snapshots. */
const BUNDLED_DIR = path.join(__dirname, '..', '..', 'checkpoints', 'bundled');
const bundledFile = fs.existsSync(BUNDLED_DIR) ? fs.readdirSync(BUNDLED_DIR).find((f) => f.endsWith('.safetensors')) : undefined;
const BUNDLED: Case[] = bundledFile === undefined ? [] : [(() => {
  const file = path.join(BUNDLED_DIR, bundledFile);
  const bundled = readCheckpointMeta(file);
  return {
    name: `--init-from bundled (${bundledFile}): its architecture, dropout and weight decay`,
    flags: { initFrom: 'bundled', lr: 5e-4, time: 10 * 60000 }, initFrom: initFromOf(bundled, file),
    expect: {
      model: { cell: bundled.model.cell, hiddenSize: bundled.model.hiddenSize, layers: bundled.model.layers },
      dropout: bundled.train.dropout, weightDecay: bundled.train.weightDecay, snapshots: false, initFrom: { checkpoint: file, sha256: 'f00d', iteration: bundled.progress.iteration },
    },
  };
})()];

/** Every earlier format, resumed: what its missing fields meant. */
const UPGRADED: Record<string, Expected> = {
  '513ab9e': { lrSchedule: 'constant', warmupIters: 0, minLr: DEFAULTS.learningRate * DEFAULTS.minLrFraction, dropout: 0, weightDecay: 0, init: 'orthogonal', averageTail: 0, snapshots: false, model: { cell: 'lstm', zoneout: 0 } },
  '90fc06f': { lrSchedule: 'cosine', warmupIters: 5, minLr: 0.001, dropout: 0.2, weightDecay: 0, init: 'glorot', averageTail: 0, model: { cell: 'gru', zoneout: 0.1 } },
  '4267419': { lrSchedule: 'step', weightDecay: 0.01, averageTail: 0 },
  '5239b4a': { averageTail: 0, model: { zoneout: 0.05, zoneoutCell: 0.5 } },
  '7ba5ade': { dropout: 0.25, averageTail: 0, initFrom: { checkpoint: 'checkpoints/base.safetensors', sha256: 'ab12', iteration: 900 } },
  '318e581': { snapshots: true, averageTail: 0 },
  'd70cafa': { averageTail: 0.2, snapshots: false },
};
const FORMAT_CASES: Case[] = FORMATS.flatMap((f): Case[] => [
  {
    name: `resume a checkpoint of format ${f.commit} (${f.what})`, flags: { resume: true },
    resumed: resumeOf(meta(f.train_config, f.model_config)), expect: { ...UPGRADED[f.commit], seed: 7, seqLen: 16, batchSize: 8, valSplit: 'tail' },
  },
  {
    name: `--init-from a checkpoint of format ${f.commit}`, flags: { initFrom: 'old' }, initFrom: initFromOf(meta(f.train_config, f.model_config)),
    expect: { dropout: UPGRADED[f.commit].dropout ?? 0, weightDecay: UPGRADED[f.commit].weightDecay ?? 0, init: UPGRADED[f.commit].init ?? 'orthogonal' },
  },
]);

const REFUSED: Case[] = [
  { name: 'refused: --name with a slash', flags: { name: 'a/b' }, refused: 'bad-name' },
  { name: 'refused: --resume with --init-from', flags: { resume: true, initFrom: 'base' }, refused: 'resume-and-init-from' },
  { name: 'refused: --resume with --overwrite', flags: { resume: true, overwrite: true }, refused: 'resume-and-overwrite' },
  { name: 'refused: --init with --init-from', flags: { initFrom: 'base', init: 'glorot' }, initFrom: initFromOf(saved()), refused: 'init-and-init-from' },
  { name: 'refused: --resume from weights only', flags: { resume: true }, resumed: resumeOf(saved(), false), refused: 'weights-only' },
  ...([
    ['cell', 'gru'], ['zoneout', 0.1], ['zoneoutCell', 0.2], ['init', 'glorot'], ['layers', 3], ['hidden', 32], ['embedding', 16],
    ['seqLen', 32], ['batch', 4], ['valFraction', 0.2], ['valSplit', 'blocks'], ['seed', 8],
  ] as Array<[keyof TrainFlags, unknown]>).map(([key, value]): Case => ({
    name: `refused: --resume with a differing ${key}`, flags: { resume: true, [key]: value }, resumed: resumeOf(saved()), refused: 'differs-on-resume',
  })),
  ...([['cell', 'gru'], ['layers', 3], ['hidden', 32], ['embedding', 16], ['zoneout', 0.1], ['zoneoutCell', 0.2]] as Array<[keyof TrainFlags, unknown]>)
    .map(([key, value]): Case => ({
      name: `refused: --init-from with a differing ${key}`, flags: { initFrom: 'base', [key]: value }, initFrom: initFromOf(saved()), refused: 'differs-from-init',
    })),
  {
    name: 'refused: --resume on another text', flags: { resume: true }, resumed: resumeOf(saved({}, {}, 1000, OTHER_SHA)), refused: 'other-corpus',
  },
  { name: 'refused by validation: --max-iters 0 without --time', flags: { maxIters: 0 }, fails: [UsageError, '--max-iters 0 needs a --time limit'] },
  { name: 'refused by validation: --init identity for an LSTM', flags: { init: 'identity' }, fails: [UsageError, '--init identity is for the vanilla RNNs'] },
  {
    name: 'refused by validation: a resumed run\'s saved --min-lr above a new --lr', flags: { resume: true, lr: 1e-4 }, resumed: resumeOf(saved()),
    fails: [UsageError, '--min-lr must be from 0 to --lr'],
  },
  {
    name: 'refused: a resumed run whose text no longer fits its --batch', flags: { resume: true }, resumed: resumeOf(saved()),
    corpus: { ...SHAKESPEARE, trainChars: 100 }, fails: [Error, 'cannot resume: the corpus no longer fits --batch 8'],
  },
  {
    name: 'refused: a damaged train_config (seqLen a string) is not trusted', flags: { resume: true },
    resumed: resumeOf(saved({ seqLen: 'x' as unknown as number })), fails: [CheckpointError, 'train_config.seqLen is invalid'],
  },
  {
    name: 'refused: --resume of a blocks run with --val-split tail', flags: { resume: true, valSplit: 'tail' },
    resumed: resumeOf(saved({ valSplit: 'blocks' })), refused: 'differs-on-resume',
  },
  {
    name: 'refused: a damaged train_config (an unknown valSplit) is not trusted', flags: { resume: true },
    resumed: resumeOf(saved({ valSplit: 'middle' as TrainConfig['valSplit'] })), fails: [CheckpointError, "train_config.valSplit 'middle'"],
  },
  {
    name: 'refused: a damaged train_config (an unknown schedule) is not trusted', flags: { initFrom: 'base' },
    initFrom: initFromOf(saved({ lrSchedule: 'linear' as TrainConfig['lrSchedule'] })), fails: [CheckpointError, "train_config.lrSchedule 'linear'"],
  },
];

/** train_config.weightDrop: written only above 0, so a run without it saves what it saved before the option existed. */
const noWeightDrop = (p: TrainPlan): void => expect(Object.prototype.hasOwnProperty.call(p.config, 'weightDrop')).toBe(false);
const WEIGHT_DROP: Case[] = [
  { name: 'weight drop: a fresh run without --weight-drop has no train_config.weightDrop', check: noWeightDrop },
  { name: 'weight drop: --weight-drop 0 is the same run as none', flags: { weightDrop: 0 }, check: noWeightDrop },
  { name: 'weight drop: --weight-drop 0.3 is recorded', flags: { weightDrop: 0.3 }, expect: { weightDrop: 0.3 } },
  {
    name: 'weight drop: the size rule leaves --weight-drop as given', flags: { time: 15 * 60000, weightDrop: 0.25 },
    expect: { weightDrop: 0.25 }, check: (p) => expect(p.recipe).not.toBeNull(),
  },
  { name: 'weight drop: --resume keeps the saved p', flags: { resume: true }, resumed: resumeOf(saved({ weightDrop: 0.4 })), expect: { weightDrop: 0.4 } },
  { name: 'weight drop: --resume with --weight-drop given takes it', flags: { resume: true, weightDrop: 0.1 }, resumed: resumeOf(saved({ weightDrop: 0.4 })), expect: { weightDrop: 0.1 } },
  { name: 'weight drop: --resume --weight-drop 0 turns it off', flags: { resume: true, weightDrop: 0 }, resumed: resumeOf(saved({ weightDrop: 0.4 })), check: noWeightDrop },
  { name: 'weight drop: --resume of a run without it stays without', flags: { resume: true }, resumed: resumeOf(saved()), check: noWeightDrop },
  { name: 'weight drop: --init-from carries it as it does dropout', flags: { initFrom: 'base' }, initFrom: initFromOf(saved({ weightDrop: 0.3 })), expect: { weightDrop: 0.3 } },
  { name: 'weight drop: --init-from with --weight-drop given takes it', flags: { initFrom: 'base', weightDrop: 0.2 }, initFrom: initFromOf(saved({ weightDrop: 0.3 })), expect: { weightDrop: 0.2 } },
  ...FORMATS.map((f): Case => ({
    name: `weight drop: a checkpoint of format ${f.commit} (${f.what}) resumes without weight drop`,
    flags: { resume: true }, resumed: resumeOf(meta(f.train_config, f.model_config)), check: noWeightDrop,
  })),
  { name: 'refused: --weight-drop 1', flags: { weightDrop: 1 }, fails: [UsageError, '--weight-drop must be at least 0 (off) and below 1, got 1'] },
  { name: 'refused: --weight-drop -0.1', flags: { weightDrop: -0.1 }, fails: [UsageError, '--weight-drop must be at least 0 (off) and below 1, got -0.1'] },
  {
    name: 'refused: a damaged train_config (weightDrop 1) is not trusted', flags: { resume: true },
    resumed: resumeOf(saved({ weightDrop: 1 })), fails: [CheckpointError, 'train_config.weightDrop is invalid (1)'],
  },
  {
    name: 'refused: a damaged train_config (weightDrop "0.2") is not trusted', flags: { resume: true },
    resumed: resumeOf(saved({ weightDrop: '0.2' as unknown as number })), fails: [CheckpointError, 'train_config.weightDrop is invalid ("0.2")'],
  },
];

const CASES: Case[] = [...FRESH, ...RESUMED, ...INIT_FROM, ...BUNDLED, ...FORMAT_CASES, ...REFUSED, ...WEIGHT_DROP];

describe('planTraining', () => {
  it('has a table of at least 30 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    if (c.refused) {
      let caught: unknown;
      try {
        plan(c);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(PlanRefusal);
      expect(caught).toBeInstanceOf(UsageError); // exit code 2
      expect((caught as PlanRefusal).kind).toBe(c.refused);
      return;
    }
    if (c.fails) {
      expect(() => plan(c)).toThrow(c.fails[0]);
      expect(() => plan(c)).toThrow(c.fails[1]);
      return;
    }
    const planned = plan(c);
    expect(Object.isFrozen(planned.config)).toBe(true);
    const { model, ...rest } = c.expect ?? {};
    expect(planned.config).toMatchObject(rest);
    if (model) expect(planned.config.model).toMatchObject(model);
    c.check?.(planned);
  });

  it('says each refusal in the words the command prints', () => {
    expect(() => plan({ name: '', flags: { resume: true, hidden: 32 }, resumed: resumeOf(saved()) }))
      .toThrow('--hidden 32 conflicts with the checkpoint being resumed (16); drop the flag or start a new --name');
    expect(() => plan({ name: '', flags: { initFrom: 'base', layers: 3 }, initFrom: initFromOf(saved()) }))
      .toThrow('--layers 3 conflicts with --init-from base (2); drop the flag, or train from scratch without --init-from');
    expect(() => plan({ name: '', flags: { resume: true }, resumed: resumeOf(saved({}, {}, 1000, OTHER_SHA)) }))
      .toThrow(/^--resume: checkpoints\/run.safetensors was trained on another text \(corpora\/tinyshakespeare.txt: sha256 beef11111111…, 1,115,394 characters\), not this one/);
  });

  it('says a differing --val-split on --resume as the command always has', () => {
    expect(() => plan({ name: '', flags: { resume: true, valSplit: 'blocks' }, resumed: resumeOf(saved()) }))
      .toThrow('--val-split blocks conflicts with the checkpoint being resumed (tail); drop the flag or start a new --name');
  });

  it('refuses the first differing flag in the order the command lists them', () => {
    expect(() => plan({ name: '', flags: { resume: true, init: 'glorot', hidden: 32, seed: 1 }, resumed: resumeOf(saved()) })).toThrow(/^--init glorot/);
  });

  it('does not change its inputs', () => {
    const resumed = resumeOf(saved());
    const before = JSON.stringify(resumed.meta);
    plan({ name: '', flags: { resume: true, lr: 0.005, time: 60000 }, resumed });
    expect(JSON.stringify(resumed.meta)).toBe(before);
  });
});

describe('ratesWanted', () => {
  const merged = (flags: Partial<TrainFlags>, given = Object.keys(flags)) =>
    flagsPlan('corpora/tinyshakespeare.txt', { ...DEFAULT_FLAGS, ...flags }, new Set(given));
  const fresh = { resumed: false, dryRun: false };

  it('asks for every candidate of the rule\'s cell at the run\'s shape on a fresh --time run', () => {
    const config = merged({ time: 60000 });
    expect(ratesWanted(config, new Set(['time']), 65, fresh)).toEqual({
      shape: { cell: 'gru', layers: 2, embeddingSize: 64, vocabSize: 65, batchSize: 32, seqLen: 64 }, hiddenSizes: RECIPE_HIDDEN_SIZES,
    });
  });

  it('asks for the given --hidden only, of the given --cell', () => {
    const wanted = ratesWanted(merged({ time: 60000, hidden: 300, cell: 'lstm' }), new Set(['time', 'hidden', 'cell']), 65, fresh);
    expect(wanted?.hiddenSizes).toEqual([300]);
    expect(wanted?.shape.cell).toBe('lstm');
  });

  it('asks for nothing where the rule does not run: no --time alone, a GPU backend, a resumed run, all three flags given', () => {
    expect(ratesWanted(merged({}), new Set(), 65, fresh)).toBeNull();
    expect(ratesWanted(merged({ time: 60000, maxIters: 10 }), new Set(['time', 'maxIters']), 65, fresh)).toBeNull();
    expect(ratesWanted(merged({ time: 60000, backend: 'gpujs' }), new Set(['time', 'backend']), 65, fresh)).toBeNull();
    expect(ratesWanted(merged({ time: 60000 }), new Set(['time']), 65, { resumed: true, dryRun: false })).toBeNull();
    const all = { time: 60000, cell: 'lstm' as const, hidden: 64, dropout: 0.1 };
    expect(ratesWanted(merged(all), new Set(Object.keys(all)), 65, fresh)).toBeNull();
  });

  it('a dry run with all three flags given still asks, and the plan estimates its passes without changing the model', () => {
    const all = { time: 60000, cell: 'lstm' as const, hidden: 64, dropout: 0.1 };
    const given = new Set(Object.keys(all));
    const config = merged(all);
    expect(ratesWanted(config, given, 65, { resumed: false, dryRun: true })?.hiddenSizes).toEqual([64]);
    const planned = corpusPlan(checkpointPlan(config, { ...DEFAULT_FLAGS, ...all }, given, {}), given, SHAKESPEARE,
      [{ layers: 2, hiddenSize: 64, charsPerSecond: 50000 }]);
    expect(planned.recipe).toBeNull();
    expect(planned.config.model.hiddenSize).toBe(64);
    expect(planned.estimate?.passes).toBeGreaterThan(0);
  });

  it('a --time run planned without the rates it needs is a bug, not a guess', () => {
    expect(() => corpusPlan(merged({ time: 60000 }), new Set(['time']), SHAKESPEARE, null)).toThrow('the size rule needs the rates');
  });
});
