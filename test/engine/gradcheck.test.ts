// Finite-difference gradient checks of every parameter of a tiny 2-layer model of every cell,
// with and without dropout, zoneout and weight drop (float64 reference). Under weight drop the
// differences move the raw W_hh, which forward masks: they check the gradient the optimizer gets.
//
// Distinct sizes (B=2, T=3, E=4, H=5, V=7) so that a transposed index cannot pass; a random
// carried state so that the h_{-1}, c_{-1} paths are exercised; random targets.

import { Backend, CELL_GATES, CellName } from '../../src/kernels/backend';
import { ReferenceBackend } from '../../src/kernels/reference/reference';
import { Model, Workspace } from '../../src/engine/model';
import { Rng } from '../../src/engine/rng';
import { GRADCHECK_BACKENDS, SKIPS } from '../kernels/backends';

const B = 2, T = 3, E = 4, H = 5, V = 7, L = 2;

/** A model variant: its cell, and the stochastic parts whose fixed masks the check runs through. */
interface Variant {
  cell: CellName;
  dropout: number;
  zoneout: number;
  /** The LSTMs' c zoneout where it differs from h's (--zoneout-cell). */
  zoneoutCell?: number;
  /** Training masks (0/1 dropout and zoneout draws) or evaluation (zoneout's expectation). */
  training: boolean;
  /** Layer 0 through the [V, G·H] input table (usesInputTable; too few rows here to be the default). */
  inputTable?: boolean;
  /** DropConnect on W_hh (training only), its mask fixed as the others are. */
  weightDrop?: number;
}

const VARIANTS: Variant[] = [
  ...(Object.keys(CELL_GATES) as CellName[]).map((cell) => ({ cell, dropout: 0, zoneout: 0, training: true })),
  { cell: 'lstm', dropout: 0.3, zoneout: 0.3, training: true },
  { cell: 'peephole', dropout: 0, zoneout: 0.4, training: true },
  { cell: 'gru', dropout: 0.3, zoneout: 0.3, training: true },
  { cell: 'rnn-tanh', dropout: 0.3, zoneout: 0.3, training: true },
  { cell: 'lstm', dropout: 0, zoneout: 0.3, training: false },
  { cell: 'lstm', dropout: 0, zoneout: 0.1, zoneoutCell: 0.5, training: true },
  { cell: 'peephole', dropout: 0, zoneout: 0.05, zoneoutCell: 0.5, training: false },
  { cell: 'gru', dropout: 0.3, zoneout: 0, training: true, inputTable: true },
  { cell: 'lstm', dropout: 0, zoneout: 0.3, training: true, inputTable: true },
  { cell: 'rnn-relu', dropout: 0, zoneout: 0, training: true, inputTable: true },
  ...(Object.keys(CELL_GATES) as CellName[]).map((cell) => ({ cell, dropout: 0, zoneout: 0, training: true, weightDrop: 0.4 })),
  { cell: 'lstm', dropout: 0.3, zoneout: 0.3, training: true, weightDrop: 0.5 },
  { cell: 'gru', dropout: 0.3, zoneout: 0.2, training: true, inputTable: true, weightDrop: 0.3 },
];

const label = (v: Variant): string =>
  `${v.cell}${v.dropout ? ` dropout ${v.dropout}` : ''}${v.zoneout || v.zoneoutCell !== undefined ? ` zoneout ${v.zoneout}` +
    `${v.zoneoutCell !== undefined ? `, c ${v.zoneoutCell}` : ''}${v.training ? '' : ' (evaluation)'}` : ''}` +
  `${v.inputTable ? ', input table' : ''}${v.weightDrop ? `, weight drop ${v.weightDrop}` : ''}`;

interface Ctx { model: Model; ws: Workspace; h0: Float64Array[]; c0: Float64Array[] }

async function setup(backend: Backend, v: Variant): Promise<Ctx> {
  const rng = new Rng(42);
  const model = new Model(backend, { vocabSize: V, embeddingSize: E, hiddenSize: H, layers: L, cell: v.cell, zoneout: v.zoneout,
    ...(v.zoneoutCell === undefined ? {} : { zoneoutCell: v.zoneoutCell }) });
  model.initialize(rng);
  // Perturb biases (and peepholes) away from their init so every gate's gradient is generic.
  for (const p of model.params) {
    const values = Float64Array.from(await backend.download(p.value), (x) => x + (rng.uniform() - 0.5) * 0.2);
    backend.upload(p.value, values);
  }
  const ws = model.workspace(B, T, {
    training: v.training, dropout: v.dropout, inputTable: v.inputTable ?? false, ...(v.weightDrop ? { weightDrop: v.weightDrop } : {}),
  });
  // The masks stay fixed while the finite differences run: the loss is then a smooth function.
  ws.drawMasks(new Rng(7));
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

async function meanLoss(backend: Backend, { model, ws, h0, c0 }: Ctx): Promise<number> {
  for (let l = 0; l < L; l++) {
    backend.upload(ws.hiddenAt[l][0], h0[l]);
    if (ws.cellAt.length) backend.upload(ws.cellAt[l][0], c0[l]);
  }
  model.forward(ws, true, true);
  return (await backend.download(ws.loss))[0] / (B * T);
}

function expectedNames(cell: CellName): string[] {
  const m = cell === 'gru' ? 'gru' : cell.startsWith('rnn') ? 'rnn' : 'lstm';
  const layer = (l: number): string[] => [
    `${m}.weight_ih_l${l}`, `${m}.weight_hh_l${l}`, `${m}.bias_ih_l${l}`, `${m}.bias_hh_l${l}`,
    ...(cell === 'peephole' ? [`lstm.weight_peep_l${l}`] : []),
  ];
  return ['embedding.weight', ...layer(0), ...layer(1), 'decoder.weight', 'decoder.bias'];
}

for (const variant of VARIANTS) {
  describe(`finite-difference gradient check, ${label(variant)} (float64 reference)`, () => {
    const backend = new ReferenceBackend('float64');
    let ctx: Ctx;
    const analytic = new Map<string, Float64Array>();

    beforeAll(async () => {
      ctx = await setup(backend, variant);
      await meanLoss(backend, ctx);
      ctx.model.backward(ctx.ws);
      for (const p of ctx.model.params) analytic.set(p.name, Float64Array.from(await backend.download(p.grad)));
    });

    it('covers every parameter of a 2-layer model, in state_dict order', () => {
      expect([...analytic.keys()]).toEqual(expectedNames(variant.cell));
    });

    for (const name of expectedNames(variant.cell)) {
      it(`${name}: analytic gradient matches central differences`, async () => {
        const p = ctx.model.params.find((q) => q.name === name)!;
        const values = Float64Array.from(await backend.download(p.value));
        const grad = analytic.get(name)!;
        const step = 1e-5;
        let worst = 0;
        let nonzero = 0;
        for (let i = 0; i < values.length; i++) {
          const saved = values[i];
          values[i] = saved + step; backend.upload(p.value, values);
          const plus = await meanLoss(backend, ctx);
          values[i] = saved - step; backend.upload(p.value, values);
          const minus = await meanLoss(backend, ctx);
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
}

// Every fast backend computes the same gradients as the float64 reference (float32 tolerance).
for (const entry of GRADCHECK_BACKENDS) {
  for (const variant of VARIANTS) {
    const test = SKIPS[`${entry.name}:cell ${variant.cell}`] ? it.skip : it;
    test(`${entry.name}: gradients of the tiny ${label(variant)} model match the float64 reference`, async () => {
      const ref = new ReferenceBackend('float64');
      const backend = await entry.create();
      try {
        const a = await setup(ref, variant), b = await setup(backend, variant);
        const lossA = await meanLoss(ref, a);
        const lossB = await meanLoss(backend, b);
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
}

// The input table is the same function: loss and every gradient agree with the direct projection.
describe('layer 0 through the input table', () => {
  it('gives the loss and gradients of the direct projection (float64)', async () => {
    const backend = new ReferenceBackend('float64');
    const variant: Variant = { cell: 'gru', dropout: 0.3, zoneout: 0.2, training: true };
    const runs: Array<{ loss: number; grads: Float64Array[] }> = [];
    for (const inputTable of [false, true]) {
      const ctx = await setup(backend, { ...variant, inputTable });
      const loss = await meanLoss(backend, ctx);
      ctx.model.backward(ctx.ws);
      runs.push({ loss, grads: await Promise.all(ctx.model.params.map(async (p) => Float64Array.from(await backend.download(p.grad)))) });
    }
    expect(runs[1].loss).toBeCloseTo(runs[0].loss, 12);
    runs[0].grads.forEach((g, i) => g.forEach((x, j) => expect(Math.abs(runs[1].grads[i][j] - x)).toBeLessThan(1e-12)));
  });
});
