// 200 training steps of every cell on every backend follow the float64 reference's loss curve.
//
// The whole loop as the trainer runs it (windows, carried state, clipping, Adam) on a small model
// and a generated text: float32 rounding may drift, but the curves must agree step by step.
// The software-rendered gpu.js modes (headless-gl on llvmpipe, webgpu on lavapipe) follow the
// first 60 steps: their 200-step curves took 78 s of the LSTM's 113 s here (wasm's 0.2–1.2 s),
// and their kernels are checked one by one against the reference by conformance.test.ts.

import { Backend, CELL_GATES, CellName } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { trainStep } from '../../src/engine/trainer';
import { Rng } from '../../src/engine/rng';
import { Batcher } from '../../src/data/batcher';
import { Vocab } from '../../src/data/vocab';
import { GRADCHECK_BACKENDS, SKIPS } from '../kernels/backends';

const STEPS = 200;
/** Steps a backend's curve is followed for, where it is not STEPS. */
const SHORT_CURVES: Record<string, number> = { 'gpujs-headlessgl': 60, 'gpujs-webgpu': 60 };
const B = 4, T = 8;

function corpus(): { vocab: Vocab; ids: Int32Array } {
  const rng = new Rng(5);
  const words = ['to', 'be', 'or', 'not', 'that', 'is', 'the', 'question', 'whether', 'tis', 'nobler'];
  let text = '';
  while (text.length < 4000) text += words[Math.floor(rng.uniform() * words.length)] + (rng.uniform() < 0.15 ? '\n' : ' ');
  const vocab = Vocab.fromText(text);
  return { vocab, ids: vocab.encode(text) };
}

async function lossCurve(backend: Backend, cell: CellName, steps = STEPS): Promise<number[]> {
  const { vocab, ids } = corpus();
  const model = new Model(backend, { vocabSize: vocab.size, embeddingSize: 8, hiddenSize: 12, layers: 2, cell, zoneout: 0 });
  model.initialize(new Rng(11));
  const adam = new Adam(backend, model.params, 1e-2);
  const batcher = new Batcher(ids, B, T);
  const ws = model.workspace(B, T);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const w = step % batcher.windowsPerEpoch;
    if (w === 0) ws.resetState();
    losses.push((await trainStep(model, adam, ws, batcher.window(w), { clipNorm: 1, clipValue: 0.5 })).loss);
  }
  return losses;
}

for (const cell of Object.keys(CELL_GATES) as CellName[]) {
  describe(`${STEPS}-step loss curves, ${cell}`, () => {
    let reference: number[];
    beforeAll(async () => {
      reference = await lossCurve(new ReferenceBackend('float64'), cell);
    });

    it('the reference learns (the curve falls)', () => {
      const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
      expect(mean(reference.slice(-20))).toBeLessThan(mean(reference.slice(0, 20)) - 0.5);
    });

    for (const entry of GRADCHECK_BACKENDS) {
      const test = SKIPS[`${entry.name}:cell ${cell}`] ? it.skip : it;
      const steps = SHORT_CURVES[entry.name] ?? STEPS;
      test(`${entry.name} follows the float64 reference${steps < STEPS ? ` for ${steps} steps` : ''} within float32 drift`, async () => {
        const backend = await entry.create();
        try {
          const curve = await lossCurve(backend, cell, steps);
          expect(curve).toHaveLength(steps);
          let worst = 0;
          curve.forEach((loss, i) => { worst = Math.max(worst, Math.abs(loss - reference[i])); });
          expect(worst).toBeLessThan(2e-3);
        } finally {
          backend.destroy();
        }
      });
    }
  });
}
