// loadCheckpoint and openCheckpoint: weights-only reads give the model, and skip the optimizer moments and state.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { hasTrainingState, loadCheckpoint, openCheckpoint, restoreModel, saveCheckpoint } from '../../src/checkpoint/checkpoint';
import { encodeSafetensors, readSafetensorsFile } from '../../src/checkpoint/safetensors';
import { ModelConfig, defaultTrainConfig } from '../../src/config';
import { Vocab } from '../../src/data/vocab';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { Rng } from '../../src/engine/rng';
import { ReferenceBackend } from '../../src/kernels/reference/reference';

describe('loadCheckpoint', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'rnn-checkpoint-'));
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('with weightsOnly reads every weight, equal to a full load, and no optimizer or state tensor', async () => {
    const vocab = Vocab.fromText('abcdefg\n');
    const config: ModelConfig = { vocabSize: vocab.size, embeddingSize: 3, hiddenSize: 5, layers: 2, cell: 'lstm', zoneout: 0 };
    const backend = new ReferenceBackend('float32');
    const model = new Model(backend, config);
    model.initialize(new Rng(2));
    const optimizer = new Adam(backend, model.params, 0.01);
    const carried = model.workspace(2, 1);
    const file = path.join(dir, 'run.safetensors');
    await saveCheckpoint(file, {
      model: config, train: defaultTrainConfig(), vocab, adamStep: 3, createdAt: '',
      progress: { iteration: 3, epoch: 0, window: 0, bestValLoss: null, lastValLoss: null, lastTrainLoss: null, elapsedMs: 0, history: [] },
      corpus: { source: 'test', sha256: '', characters: 8 },
    }, model, optimizer, carried);

    const full = loadCheckpoint(file);
    const weights = loadCheckpoint(file, { weightsOnly: true });
    expect(hasTrainingState(full)).toBe(true);
    expect(hasTrainingState(weights)).toBe(false);
    expect([...weights.tensors.keys()].sort()).toEqual(model.params.map((p) => p.name).sort());
    for (const [name, tensor] of weights.tensors) expect(tensor).toEqual(full.tensors.get(name));
    expect(weights.meta).toEqual(full.meta);
    const restored = new Model(backend, weights.meta.model);
    expect(() => restoreModel(weights, restored)).not.toThrow();
  });

  it('openCheckpoint restores the same weights as loadCheckpoint + restoreModel, block by block', async () => {
    const file = path.join(dir, 'run.safetensors'); // written by the test above
    const backend = new ReferenceBackend('float32');
    const loaded = loadCheckpoint(file);
    const viaLoad = new Model(backend, loaded.meta.model);
    restoreModel(loaded, viaLoad);
    const open = openCheckpoint(file);
    expect(open.meta).toEqual(loaded.meta);
    // 7 values a block: one row of 5, two rows of 3, and a last block shorter than the rest.
    for (const blockValues of [undefined, 7]) {
      const viaOpen = new Model(backend, open.meta.model);
      open.restoreModel(viaOpen, blockValues);
      for (let i = 0; i < viaLoad.params.length; i++) {
        expect(await backend.download(viaOpen.params[i].value)).toEqual(await backend.download(viaLoad.params[i].value));
      }
    }
    open.close();
  });

  it('openCheckpoint refuses a missing weight or a wrong shape by name', () => {
    const source = readSafetensorsFile(path.join(dir, 'run.safetensors'));
    const meta = loadCheckpoint(path.join(dir, 'run.safetensors')).meta;
    const backend = new ReferenceBackend('float32');
    const without = path.join(dir, 'without.safetensors');
    fs.writeFileSync(without, encodeSafetensors([...source.tensors.values()].filter((t) => t.name !== 'decoder.bias'), source.metadata));
    const a = openCheckpoint(without);
    expect(() => a.restoreModel(new Model(backend, meta.model))).toThrow(`${without} lacks tensor 'decoder.bias'`);
    a.close();
    const reshaped = path.join(dir, 'reshaped.safetensors');
    const tensors = [...source.tensors.values()].map((t) => (t.name === 'decoder.bias' ? { ...t, shape: [1, t.data.length] } : t));
    fs.writeFileSync(reshaped, encodeSafetensors(tensors, source.metadata));
    const b = openCheckpoint(reshaped);
    expect(() => b.restoreModel(new Model(backend, meta.model))).toThrow(`${reshaped}: tensor 'decoder.bias' has shape [1,${meta.model.vocabSize}], expected [${meta.model.vocabSize}]`);
    b.close();
  });

  it('refuses a zoneout probability outside [0, 1) in model_config, naming the key', () => {
    const source = readSafetensorsFile(path.join(dir, 'run.safetensors'));
    const model = JSON.parse(source.metadata.model_config);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ zoneout: 1.5 }, 'zoneout'], [{ zoneout: 'high' }, 'zoneout'], [{ zoneout: -0.1 }, 'zoneout'],
      [{ zoneoutCell: 1 }, 'zoneoutCell'], [{ zoneoutCell: null }, 'zoneoutCell'], [{ zoneoutCell: -1 }, 'zoneoutCell'],
    ];
    for (const [change, key] of cases) {
      const file = path.join(dir, 'zoneout.safetensors');
      fs.writeFileSync(file, encodeSafetensors([...source.tensors.values()], { ...source.metadata, model_config: JSON.stringify({ ...model, ...change }) }));
      expect(() => loadCheckpoint(file)).toThrow(`${file}: model_config.${key} is invalid`);
    }
    const fine = path.join(dir, 'zoneout-fine.safetensors');
    fs.writeFileSync(fine, encodeSafetensors([...source.tensors.values()], { ...source.metadata, model_config: JSON.stringify({ ...model, zoneout: 0.2, zoneoutCell: 0.5 }) }));
    expect(loadCheckpoint(fine).meta.model).toMatchObject({ zoneout: 0.2, zoneoutCell: 0.5 });
  });

  it('checks train_config as it reads it, naming the key, and keeps it as written', () => {
    const source = readSafetensorsFile(path.join(dir, 'run.safetensors'));
    const train = JSON.parse(source.metadata.train_config);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ seqLen: 'x' }, 'train_config.seqLen is invalid'], [{ batchSize: 0 }, 'train_config.batchSize is invalid'],
      [{ seed: undefined }, 'train_config.seed is invalid'], [{ dropout: -1 }, 'train_config.dropout is invalid'],
      [{ lrSchedule: 'linear' }, "train_config.lrSchedule 'linear' is not one of"], [{ init: 7 }, "train_config.init '7' is not one of"],
      [{ initFrom: { checkpoint: 3 } }, 'train_config.initFrom is not a checkpoint'],
    ];
    for (const [change, message] of cases) {
      const file = path.join(dir, 'train-config.safetensors');
      fs.writeFileSync(file, encodeSafetensors([...source.tensors.values()], { ...source.metadata, train_config: JSON.stringify({ ...train, ...change }) }));
      expect(() => loadCheckpoint(file)).toThrow(`${file}: ${message}`);
    }
    // The first format had no schedule, dropout or init: read as written, not filled in.
    const { lrSchedule: _s, warmupIters: _w, minLr: _m, dropout: _d, weightDecay: _wd, init: _i, averageTail: _a, ...first } = train;
    const old = path.join(dir, 'first-format.safetensors');
    fs.writeFileSync(old, encodeSafetensors([...source.tensors.values()], { ...source.metadata, train_config: JSON.stringify(first) }));
    expect(loadCheckpoint(old).meta.train).toEqual(first);
  });
});
