// An independent witness: 3 training steps of a tiny model must match what PyTorch recorded, for
// every cell PyTorch has (nn.LSTM, nn.GRU, nn.RNN tanh/relu). test/fixtures/pytorch_witness/README.md
// says how the witness files were made (make_witness.py beside them).

import * as fs from 'fs';
import * as path from 'path';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Adam, decays } from '../../src/engine/optimizer';
import { Vocab } from '../../src/data/vocab';
import { GRADCHECK_BACKENDS, SKIPS } from '../kernels/backends';
import { Backend, CellName } from '../../src/kernels/backend';

interface Witness {
  text: string;
  vocab: string[];
  sizes: { V: number; E: number; H: number; L: number; B: number; T: number; steps: number };
  adam: { lr: number; beta1: number; beta2: number; eps: number };
  clip_norm: number;
  batches: Array<{ inputs: number[][]; targets: number[][] }>;
  initial_params: Record<string, { shape: number[]; data: number[] }>;
  losses: number[];
  grad_norms_before_clip: number[];
  first_step_grads: Record<string, { data: number[] }>;
  final_params: Record<string, { data: number[] }>;
  final_state: { h: { data: number[] }; c?: { data: number[] } }; // [L, B, H] flat
  active_clip: { clip_norm: number; losses: number[]; grad_norms_before_clip: number[]; final_params: Record<string, { data: number[] }> };
  /** The same run with torch.optim.AdamW, weight decay on the `decayed` parameters only. */
  adamw: { weight_decay: number; decayed: string[]; losses: number[]; final_params: Record<string, { data: number[] }> };
}

const WITNESSES: Array<[CellName, string]> = [
  ['lstm', 'witness.json'], ['gru', 'witness_gru.json'], ['rnn-tanh', 'witness_rnn-tanh.json'], ['rnn-relu', 'witness_rnn-relu.json'],
];

function readWitness(file: string): Witness {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'pytorch_witness', file), 'utf8'));
}

async function runSteps(witness: Witness, cell: CellName, backend: Backend, clipNorm: number, weightDecay = 0): Promise<{ model: Model; losses: number[]; norms: number[]; firstGrads: Map<string, Float64Array>; state: number[][] }> {
  const { V, E, H, L, B, T } = witness.sizes;
  const model = new Model(backend, { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L, cell, zoneout: 0 });
  for (const p of model.params) backend.upload(p.value, witness.initial_params[p.name].data);
  const adam = new Adam(backend, model.params, witness.adam.lr, { beta1: witness.adam.beta1, beta2: witness.adam.beta2, eps: witness.adam.eps, weightDecay });
  const ws = model.workspace(B, T);
  ws.resetState();
  const losses: number[] = [], norms: number[] = [];
  const firstGrads = new Map<string, Float64Array>();
  for (const batch of witness.batches) {
    backend.uploadIndices(ws.tokens, Int32Array.from(batch.inputs.flat()));
    backend.uploadIndices(ws.targets, Int32Array.from(batch.targets.flat()));
    model.forward(ws, true, true);
    model.backward(ws);
    if (firstGrads.size === 0) {
      for (const p of model.params) firstGrads.set(p.name, Float64Array.from(await backend.download(p.grad)));
    }
    adam.update({ clipNorm, clipValue: 0 });
    ws.carryState();
    losses.push((await backend.download(ws.loss))[0] / (B * T));
    norms.push(Math.sqrt((await backend.download(adam.normSq))[0]));
  }
  const state: number[][] = [];
  for (let l = 0; l < L; l++) {
    state.push(Array.from(await backend.download(ws.hiddenAt[l][0])));
    if (ws.cellAt.length) state.push(Array.from(await backend.download(ws.cellAt[l][0])));
  }
  return { model, losses, norms, firstGrads, state };
}

function expectAllClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
      throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
    }
  }
}

for (const [cell, file] of WITNESSES) {
  const witness = readWitness(file);

  describe(`PyTorch witness, ${cell} (float64 reference)`, () => {
    it('uses the same vocabulary order as Vocab.fromText, and the parameter names of PyTorch', () => {
      expect(Vocab.fromText(witness.text).chars).toEqual(witness.vocab);
      const { V, E, H, L } = witness.sizes;
      const model = new Model(new ReferenceBackend('float64'), { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L, cell, zoneout: 0 });
      expect(model.params.map((p) => p.name)).toEqual(Object.keys(witness.initial_params));
      expect(model.params.map((p) => p.shape)).toEqual(Object.values(witness.initial_params).map((t) => t.shape));
    });

    it('matches losses, gradient norms, first-step gradients, final weights and state', async () => {
      const backend = new ReferenceBackend('float64');
      const run = await runSteps(witness, cell, backend, witness.clip_norm);
      expectAllClose(run.losses, witness.losses, 1e-10, 'loss');
      expectAllClose(run.norms, witness.grad_norms_before_clip, 1e-10, 'grad norm');
      for (const [name, grad] of run.firstGrads) expectAllClose(grad, witness.first_step_grads[name].data, 1e-9, name);
      for (const p of run.model.params) {
        expectAllClose(await backend.download(p.value), witness.final_params[p.name].data, 1e-9, p.name);
      }
      const { B, H } = witness.sizes;
      const perLayer = witness.final_state.c ? 2 : 1;
      for (let l = 0; l < witness.sizes.L; l++) {
        const layer = (flat: number[]): number[] => flat.slice(l * B * H, (l + 1) * B * H);
        expectAllClose(run.state[perLayer * l], layer(witness.final_state.h.data), 1e-9, `h_l${l}`);
        if (witness.final_state.c) expectAllClose(run.state[2 * l + 1], layer(witness.final_state.c.data), 1e-9, `c_l${l}`);
      }
    });

    it('matches PyTorch when global-norm clipping is active at every step', async () => {
      const backend = new ReferenceBackend('float64');
      const clip = witness.active_clip;
      const run = await runSteps(witness, cell, backend, clip.clip_norm);
      expectAllClose(run.losses, clip.losses, 1e-10, 'loss');
      for (const p of run.model.params) {
        expectAllClose(await backend.download(p.value), clip.final_params[p.name].data, 1e-9, p.name);
      }
    });

    it('matches torch.optim.AdamW: decoupled weight decay on the matrices, not the biases', async () => {
      const backend = new ReferenceBackend('float64');
      const w = witness.adamw;
      const run = await runSteps(witness, cell, backend, witness.clip_norm, w.weight_decay);
      expect(run.model.params.filter(decays).map((p) => p.name)).toEqual(w.decayed);
      expectAllClose(run.losses, w.losses, 1e-10, 'loss');
      for (const p of run.model.params) {
        expectAllClose(await backend.download(p.value), w.final_params[p.name].data, 1e-9, p.name);
      }
    });

    for (const entry of GRADCHECK_BACKENDS) {
      const test = SKIPS[`${entry.name}:cell ${cell}`] ? it.skip : it;
      test(`${entry.name} follows the same 3 steps in float32`, async () => {
        const backend = await entry.create();
        try {
          const run = await runSteps(witness, cell, backend, witness.clip_norm);
          expectAllClose(run.losses, witness.losses, 1e-5, 'loss');
          for (const p of run.model.params) {
            expectAllClose(await backend.download(p.value), witness.final_params[p.name].data, 1e-5, p.name);
          }
        } finally {
          backend.destroy();
        }
      });
    }
  });
}
