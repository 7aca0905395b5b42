// Finite-difference gradient checks of every parameter of a tiny 2-layer model (float64 reference).
//
// Distinct sizes (B=2, T=3, E=4, H=5, V=7) so that a transposed index cannot pass; a random
// carried state so that the h_{-1}, c_{-1} paths are exercised; random targets.

import { Backend } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { LstmModel, Workspace } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { GRADCHECK_BACKENDS } from '../kernels/backends';

const B = 2, T = 3, E = 4, H = 5, V = 7, L = 2;

async function setup(backend: Backend): Promise<{ model: LstmModel; ws: Workspace; h0: Float64Array[]; c0: Float64Array[] }> {
  const rng = new Rng(42);
  const model = new LstmModel(backend, { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L });
  model.initialize(rng);
  // Perturb biases away from their init so every gate's bias gradient is generic.
  for (const p of model.params) {
    const values = Float64Array.from(await backend.download(p.value), (x) => x + (rng.uniform() - 0.5) * 0.2);
    backend.upload(p.value, values);
  }
  const ws = model.workspace(B, T);
  const tokens = Int32Array.from({ length: T * B }, () => Math.floor(rng.uniform() * V));
  const targets = Int32Array.from({ length: T * B }, () => Math.floor(rng.uniform() * V));
  backend.uploadIndices(ws.tokens, tokens);
  backend.uploadIndices(ws.targets, targets);
  const h0: Float64Array[] = [], c0: Float64Array[] = [];
  for (let l = 0; l < L; l++) {
    h0.push(Float64Array.from({ length: B * H }, () => rng.uniform() - 0.5));
    c0.push(Float64Array.from({ length: B * H }, () => rng.uniform() * 2 - 1));
  }
  return { model, ws, h0, c0 };
}

async function meanLoss(backend: Backend, model: LstmModel, ws: Workspace, h0: Float64Array[], c0: Float64Array[]): Promise<number> {
  for (let l = 0; l < L; l++) {
    backend.upload(ws.hiddenAt[l][0], h0[l]);
    backend.upload(ws.cellAt[l][0], c0[l]);
  }
  model.forward(ws, true, true);
  return (await backend.download(ws.loss))[0] / (B * T);
}

describe('finite-difference gradient check (float64 reference)', () => {
  const backend = new ReferenceBackend('float64');
  let ctx: Awaited<ReturnType<typeof setup>>;
  const analytic = new Map<string, Float64Array>();

  beforeAll(async () => {
    ctx = await setup(backend);
    await meanLoss(backend, ctx.model, ctx.ws, ctx.h0, ctx.c0);
    ctx.model.backward(ctx.ws);
    for (const p of ctx.model.params) analytic.set(p.name, Float64Array.from(await backend.download(p.grad)));
  });

  it('covers every parameter of a 2-layer model', () => {
    expect([...analytic.keys()]).toEqual([
      'embedding.weight',
      'lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0',
      'lstm.weight_ih_l1', 'lstm.weight_hh_l1', 'lstm.bias_ih_l1', 'lstm.bias_hh_l1',
      'decoder.weight', 'decoder.bias',
    ]);
  });

  const names = ['embedding.weight', 'lstm.weight_ih_l0', 'lstm.weight_hh_l0', 'lstm.bias_ih_l0', 'lstm.bias_hh_l0',
    'lstm.weight_ih_l1', 'lstm.weight_hh_l1', 'lstm.bias_ih_l1', 'lstm.bias_hh_l1', 'decoder.weight', 'decoder.bias'];
  for (const name of names) {
    it(`${name}: analytic gradient matches central differences`, async () => {
      const { model, ws, h0, c0 } = ctx;
      const p = model.params.find((q) => q.name === name)!;
      const values = Float64Array.from(await backend.download(p.value));
      const grad = analytic.get(name)!;
      const step = 1e-5;
      let worst = 0;
      let nonzero = 0;
      for (let i = 0; i < values.length; i++) {
        const saved = values[i];
        values[i] = saved + step; backend.upload(p.value, values);
        const plus = await meanLoss(backend, model, ws, h0, c0);
        values[i] = saved - step; backend.upload(p.value, values);
        const minus = await meanLoss(backend, model, ws, h0, c0);
        values[i] = saved; backend.upload(p.value, values);
        const numeric = (plus - minus) / (2 * step);
        if (Math.abs(numeric) > 1e-9) nonzero++;
        const rel = Math.abs(numeric - grad[i]) / Math.max(1e-8, Math.abs(numeric) + Math.abs(grad[i]));
        worst = Math.max(worst, rel);
      }
      expect(nonzero).toBeGreaterThan(0);
      expect(worst).toBeLessThan(1e-5);
    });
  }
});

// Every fast backend computes the same gradients as the float64 reference (float32 tolerance).
for (const entry of GRADCHECK_BACKENDS) {
  it(`${entry.name}: gradients of the tiny model match the float64 reference`, async () => {
    const ref = new ReferenceBackend('float64');
    const backend = await entry.create();
    try {
      const a = await setup(ref), b = await setup(backend);
      const lossA = await meanLoss(ref, a.model, a.ws, a.h0, a.c0);
      const lossB = await meanLoss(backend, b.model, b.ws, b.h0, b.c0);
      expect(Math.abs(lossA - lossB)).toBeLessThan(1e-4);
      a.model.backward(a.ws);
      b.model.backward(b.ws);
      for (let i = 0; i < a.model.params.length; i++) {
        const ga = await ref.download(a.model.params[i].grad);
        const gb = await backend.download(b.model.params[i].grad);
        let scale = 0;
        for (let k = 0; k < ga.length; k++) scale = Math.max(scale, Math.abs(ga[k]));
        for (let k = 0; k < ga.length; k++) {
          if (Math.abs(ga[k] - gb[k]) > 1e-4 * (scale + 1e-3)) {
            throw new Error(`${a.model.params[i].name}[${k}]: ${gb[k]} vs reference ${ga[k]}`);
          }
        }
      }
    } finally {
      backend.destroy();
    }
  });
}
