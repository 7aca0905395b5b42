// An independent witness of weight drop: 3 training steps of the tiny model of the PyTorch witness
// with every layer's W_hh masked per step must match what PyTorch's functional cells recorded with
// W_hh ⊙ mask as their weight (test/fixtures/pytorch_witness/make_weight_drop_witness.py, README.md).
// The masks come from the files, uploaded in place of drawMasks' own.

import * as fs from 'fs';
import * as path from 'path';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { trainingMode } from '../../src/engine/workspace';
import { Backend, CellName } from '../../src/kernels/backend';
import { GRADCHECK_BACKENDS, SKIPS } from '../kernels/backends';

interface WeightDropWitness {
  sizes: { V: number; E: number; H: number; L: number; B: number; T: number; steps: number };
  adam: { lr: number; beta1: number; beta2: number; eps: number };
  clip_norm: number;
  weight_drop: number;
  batches: Array<{ inputs: number[][]; targets: number[][] }>;
  /** masks[step][layer]: W_hh's mask, [G·H, H] row-major. */
  masks: number[][][];
  initial_params: Record<string, { shape: number[]; data: number[] }>;
  losses: number[];
  grad_norms_before_clip: number[];
  first_step_grads: Record<string, { data: number[] }>;
  final_params: Record<string, { data: number[] }>;
}

const CELLS: CellName[] = ['lstm', 'gru', 'rnn-tanh', 'rnn-relu'];

function readWitness(cell: CellName): WeightDropWitness {
  return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'fixtures', 'pytorch_witness', `weight_drop_${cell}.json`), 'utf8'));
}

async function runSteps(witness: WeightDropWitness, cell: CellName, backend: Backend): Promise<{ model: Model; losses: number[]; norms: number[]; firstGrads: Map<string, Float64Array> }> {
  const { V, E, H, L, B, T } = witness.sizes;
  const model = new Model(backend, { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L, cell, zoneout: 0 });
  for (const p of model.params) backend.upload(p.value, witness.initial_params[p.name].data);
  const { lr, beta1, beta2, eps } = witness.adam;
  const adam = new Adam(backend, model.params, lr, { beta1, beta2, eps });
  const ws = model.workspace(B, T, trainingMode({ dropout: 0, weightDrop: witness.weight_drop }));
  ws.resetState();
  const losses: number[] = [], norms: number[] = [];
  const firstGrads = new Map<string, Float64Array>();
  for (const [step, batch] of witness.batches.entries()) {
    witness.masks[step].forEach((mask, l) => backend.upload(ws.weightDropMask[l], mask));
    backend.uploadIndices(ws.tokens, Int32Array.from(batch.inputs.flat()));
    backend.uploadIndices(ws.targets, Int32Array.from(batch.targets.flat()));
    model.forward(ws, true, true);
    model.backward(ws);
    if (firstGrads.size === 0) {
      for (const p of model.params) firstGrads.set(p.name, Float64Array.from(await backend.download(p.grad)));
    }
    adam.update({ clipNorm: witness.clip_norm, clipValue: 0 });
    ws.carryState();
    losses.push((await backend.download(ws.loss))[0] / (B * T));
    norms.push(Math.sqrt((await backend.download(adam.normSq))[0]));
  }
  return { model, losses, norms, firstGrads };
}

function expectAllClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (!(Math.abs(got[i] - want[i]) <= tol * (1 + Math.abs(want[i])))) {
      throw new Error(`${what}[${i}]: got ${got[i]}, PyTorch ${want[i]}`);
    }
  }
}

for (const cell of CELLS) {
  const witness = readWitness(cell);

  describe(`PyTorch witness of weight drop, ${cell}`, () => {
    it('holds masks of 0 and 1/(1 − p), some of each, one per layer per step', () => {
      const kept = 1 / (1 - witness.weight_drop);
      expect(witness.masks).toHaveLength(witness.sizes.steps);
      for (const step of witness.masks) {
        expect(step).toHaveLength(witness.sizes.L);
        for (const mask of step) {
          expect(mask.every((m) => m === 0 || m === kept)).toBe(true);
          expect(mask.some((m) => m === 0) && mask.some((m) => m === kept)).toBe(true);
        }
      }
    });

    it('matches losses, gradient norms, first-step gradients of the raw weights, and final weights (float64 reference)', async () => {
      const backend = new ReferenceBackend('float64');
      const run = await runSteps(witness, cell, backend);
      expectAllClose(run.losses, witness.losses, 1e-10, 'loss');
      expectAllClose(run.norms, witness.grad_norms_before_clip, 1e-10, 'grad norm');
      for (const [name, grad] of run.firstGrads) expectAllClose(grad, witness.first_step_grads[name].data, 1e-9, name);
      for (const p of run.model.params) {
        expectAllClose(await backend.download(p.value), witness.final_params[p.name].data, 1e-9, p.name);
      }
    });

    for (const entry of GRADCHECK_BACKENDS) {
      const test = SKIPS[`${entry.name}:cell ${cell}`] ? it.skip : it;
      test(`${entry.name} follows the same 3 steps in float32`, async () => {
        const backend = await entry.create();
        try {
          const run = await runSteps(witness, cell, backend);
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
