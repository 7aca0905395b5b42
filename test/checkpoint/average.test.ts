// averageCheckpoints: the element-wise mean of one run's checkpoints, and refusal of any other mix.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { CheckpointMeta, loadCheckpoint, saveCheckpoint } from '../../src/checkpoint/checkpoint';
import { averageCheckpoints } from '../../src/checkpoint/average-files';
import { encodeSafetensors, openSafetensorsFile } from '../../src/checkpoint/safetensors';
import { ModelConfig, defaultTrainConfig } from '../../src/config';
import { Vocab } from '../../src/data/vocab';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { Rng } from '../../src/engine/rng';
import { ReferenceBackend } from '../../src/kernels/reference/reference';

describe('averageCheckpoints', () => {
  let dir: string;
  const vocab = Vocab.fromText('abcdefg\n');
  // Odd, distinct sizes, so a tensor mixed up with another cannot pass.
  const config: ModelConfig = { vocabSize: vocab.size, embeddingSize: 3, hiddenSize: 5, layers: 2, cell: 'gru', zoneout: 0 };
  const backend = new ReferenceBackend('float32');

  function meta(iteration: number, over: Partial<CheckpointMeta> = {}): CheckpointMeta {
    return {
      model: config, train: defaultTrainConfig(), vocab, adamStep: iteration, createdAt: `t${iteration}`,
      progress: {
        iteration, epoch: 0, window: 0, bestValLoss: 2 - iteration / 100, lastValLoss: 2 - iteration / 100, lastTrainLoss: 1.5, elapsedMs: iteration,
        history: [{ iteration, trainLoss: 1.5, valLoss: 2 - iteration / 100 }],
      },
      corpus: { source: 'test', sha256: 'abc', characters: 8 }, ...over,
    };
  }

  /** A checkpoint with weights drawn from `seed`, with the optimizer state when `resumable`. */
  async function write(name: string, seed: number, m: CheckpointMeta, resumable = true): Promise<string> {
    const model = new Model(backend, m.model);
    // Every value random (initialize() leaves the biases at zero, where a mean cannot be wrong).
    const rng = new Rng(seed);
    for (const p of model.params) backend.upload(p.value, Float32Array.from({ length: p.value.rows * p.value.cols }, () => 2 * rng.uniform() - 1));
    const file = path.join(dir, `${name}.safetensors`);
    await saveCheckpoint(file, m, model, resumable ? new Adam(backend, model.params, 0.01) : null, resumable ? model.workspace(2, 1) : null);
    return file;
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-average-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives each weight the mean of the sources, in float64 rounded once, with the latest source\'s metadata', async () => {
    // Out of iteration order, one weights-only: the order given and the kind of file do not matter.
    const files = [await write('a', 1, meta(30)), await write('b', 2, meta(10), false), await write('c', 3, meta(20))];
    const result = averageCheckpoints(files);
    const out = path.join(dir, 'mean.safetensors');
    fs.writeFileSync(out, result.encode(null));

    const mean = loadCheckpoint(out);
    const sources = files.map((f) => loadCheckpoint(f, { weightsOnly: true }));
    expect([...mean.tensors.keys()]).toEqual([...sources[0].tensors.keys()]); // weights only
    let parameters = 0;
    for (const [name, t] of mean.tensors) {
      const expected = Float32Array.from(t.data, (_, i) => sources.reduce((sum, s) => sum + s.tensors.get(name)!.data[i], 0) / 3);
      expect(t.data).toEqual(expected);
      expect(t.data).not.toEqual(sources[0].tensors.get(name)!.data);
      parameters += t.data.length;
    }
    expect(result.parameters).toBe(parameters);

    expect(mean.meta.progress.iteration).toBe(30);
    expect(mean.meta.createdAt).toBe('t30');
    expect(mean.meta.progress.bestValLoss).toBeNull(); // the mean itself was never measured
    expect(mean.meta.progress.lastValLoss).toBeNull();
    expect(mean.meta.averagedFrom).toEqual([
      { checkpoint: files[0], iteration: 30, valLoss: 1.7 },
      { checkpoint: files[1], iteration: 10, valLoss: 1.9 },
      { checkpoint: files[2], iteration: 20, valLoss: 1.8 },
    ]);
    // A loss measured on the mean is recorded as its own; the sources' history is kept as it was.
    fs.writeFileSync(out, result.encode(1.25));
    const measured = loadCheckpoint(out, { weightsOnly: true }).meta;
    expect([measured.progress.bestValLoss, measured.progress.lastValLoss]).toEqual([1.25, 1.25]);
    expect(measured.progress.history).toEqual(meta(30).progress.history);
    expect(result.checkpoint.meta.averagedFrom).toEqual(measured.averagedFrom);
  });

  it('refuses checkpoints of another model, vocabulary, corpus or seed, naming what differs', async () => {
    const base = await write('base', 1, meta(10));
    const wider = await write('wider', 1, meta(20, { model: { ...config, hiddenSize: 6 } }));
    expect(() => averageCheckpoints([base, wider])).toThrow(/is a 2x6 gru .* and .* a 2x5 gru .*: only checkpoints of one model can be averaged/);
    const otherVocab = Vocab.fromText('hijklmn\n');
    const words = await write('words', 1, meta(20, { vocab: otherVocab }));
    expect(() => averageCheckpoints([base, words])).toThrow('have different vocabularies');
    const seeded = await write('seeded', 1, meta(20, { train: { ...defaultTrainConfig(), seed: 99 } }));
    expect(() => averageCheckpoints([base, seeded])).toThrow('come from different runs (corpus or --seed differ)');
    const corpus = await write('corpus', 1, meta(20, { corpus: { source: 'test', sha256: 'def', characters: 8 } }));
    expect(() => averageCheckpoints([base, corpus])).toThrow('come from different runs');
    expect(() => averageCheckpoints([base])).toThrow('at least two checkpoints');
  });

  it('refuses a source with a NaN weight, naming the file and tensor', async () => {
    const good = await write('good', 1, meta(10));
    const source = loadCheckpoint(good);
    const broken = path.join(dir, 'broken.safetensors');
    const open = openSafetensorsFile(good);
    const tensors = [...source.tensors.values()].map((t) => (t.name === 'decoder.bias' ? { ...t, data: Float32Array.from(t.data, (x, i) => (i === 2 ? NaN : x)) } : t));
    fs.writeFileSync(broken, encodeSafetensors(tensors, open.metadata));
    open.close();
    expect(() => averageCheckpoints([good, broken])).toThrow(`${broken}: tensor 'decoder.bias' holds NaN at value 2; leave that checkpoint out`);
  });
});
