// Tail weight averaging: the running mean is the mean of the points, evaluation sees the mean and
// training gets its raw weights back bit for bit, and a run's saved weights are the mean of the
// weights it visited on the stride in its tail, the raw ones beside them, unless the run's end
// found the raw weights validating lower: then those, the mean beside them.

import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { createWasmBackend } from '../../src/kernels/wasm';
import { createGpujsBackend } from '../../src/kernels/gpujs';
import { Backend } from '../../src/kernels/backend';
import { Model } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { AVERAGE_STRIDE, WeightAverage, inAverageTail, joinsAverage } from '../../src/engine/tail-average';
import { Adam } from '../../src/engine/optimizer';
import { Evaluator, Trainer, TrainProgress } from '../../src/engine/trainer';
import { defaultTrainConfig, validateConfig } from '../../src/config';
import { loadCheckpoint, restoreModel, restoreTrainingState, saveCheckpoint } from '../../src/checkpoint/checkpoint';
import { Vocab } from '../../src/data/vocab';

const V = 6;

function model(backend: Backend, seed: number): Model {
  const m = new Model(backend, { vocabSize: V, embeddingSize: 3, hiddenSize: 5, layers: 2, cell: 'gru', zoneout: 0 });
  m.initialize(new Rng(seed));
  return m;
}

async function weights(m: Model): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const p of m.params) out.push(Float32Array.from(await m.backend.download(p.value)));
  return out;
}

/** Sets every parameter to fresh random values: one more "point" of a run. */
function scramble(m: Model, rng: Rng): void {
  for (const p of m.params) m.backend.upload(p.value, Float32Array.from({ length: p.value.size }, () => rng.uniform() * 2 - 1));
}

describe('the tail and the stride', () => {
  it('joins on the stride from the tail on, never with tail 0', () => {
    expect(inAverageTail(0.3, 0.69)).toBe(false);
    expect(inAverageTail(0.3, 0.7)).toBe(true);
    expect(inAverageTail(0, 1)).toBe(false);
    expect(joinsAverage(0.3, 0.8, AVERAGE_STRIDE * 5)).toBe(true);
    expect(joinsAverage(0.3, 0.8, AVERAGE_STRIDE * 5 + 1)).toBe(false);
    expect(joinsAverage(0.3, 0.5, AVERAGE_STRIDE * 5)).toBe(false);
  });
});

// Through the seam only (download, upload): every backend the same way.
describe.each<[string, () => Backend | Promise<Backend>]>([
  ['reference', () => new ReferenceBackend()],
  ['wasm', () => createWasmBackend({ threads: 2 })],
  ['gpujs-cpu', () => createGpujsBackend({ mode: 'cpu' })],
])('WeightAverage on %s', (_name, make) => {
  let backend: Backend;
  beforeAll(async () => { backend = await make(); });
  afterAll(() => backend.destroy());

  it('holds the mean of the points added, to float32 rounding, and forgets them on reset', async () => {
    const m = model(backend, 1);
    const avg = new WeightAverage(backend, m.params);
    const rng = new Rng(2);
    const points: Float32Array[][] = [];
    for (let k = 0; k < 7; k++) {
      scramble(m, rng);
      points.push(await weights(m));
      await avg.add();
    }
    expect(avg.count).toBe(7);
    avg.mean.forEach((mean, i) => {
      for (let j = 0; j < mean.length; j++) {
        const exact = points.reduce((s, p) => s + p[i][j], 0) / points.length;
        expect(Math.abs(mean[j] - exact)).toBeLessThan(1e-6);
      }
    });
    avg.reset();
    expect(avg.count).toBe(0);
    scramble(m, rng);
    await avg.add(); // after a reset the first point is the mean
    const now = await weights(m);
    avg.mean.forEach((mean, i) => expect(Array.from(mean)).toEqual(Array.from(now[i])));
  });

  it('evaluates with the mean in place and puts the raw weights back exactly', async () => {
    const m = model(backend, 3);
    const avg = new WeightAverage(backend, m.params);
    const rng = new Rng(4);
    const tokens = Int32Array.from({ length: 40 }, () => Math.floor(rng.uniform() * V));
    const ev = new Evaluator(m, tokens, 2, 5);
    const rawLoss = await ev.meanLoss();
    expect(await avg.withMean(() => ev.meanLoss())).toBe(rawLoss); // no point yet: the raw weights
    await avg.add();
    scramble(m, rng);
    await avg.add();
    scramble(m, rng);
    const raw = await weights(m);
    const withMean = await avg.withMean(async () => ({ loss: await ev.meanLoss(), seen: await weights(m) }));
    withMean.seen.forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(avg.mean[i])));
    (await weights(m)).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(raw[i])));
    // The mean's loss is the loss of a model that holds the mean.
    const copy = model(backend, 9);
    copy.params.forEach((p, i) => backend.upload(p.value, avg.mean[i]));
    expect(withMean.loss).toBe(await new Evaluator(copy, tokens, 2, 5).meanLoss());
    expect(withMean.loss).not.toBe(await ev.meanLoss());
  });
});

describe('a run with --average-tail', () => {
  const backend = new ReferenceBackend();
  afterAll(() => backend.destroy());
  const rng = new Rng(11);
  const train = Int32Array.from({ length: 400 }, () => Math.floor(rng.uniform() * V));
  const val = Int32Array.from({ length: 60 }, () => Math.floor(rng.uniform() * V));
  const maxIters = 10 * AVERAGE_STRIDE;

  /** Trains maxIters steps with tail 0.5; returns the raw weights after each step, and the trainer. */
  async function run(evalEvery = AVERAGE_STRIDE, averageTail = 0.5): Promise<{
    after: Float32Array[][]; trainer: Trainer; m: Model; progress: TrainProgress; valLosses: number[]; choices: unknown[];
  }> {
    const config = validateConfig({
      ...defaultTrainConfig(), maxIters, averageTail, evalEvery, batchSize: 2, seqLen: 5, dropout: 0.1,
      model: { ...defaultTrainConfig().model, cell: 'gru', hiddenSize: 5, embeddingSize: 3, layers: 2 },
    });
    const m = model(backend, 5);
    const optimizer = new Adam(backend, m.params, config.learningRate);
    const progress: TrainProgress = { iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] };
    const trainer = new Trainer(m, optimizer, config, train, val, progress);
    const after: Float32Array[][] = [];
    const valLosses: number[] = [];
    const choices: unknown[] = [];
    await trainer.run({
      onStep: async () => {
        after.push(await weights(m));
        choices.push(progress.endChoice);
      },
      onEval: (info) => { valLosses.push(info.valLoss); },
      save: async () => undefined,
      stopRequested: () => false,
    });
    return { after, trainer, m, progress, valLosses, choices };
  }

  /** A run whose end made `choice`, saved as a training checkpoint in a fresh folder, and read back. */
  async function savedRun(choice: NonNullable<TrainProgress['endChoice']>): Promise<
    Awaited<ReturnType<typeof run>> & { dir: string; file: string; saved: ReturnType<typeof loadCheckpoint> }
  > {
    const done = await run();
    const { trainer, m, progress } = done;
    progress.endChoice = choice;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-average-'));
    const file = path.join(dir, 'run.safetensors');
    const meta = {
      model: m.config, train: trainer.config, vocab: new Vocab(['a', 'b', 'c', 'd', 'e', 'f']), progress, adamStep: trainer.optimizer.step,
      corpus: { source: 'x', sha256: '0', characters: 460 }, createdAt: '',
    };
    await saveCheckpoint(file, meta, m, trainer.optimizer, trainer.workspace, trainer.average);
    return { ...done, dir, file, saved: loadCheckpoint(file) };
  }

  /** Validation loss of a fresh model holding `values`. */
  async function lossOf(values: readonly Float32Array[]): Promise<number> {
    const copy = model(backend, 9);
    copy.params.forEach((p, i) => backend.upload(p.value, values[i]));
    return new Evaluator(copy, val, 2, 5).meanLoss();
  }

  it('averages the raw weights at every stride step of the tail, and validates the mean', async () => {
    const { after, trainer, m, progress, valLosses } = await run();
    // Steps are numbered from 1; a step joins when the run was at least half done before it.
    const joined = after.map((_, k) => k + 1).filter((iteration) => (iteration - 1) / maxIters >= 0.5 && iteration % AVERAGE_STRIDE === 0);
    expect(joined).toEqual([24, 28, 32, 36, 40]);
    expect(trainer.average!.count).toBe(joined.length);
    expect(progress.averaged).toBe(joined.length);
    trainer.average!.mean.forEach((mean, i) => {
      for (let j = 0; j < mean.length; j++) {
        const exact = joined.reduce((s, it) => s + after[it - 1][i][j], 0) / joined.length;
        expect(Math.abs(mean[j] - exact)).toBeLessThan(1e-6);
      }
    });
    // The last validation pass (at iteration 40) scored the mean; the model holds the raw weights again.
    (await weights(m)).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(after[after.length - 1][i])));
    const copy = model(backend, 9);
    copy.params.forEach((p, i) => backend.upload(p.value, trainer.average!.mean[i]));
    expect(valLosses[valLosses.length - 1]).toBe(await new Evaluator(copy, val, 2, 5).meanLoss());
  });

  it('ends on whichever of the mean and the raw weights validates lower, both measured, whenever the last validation came', async () => {
    // evalEvery 4: the last step's validation scored the mean, the end adds the raw weights;
    // evalEvery 6: 40 is no multiple, so the end measures both at once.
    // Tail 0.5 ends on the mean, 0.9 (points from early in the run) on the raw weights: both ways are seen.
    const chosen = new Set<string>();
    for (const [evalEvery, tail] of [[AVERAGE_STRIDE, 0.5], [6, 0.5], [AVERAGE_STRIDE, 0.9], [6, 0.9]]) {
      const { after, progress, trainer, valLosses, choices } = await run(evalEvery, tail);
      const raw = await lossOf(after[after.length - 1]);
      const mean = await lossOf(trainer.average!.mean);
      expect(progress.endChoice).toEqual({ mean, raw, chose: raw < mean ? 'raw' : 'mean' });
      chosen.add(progress.endChoice!.chose);
      expect(progress.lastValLoss).toBe(Math.min(raw, mean));
      expect(progress.history[progress.history.length - 1]).toMatchObject({ iteration: maxIters, valLoss: Math.min(raw, mean) });
      expect(progress.bestValLoss).toBeLessThanOrEqual(Math.min(raw, mean));
      // onEval heard the mean at a validation that fell on the last step, the choice when the end measured both.
      expect(valLosses[valLosses.length - 1]).toBe(evalEvery === AVERAGE_STRIDE ? mean : Math.min(raw, mean));
      expect(choices.every((c) => c === undefined)).toBe(true); // no choice while it trains
    }
    expect([...chosen].sort()).toEqual(['mean', 'raw']);
  });

  it('makes no choice when interrupted, and none without a mean', async () => {
    const config = validateConfig({
      ...defaultTrainConfig(), maxIters, averageTail: 0, evalEvery: 6, batchSize: 2, seqLen: 5,
      model: { ...defaultTrainConfig().model, cell: 'gru', hiddenSize: 5, embeddingSize: 3, layers: 2 },
    });
    const progress = (): TrainProgress => ({ iteration: 0, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] });
    const m = model(backend, 5);
    const plain = progress();
    await new Trainer(m, new Adam(backend, m.params, 0.002), config, train, val, plain)
      .run({ save: async () => undefined, stopRequested: () => false });
    expect(plain.endChoice).toBeUndefined();
    const tailed = progress();
    let steps = 0;
    await new Trainer(m, new Adam(backend, m.params, 0.002), { ...config, averageTail: 0.5 }, train, val, tailed)
      .run({ onStep: () => { steps += 1; }, save: async () => undefined, stopRequested: () => steps >= maxIters - 2 });
    expect(tailed.averaged).toBeGreaterThan(0);
    expect(tailed.endChoice).toBeUndefined();
  });

  it('saves the raw weights under the model names when the end chose them, the mean as optimizer.mean.*, and resumes both', async () => {
    const { trainer, m, progress, dir, file, saved } = await savedRun({ mean: 2, raw: 1, chose: 'raw' });
    expect(saved.meta.progress.endChoice).toEqual({ mean: 2, raw: 1, chose: 'raw' });
    const raw = await weights(m);
    m.params.forEach((p, i) => {
      expect(Array.from(saved.tensors.get(p.name)!.data)).toEqual(Array.from(raw[i]));
      expect(Array.from(saved.tensors.get(`optimizer.iterate.${p.name}`)!.data)).toEqual(Array.from(raw[i]));
      expect(Array.from(saved.tensors.get(`optimizer.mean.${p.name}`)!.data)).toEqual(Array.from(trainer.average!.mean[i]));
    });
    // Weights only (sampling, `rnn eval`, PyTorch): the raw weights.
    const only = loadCheckpoint(file, { weightsOnly: true });
    expect([...only.tensors.keys()].some((n) => n.startsWith('optimizer.'))).toBe(false);

    const again = model(backend, 77);
    const optimizer = new Adam(backend, again.params, 0.002);
    const on = { ...saved.meta.progress };
    const resumed = new Trainer(again, optimizer, { ...trainer.config, maxIters: maxIters + 8 }, train, val, on);
    restoreModel(saved, again);
    restoreTrainingState(saved, again, optimizer, resumed.workspace, resumed.average);
    expect(resumed.average!.count).toBe(progress.averaged);
    resumed.average!.mean.forEach((mean, i) => expect(Array.from(mean)).toEqual(Array.from(trainer.average!.mean[i])));
    (await weights(again)).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(raw[i])));
    // Resumed with a longer run, it trains on the raw weights, drops the choice at its first step and makes its own at the end.
    const seen: unknown[] = [];
    await resumed.run({ onStep: () => { seen.push(on.endChoice); }, save: async () => undefined, stopRequested: () => false });
    expect(seen).toEqual(Array(8).fill(undefined));
    expect(on.endChoice).toBeDefined();
    expect(on.endChoice!.mean).not.toBe(2);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('saves the mean under the model names and the raw weights as optimizer.iterate.*, and restores both', async () => {
    const { trainer, m, progress, dir, file, saved } = await savedRun({ mean: 1, raw: 2, chose: 'mean' });
    const raw = await weights(m);
    m.params.forEach((p, i) => {
      expect(Array.from(saved.tensors.get(p.name)!.data)).toEqual(Array.from(trainer.average!.mean[i]));
      expect(Array.from(saved.tensors.get(`optimizer.iterate.${p.name}`)!.data)).toEqual(Array.from(raw[i]));
    });
    // Weights only (sampling, `rnn eval`, PyTorch): the mean, and no iterate.
    expect([...loadCheckpoint(file, { weightsOnly: true }).tensors.keys()].some((n) => n.includes('iterate'))).toBe(false);
    expect([...saved.tensors.keys()].some((n) => n.startsWith('optimizer.mean.'))).toBe(false);
    // bench/raw-weights.js writes the raw weights under the plain names, weights only.
    const rawFile = path.join(dir, 'raw.safetensors');
    const script = spawnSync(process.execPath, [path.join(__dirname, '..', '..', 'bench', 'raw-weights.js'), file, rawFile], { encoding: 'utf8' });
    expect(script.status).toBe(0);
    const rawOnly = loadCheckpoint(rawFile);
    expect([...rawOnly.tensors.keys()].sort()).toEqual(m.params.map((p) => p.name).sort());
    m.params.forEach((p, i) => expect(Array.from(rawOnly.tensors.get(p.name)!.data)).toEqual(Array.from(raw[i])));
    expect(rawOnly.meta.progress).toMatchObject({ iteration: progress.iteration, averaged: 0, lastValLoss: null });

    const again = model(backend, 77);
    const optimizer = new Adam(backend, again.params, 0.002);
    const resumed = new Trainer(again, optimizer, trainer.config, train, val, { ...saved.meta.progress });
    restoreModel(saved, again);
    restoreTrainingState(saved, again, optimizer, resumed.workspace, resumed.average);
    expect(resumed.average!.count).toBe(progress.averaged);
    resumed.average!.mean.forEach((mean, i) => expect(Array.from(mean)).toEqual(Array.from(trainer.average!.mean[i])));
    (await weights(again)).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(raw[i])));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
