// Weight drop (DropConnect on W_hh, --weight-drop): its masks, what it leaves alone, and whole
// training steps (forward, backward, Adam; masks redrawn and the weights moved every step) on every
// backend against the float64 reference, on random shapes with odd sizes.
// The gradients themselves are checked by finite differences in test/engine/gradcheck.test.ts.

import { CELL_GATES, CellName, Backend } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model } from '../../src/engine/model';
import { Adam } from '../../src/engine/optimizer';
import { Rng } from '../../src/engine/rng';
import { trainStep } from '../../src/engine/trainer';
import { trainingMode } from '../../src/engine/workspace';
import { ModelConfig } from '../../src/config';
import { BACKENDS } from '../kernels/backends';

const CELLS = Object.keys(CELL_GATES) as CellName[];

function modelConfig(cell: CellName, H: number, layers = 2, extra: Partial<ModelConfig> = {}): ModelConfig {
  return { vocabSize: 9, embeddingSize: 5, hiddenSize: H, layers, cell, zoneout: 0, ...extra };
}

describe('the weight-drop masks', () => {
  const p = 0.3, H = 41;
  const model = new Model(new ReferenceBackend(), modelConfig('lstm', H));
  const G = CELL_GATES.lstm;

  it('hold 0 or 1/(1 − p), one [G·H, H] mask per layer, about p of them 0', async () => {
    const ws = model.workspace(3, 4, trainingMode({ dropout: 0, weightDrop: p }));
    ws.drawMasks(Rng.forStep(5, 0));
    expect(ws.weightDropMask.map((m) => [m.rows, m.cols])).toEqual([[G * H, H], [G * H, H]]);
    const masks = await Promise.all(ws.weightDropMask.map((m) => model.backend.download(m)));
    const kept = Math.fround(1 / (1 - p));
    for (const mask of masks) {
      const zeros = mask.filter((x) => x === 0).length;
      expect(mask.every((x) => x === 0 || x === kept)).toBe(true);
      // 6724 draws: a share of p ± 0.03 is over 5 standard deviations wide.
      expect(Math.abs(zeros / mask.length - p)).toBeLessThan(0.03);
    }
    expect(masks[0]).not.toEqual(masks[1]);
    ws.dispose();
  });

  it('are a function of the seed and the step alone (what exact resume needs), and change with the step', async () => {
    const draw = async (seed: number, step: number): Promise<Float64Array | Float32Array> => {
      const ws = model.workspace(3, 4, trainingMode({ dropout: 0, weightDrop: p }));
      ws.drawMasks(Rng.forStep(seed, step));
      const mask = await model.backend.download(ws.weightDropMask[1]);
      ws.dispose();
      return mask;
    };
    expect(await draw(5, 7)).toEqual(await draw(5, 7));
    expect(await draw(5, 7)).not.toEqual(await draw(5, 8));
    expect(await draw(5, 7)).not.toEqual(await draw(6, 7));
  });

  it('are drawn after dropout and zoneout, which stay the masks they were without weight drop', async () => {
    const zoned = new Model(new ReferenceBackend(), modelConfig('gru', 7, 2, { zoneout: 0.2 }));
    const masksOf = async (weightDrop: number): Promise<Array<Float64Array | Float32Array>> => {
      const ws = zoned.workspace(3, 4, trainingMode({ dropout: 0.25, weightDrop }));
      ws.drawMasks(Rng.forStep(1337, 3));
      const all = await Promise.all([...ws.dropMask, ...ws.zoneMaskH].map((m) => zoned.backend.download(m)));
      ws.dispose();
      return all;
    };
    expect(await masksOf(0.5)).toEqual(await masksOf(0));
  });

  it('are neither allocated at p = 0 nor in evaluation, and p = 0 is no weight drop at all', () => {
    expect(trainingMode({ dropout: 0.1, weightDrop: 0 })).toEqual({ training: true, dropout: 0.1 });
    expect(trainingMode({ dropout: 0.1 })).toEqual({ training: true, dropout: 0.1 });
    expect(model.workspace(2, 3, trainingMode({ dropout: 0, weightDrop: 0 })).weightDropMask).toHaveLength(0);
    const evaluation = model.workspace(2, 3, { training: false, dropout: 0, weightDrop: 0.5 });
    expect(evaluation.weightDropMask).toHaveLength(0);
    expect(evaluation.droppedWeightHh).toHaveLength(0);
  });
});

describe('a training step under weight drop', () => {
  for (const cell of CELLS) {
    it(`${cell}: forward multiplies by W_hh ⊙ mask, leaves W_hh as it was, and W_hh's gradient is 0 where the mask is`, async () => {
      const be = new ReferenceBackend('float64');
      const model = new Model(be, modelConfig(cell, 5));
      model.initialize(new Rng(3));
      const ws = model.workspace(2, 3, trainingMode({ dropout: 0, weightDrop: 0.5 }));
      ws.drawMasks(Rng.forStep(3, 0));
      const before = await Promise.all(model.layers.map((l) => be.download(l.weightHh.value)));
      be.uploadIndices(ws.tokens, Int32Array.from({ length: 6 }, (_, i) => (i * 5) % 9));
      be.uploadIndices(ws.targets, Int32Array.from({ length: 6 }, (_, i) => (i * 7 + 1) % 9));
      model.forward(ws, true, true);
      model.backward(ws);
      for (let l = 0; l < model.layers.length; l++) {
        const mask = await be.download(ws.weightDropMask[l]);
        const dropped = await be.download(ws.droppedWeightHh[l]);
        const grad = await be.download(model.layers[l].weightHh.grad);
        expect(await be.download(model.layers[l].weightHh.value)).toEqual(before[l]);
        expect(Array.from(dropped)).toEqual(Array.from(before[l], (w, i) => w * mask[i]));
        expect(mask.some((m) => m === 0)).toBe(true);
        for (let i = 0; i < mask.length; i++) if (mask[i] === 0) expect(Math.abs(grad[i])).toBe(0);
        // The input weights are not masked: their gradient has no such holes (a ReLU's dead unit would make some).
        if (cell !== 'rnn-relu') expect((await be.download(model.layers[l].weightIh.grad)).filter((g) => g === 0).length).toBe(0);
      }
    });
  }
});

/** A seeded shape with odd sizes: B past the wasm GEMM's micro-tile (its packed W_hh path) and below it. */
function randomShape(rng: Rng, cell: CellName): { config: ModelConfig; B: number; T: number; p: number } {
  const pick = (lo: number, hi: number): number => lo + Math.floor(rng.uniform() * (hi - lo + 1));
  const config = {
    vocabSize: pick(3, 13), embeddingSize: pick(1, 9), hiddenSize: pick(1, 17), layers: pick(1, 3), cell, zoneout: 0,
  };
  return { config, B: pick(1, 13), T: pick(1, 6), p: [0.1, 0.25, 0.5, 0.7][pick(0, 3)] };
}

/** Runs `steps` training steps with weight drop; returns each step's loss and every weight after them. */
async function train(be: Backend, shape: ReturnType<typeof randomShape>, steps: number, seed: number): Promise<{ losses: number[]; weights: Float64Array[] }> {
  const { config, B, T, p } = shape;
  const model = new Model(be, config);
  model.initialize(new Rng(seed));
  // A large ε keeps Adam's step smooth in the gradient, so float32 rounding cannot flip a near-zero one's sign.
  const adam = new Adam(be, model.params, 0.01, { eps: 0.01 });
  const ws = model.workspace(B, T, trainingMode({ dropout: 0, weightDrop: p }));
  const rng = new Rng(seed + 1);
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) {
    const window = {
      inputs: Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * config.vocabSize)),
      targets: Int32Array.from({ length: B * T }, () => Math.floor(rng.uniform() * config.vocabSize)),
    };
    const { loss } = await trainStep(model, adam, ws, window as never, { clipNorm: 5, clipValue: 0 }, Rng.forStep(seed, step));
    losses.push(loss);
  }
  const weights = await Promise.all(model.params.map(async (q) => Float64Array.from(await be.download(q.value))));
  ws.dispose();
  adam.dispose();
  model.dispose();
  return { losses, weights };
}

for (const entry of BACKENDS) {
  describe(`${entry.name}: training steps under weight drop equal the float64 reference`, () => {
    const rng = new Rng(entry.name.length * 101);
    for (const cell of CELLS) {
      for (let trial = 0; trial < 2; trial++) {
        const shape = randomShape(rng, cell);
        const { config: c, B, T, p } = shape;
        it(`${cell} ${c.layers}x${c.hiddenSize}, E ${c.embeddingSize}, V ${c.vocabSize}, B ${B}, T ${T}, p ${p}: 3 steps`, async () => {
          const reference = await train(new ReferenceBackend('float64'), shape, 3, 11 + trial);
          const backend = await entry.create();
          try {
            const got = await train(backend, shape, 3, 11 + trial);
            // Relative for the loss: an unbounded ReLU RNN's can reach hundreds in 3 steps (881 for rnn-relu 3x1 on
            // headless-gl, 1.2e-3 off in float32: 1.4e-6 of it, while every weight was within 4e-7).
            got.losses.forEach((loss, i) => expect(Math.abs(loss - reference.losses[i])).toBeLessThan(1e-4 * Math.max(1, Math.abs(reference.losses[i]))));
            got.weights.forEach((w, i) => w.forEach((x, k) => {
              if (Math.abs(x - reference.weights[i][k]) > 1e-4) throw new Error(`parameter ${i}[${k}]: ${x} vs reference ${reference.weights[i][k]}`);
            }));
          } finally {
            backend.destroy();
          }
        });
      }
    }
  });
}
