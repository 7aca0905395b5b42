// Dynamic evaluation (src/engine/dynamic.ts): the update by hand on the float64 reference, a
// PyTorch witness on every backend, the honest order (score, then update), and the static reading.

import * as fs from 'fs';
import * as path from 'path';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Backend, CellName } from '../../src/kernels/backend';
import { Model } from '../../src/engine/model';
import { Evaluator } from '../../src/engine/trainer';
import { Rng } from '../../src/engine/rng';
import { DynamicSettings, DynamicUpdate, StreamReader, dynamicEvaluation } from '../../src/engine/dynamic';
import { ModelConfig } from '../../src/config';
import { GRADCHECK_BACKENDS, SKIPS } from '../kernels/backends';

const V = 7;
const CELLS: CellName[] = ['lstm', 'peephole', 'gru', 'rnn-tanh', 'rnn-relu'];

function tinyModel(backend: Backend, cell: CellName, zoneout = 0, seed = 5): Model {
  const config: ModelConfig = { vocabSize: V, embeddingSize: 4, hiddenSize: 5, layers: 2, cell, zoneout };
  const model = new Model(backend, config);
  model.initialize(new Rng(seed));
  // Nonzero peepholes and biases, so their gradients and updates show.
  const rng = new Rng(seed + 1);
  for (const p of model.params) {
    if (p.name.includes('peep') || p.name.includes('bias')) backend.upload(p.value, Float64Array.from({ length: p.value.size }, () => rng.uniform() - 0.5));
  }
  return model;
}

async function weights(model: Model): Promise<Float64Array[]> {
  return Promise.all(model.params.map(async (p) => Float64Array.from(await model.backend.download(p.value))));
}

function expectAllClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) throw new Error(`${what}[${i}]: got ${got[i]}, want ${want[i]}`);
  }
}

describe('dynamic evaluation by hand (float64 reference)', () => {
  // Two segments of 4 over 9 tokens: the first update starts at θ₀, the second shows the decay.
  const tokens = Int32Array.from([3, 0, 6, 2, 2, 5, 1, 4, 0]);
  const settings: DynamicSettings = { learningRate: 0.3, decay: 0.2, seqLen: 4, rule: 'sgd' };

  for (const [cell, zoneout] of [...CELLS.map((c) => [c, 0] as const), ['lstm', 0.3] as const, ['gru', 0.25] as const]) {
    it(`${cell}${zoneout ? `, zoneout ${zoneout} at its expectation` : ''}: each segment is scored, then θ ← (1−λ)θ + λθ₀ − η∇`, async () => {
      const be = new ReferenceBackend('float64');
      const model = tinyModel(be, cell, zoneout);
      const theta0 = await weights(model);
      const update = new DynamicUpdate(model, settings);
      const reader = new StreamReader(model, settings.seqLen);
      const sum = await reader.read(tokens, update);
      const dynamicWeights = await weights(model);

      // By hand: a second model of the same weights, a static forward/backward per segment (an
      // evaluation workspace: zoneout at p), the update computed here in float64.
      const twin = tinyModel(be, cell, zoneout);
      const ws = twin.workspace(1, 4);
      ws.resetState();
      let theta = theta0.map((w) => Float64Array.from(w));
      let lossNats = 0;
      for (let s = 0; s < 2; s++) {
        twin.params.forEach((p, i) => be.upload(p.value, theta[i]));
        be.uploadIndices(ws.tokens, tokens.subarray(4 * s, 4 * s + 4));
        be.uploadIndices(ws.targets, tokens.subarray(4 * s + 1, 4 * s + 5));
        twin.forward(ws, true, true);
        lossNats += (await be.download(ws.loss))[0];
        twin.backward(ws);
        const grads = await Promise.all(twin.params.map(async (p) => Float64Array.from(await be.download(p.grad))));
        theta = theta.map((w, i) => w.map((x, k) => (1 - settings.decay) * x + settings.decay * theta0[i][k] - settings.learningRate * grads[i][k]));
        ws.carryState();
      }
      expect(sum.predictions).toBe(8);
      expect(sum.lossNats).toBeCloseTo(lossNats, 12);
      model.params.forEach((p, i) => expectAllClose(dynamicWeights[i], theta[i], 1e-12, p.name));
      // The weights moved (the check above is not of θ₀ against θ₀), and reset() puts θ₀ back.
      expect(Math.max(...dynamicWeights.map((w, i) => Math.max(...w.map((x, k) => Math.abs(x - theta0[i][k])))))).toBeGreaterThan(1e-3);
      update.reset();
      (await weights(model)).forEach((w, i) => expect(Array.from(w)).toEqual(Array.from(theta0[i])));
      update.dispose();
      reader.dispose();
    });
  }

  it('without an update is the static evaluation of one stream (the Evaluator with --batch 1)', async () => {
    const be = new ReferenceBackend('float64');
    const model = tinyModel(be, 'gru');
    const rng = new Rng(9);
    const text = Int32Array.from({ length: 31 }, () => Math.floor(rng.uniform() * V));
    const reader = new StreamReader(model, 4);
    const got = await reader.read(text, null);
    const want = await new Evaluator(model, text, 1, 4).evaluate();
    expect(got.predictions).toBe(want.predictions);
    expect(got.lossNats).toBeCloseTo(want.lossNats, 12);
  });

  it('leaves out the pairs `counted` marks 0 from the sum, as the Evaluator does', async () => {
    const be = new ReferenceBackend('float64');
    const model = tinyModel(be, 'lstm');
    const rng = new Rng(10);
    const text = Int32Array.from({ length: 23 }, () => Math.floor(rng.uniform() * V));
    const counted = new Uint8Array(text.length).fill(1);
    for (const j of [2, 7, 20]) counted[j] = 0;
    const got = await new StreamReader(model, 4).read(text, null, counted);
    const want = await new Evaluator(model, text, 1, 4, counted).evaluate();
    expect(got.predictions).toBe(want.predictions);
    expect(got.lossNats).toBeCloseTo(want.lossNats, 12);
  });
});

describe('the honest order: no character is scored after an update that used it', () => {
  // Uniformly random characters: no reader can expect less than log V nats/char. A reader that
  // updated on a segment before scoring it would score far less, having learnt the segment.
  const N = 3000;
  const rng = new Rng(2026);
  const text = Int32Array.from({ length: N }, () => Math.floor(rng.uniform() * V));
  const settings: DynamicSettings = { learningRate: 3, decay: 0, seqLen: 20, rule: 'sgd' };

  it('dynamic evaluation of random text stays at log V or above', async () => {
    const model = tinyModel(new ReferenceBackend('float64'), 'lstm');
    const result = await dynamicEvaluation(model, text, null, settings);
    expect(result.predicted).toBe(N - 1);
    // Sampling noise of the empirical entropy over 3000 characters is about 0.02 nats.
    expect(result.lossNats).toBeGreaterThan(Math.log(V) - 0.05);
    expect(result.lossNats).toBeLessThan(Math.log(V) + 1); // and it reads: lr 3 does not blow up
  });

  it('an update-then-score reader (the broken order) would fall far below: the check above can fail', async () => {
    const be = new ReferenceBackend('float64');
    const model = tinyModel(be, 'lstm');
    const update = new DynamicUpdate(model, settings);
    const ws = model.workspace(1, settings.seqLen);
    ws.resetState();
    let lossNats = 0, predictions = 0;
    for (let start = 0; start + settings.seqLen < N; start += settings.seqLen) {
      be.uploadIndices(ws.tokens, text.subarray(start, start + settings.seqLen));
      be.uploadIndices(ws.targets, text.subarray(start + 1, start + settings.seqLen + 1));
      for (let k = 0; k < 3; k++) { // learn the segment first
        model.forward(ws, true, true);
        model.backward(ws);
        update.apply();
      }
      model.forward(ws, true, false);
      lossNats += (await be.download(ws.loss))[0];
      predictions += settings.seqLen;
      ws.carryState();
    }
    // Below the bound the honest test holds dynamic evaluation to, by a margin.
    expect(lossNats / predictions).toBeLessThan(Math.log(V) - 0.1);
    update.dispose();
  });
});

interface DynamicWitness {
  cell: CellName;
  sizes: { V: number; E: number; H: number; L: number; T: number };
  segments: Array<{ inputs: number[]; targets: number[] }>;
  initial_params: Record<string, { data: number[] }>;
  sgd: { lr: number; decay: number; losses: number[]; final_params: Record<string, { data: number[] }> };
  rms: { lr: number; decay: number; epsilon: number; ms: Record<string, { data: number[] }>; losses: number[]; final_params: Record<string, { data: number[] }> };
}

/** The witness's run on a backend: the engine's StreamReader over the witness's text. */
async function runWitness(w: DynamicWitness, backend: Backend, rule: 'sgd' | 'rms'): Promise<{ losses: number[]; params: Map<string, Float64Array> }> {
  const { V: vocabSize, E, H, L, T } = w.sizes;
  const model = new Model(backend, { vocabSize, embeddingSize: E, hiddenSize: H, layers: L, cell: w.cell, zoneout: 0 });
  for (const p of model.params) backend.upload(p.value, w.initial_params[p.name].data);
  const run = w[rule];
  const rms = rule === 'rms' ? model.params.map((p) => Float64Array.from(w.rms.ms[p.name].data)) : null;
  const update = new DynamicUpdate(model, { learningRate: run.lr, decay: run.decay, seqLen: T, rule }, rms);
  const reader = new StreamReader(model, T);
  // The text again: segment s's inputs are its characters s·T.., and the last target ends it.
  const ids = Int32Array.from([...w.segments.flatMap((s) => s.inputs), w.segments[w.segments.length - 1].targets.slice(-1)[0]]);
  // One read per segment, the state kept between them, so each segment's mean loss shows on its own.
  const losses: number[] = [];
  for (const [s, segment] of w.segments.entries()) {
    const steps = segment.inputs.length;
    const sum = await reader.read(ids.subarray(s * T, s * T + steps + 1), update, null, s > 0);
    losses.push(sum.lossNats / sum.predictions);
  }
  const params = new Map<string, Float64Array>();
  for (const p of model.params) params.set(p.name, Float64Array.from(await backend.download(p.value)));
  update.dispose();
  reader.dispose();
  return { losses, params };
}

const WITNESS_CELLS: CellName[] = ['lstm', 'gru', 'rnn-tanh', 'rnn-relu'];
for (const cell of WITNESS_CELLS) {
  const w: DynamicWitness = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'dynamic_witness', `witness_${cell}.json`), 'utf8'));
  describe(`dynamic evaluation, PyTorch witness, ${cell}`, () => {
    for (const rule of ['sgd', 'rms'] as const) {
      it(`float64 reference follows PyTorch's ${rule} segments`, async () => {
        const run = await runWitness(w, new ReferenceBackend('float64'), rule);
        expectAllClose(run.losses, w[rule].losses, 1e-10, 'loss');
        for (const [name, data] of run.params) expectAllClose(data, w[rule].final_params[name].data, 1e-9, name);
      });
      for (const entry of GRADCHECK_BACKENDS) {
        const test = SKIPS[`${entry.name}:cell ${cell}`] ? it.skip : it;
        test(`${entry.name} follows PyTorch's ${rule} segments in float32`, async () => {
          const backend = await entry.create();
          try {
            const run = await runWitness(w, backend, rule);
            expectAllClose(run.losses, w[rule].losses, 1e-5, 'loss');
            for (const [name, data] of run.params) expectAllClose(data, w[rule].final_params[name].data, 1e-5, name);
          } finally {
            backend.destroy();
          }
        });
      }
    }
  });
}
